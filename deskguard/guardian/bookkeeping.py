"""The store's thread, fed in batches that wait until the loop's urgent work is done.

Every store call of the guardian (fire-and-forget writes and awaited calls alike) goes through one
``StoreQueue``, in order. Nothing is handed to the thread at once: calls collect on the event loop
and leave as one batch ``FLUSH_DELAY_S`` after the first of them, later while the guardian says it
is busy (events waiting to be decided, an enforcement request on its way out) but never more than
``MAX_DEFER_S`` after the first. Why: a write handed over at once wakes the store thread, which
then competes with the event loop for the GIL (for up to the interpreter's switch interval at a
time, longer when the OS preempts it on a busy machine) exactly while the next hub event — often
the breach itself, right after the fill's trade event — is being decided and its close request
sent. One batch also wakes the thread once instead of once per write.

Within a batch the thread lets go of the GIL for ``WRITE_GAP_S`` between two writes. A write
releases the GIL inside each SQLite call and takes it back a few microseconds later, usually before
the event loop's thread, woken by a hub event meanwhile, has been scheduled to take it; without a
pause the loop could wait for the rest of the batch (measured: the slowest 3 % of breaches were
1.3 ms late in their push → callback step, nearly all of them during a batch). With it, a hub event
that arrives during a batch waits for one write at most. And while the guardian says it is busy
(the hub event has been taken in, its close is on its way out), the thread writes nothing more
but looks again every ``BUSY_POLL_S`` — for at most ``MAX_DEFER_S`` in all per batch — so the GIL
stays with the loop until the request has left (each step of the loop frees the GIL a moment,
which a writing thread would take).

Some writes only need their latest value: ``submit_latest`` keeps one place in the batch per key
and computes the call (on the loop) only when the batch leaves, so a write asked for at every
verdict — the rules' memory, whose JSON grows with the day's entries — is worked out once per batch.

With a ``writer`` (a state.db on disk: the app, headless, the benchmarks), the writes that are calls
of the store's own methods are not made in this process at all but by the store's writer process
(``store/writer.py``): as the batch leaves, the loop pickles them and posts them to its pipe
without blocking, and the thread is not woken. A thread that holds the interpreter's lock for
SQLite's Python wrapper — or merely wakes to pass bytes on — is what made the loop wait on a busy
machine (measured in the README). The thread still runs everything else (awaited calls, lock
saves, callbacks), after the writer has confirmed what was sent before it; while it has such work
queued, the store's writes go through it too, so the order stays the order they were asked for.
It also reads the writer's confirmations every ``SYNC_EVERY`` messages. If the writer cannot
start or dies, the thread writes what it had not confirmed and every later write itself, and says
so in the log.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from ..store.writer import WriterGone, WriterProcess, encode_op

log = logging.getLogger("deskguard.guardian")

#: A store call as ``submit_latest``'s producer gives it: (function, args, kwargs).
Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

#: A batch leaves this long after its first call (bookkeeping waits; the close does not). Short, so
#: a breach's writes are posted well before the next hub event is likely: at 5 ms, in the reaction
#: benchmark the batch's post (its pickling, and the writer process woken) met 25 of the slowest 30
#: breaches' pushes (``python -m deskguard.bench.reaction_trace``); at 1 ms, 1 of them.
FLUSH_DELAY_S = 0.001
#: ... unless the guardian is busy, but never longer than this after its first call.
MAX_DEFER_S = 0.05
#: Between two writes of a batch, the store's thread sleeps this long (the GIL is the loop's).
WRITE_GAP_S = 0.0001
#: While the guardian is busy, the store's thread looks again this often (between two writes).
BUSY_POLL_S = 0.0005


class StoreQueue:
    """``busy`` is asked on the loop and, between two writes, on the store's thread: it must only
    read (an ``asyncio.Queue``'s ``empty()``, a time), never change anything."""

    def __init__(self, busy: Callable[[], bool] = lambda: False, delay: float = FLUSH_DELAY_S,
                 max_defer: float = MAX_DEFER_S, gap: float = WRITE_GAP_S,
                 sleep: Callable[[float], None] = time.sleep, store: Any = None,
                 writer: Callable[[], WriterProcess] | None = None) -> None:
        """``writer`` makes the store's writer process (started with the first batch, on the
        thread) for the writes that are calls of ``store``'s public methods."""
        self.busy = busy
        self.store = store
        self._make_writer = writer if store is not None else None
        self._writer: WriterProcess | None = None  # the thread's; None until started, or after it failed
        self.delay = delay
        self.max_defer = max_defer
        self.gap = gap
        self._sleep = sleep  # on the store's thread
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deskguard-store")
        self._pending: list[Callable[[], None] | _Latest] = []
        self._latest: dict[Hashable, _Latest] = {}
        self._first_at = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._closed = False
        self.batches = 0  # handed to the thread or posted to the writer (for tests and benchmarks)
        self._handed = 0  # tasks handed to the thread (the loop's counter) ...
        self._done = 0  # ... and done by it (the thread's)
        self._syncing = False  # the thread is reading the writer's confirmations

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> None:
        """Fire-and-forget, in order, off the event loop; a failure is logged loudly."""
        self._add(_Write(fn, args, kwargs), getattr(fn, "__name__", fn))

    def submit_latest(self, key: Hashable, produce: Callable[[], list[Call]]) -> None:
        """Fire-and-forget, coalesced: of everything submitted under ``key`` before the batch
        leaves, one set of calls runs, in the place of the first; ``produce()`` (run on the loop as
        the batch leaves) gives them as ``(fn, args, kwargs)``, none when there is nothing to write."""
        if key in self._latest:
            return
        latest = _Latest(produce)
        self._latest[key] = latest
        self._add(latest, key)

    async def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run on the store's thread, in order after what was submitted before; its result (or error)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if not future.done():
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

        def run() -> None:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the caller, as run_in_executor does
                ok, value = False, exc
            else:
                ok, value = True, result
            try:
                loop.call_soon_threadsafe(settle, ok, value)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

        self._add(run, getattr(fn, "__name__", fn))
        return await future

    def _add(self, run: Callable[[], None] | _Latest, name: object) -> None:
        if self._closed:
            log.warning("store closed; dropped %s", name)
            return
        if not self._pending:
            self._first_at = time.monotonic()
        self._pending.append(run)
        if self._handle is None:
            try:
                self._handle = asyncio.get_running_loop().call_later(self.delay, self._due)
            except RuntimeError:  # no loop (a synchronous caller): hand it over at once
                self.flush()

    def _due(self) -> None:
        self._handle = None
        if self._pending and self.busy() and time.monotonic() - self._first_at < self.max_defer:
            self._handle = asyncio.get_running_loop().call_later(self.delay, self._due)
            return
        self.flush()

    def flush(self) -> None:
        """Hand everything waiting to the store's thread now, as one batch."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self._pending:
            return
        pending, self._pending, self._latest = self._pending, [], {}
        resolved: list[Callable[[], None]] = []
        for item in pending:
            if isinstance(item, _Latest):
                resolved.extend(item.resolve())
            else:
                resolved.append(item)
        batch = self._for_writer(resolved) if self._make_writer is not None else resolved
        if self._post(batch):
            self.batches += 1
            return

        gap, sleep, busy, max_defer = self.gap, self._sleep, self.busy, self.max_defer

        def run_batch() -> None:
            give_up_waiting = time.monotonic() + max_defer
            for i, run in enumerate(batch):
                if i:
                    if gap > 0:
                        sleep(gap)  # the GIL is free for the loop between two writes
                    while busy() and time.monotonic() < give_up_waiting:
                        sleep(BUSY_POLL_S)  # a close is on its way out: the GIL stays the loop's
                if isinstance(run, _ToWriter):
                    self._send(run)
                else:
                    self._sync_writer()  # what was sent before it is committed first
                    run()

        self._hand_over(run_batch, len(batch))

    def _hand_over(self, task: Callable[[], None], calls: int) -> None:
        """Give the store's thread a task (``_handed == _done`` once it has done them all)."""

        def counted() -> None:
            try:
                task()
            finally:
                self._done += 1  # the thread's own counter (the loop only reads it)

        try:
            self._executor.submit(counted)
        except RuntimeError:  # shut down: the guard is stopping
            log.warning("store closed; dropped %d call(s)", calls)
            return
        self._handed += 1
        self.batches += 1

    def _post(self, batch: list[Callable[[], None]]) -> bool:
        """On the loop: a batch of the store's own writes goes to the writer process from here,
        when it runs and the thread has nothing left that must be written before them. The thread
        writes out what the pipe could not take at once, and asks for the writer's confirmation
        every ``SYNC_EVERY`` messages; neither is a task the next batch must wait for."""
        writer = self._writer
        if (writer is None or not writer.running or self._handed != self._done
                or len(batch) != 1 or not isinstance(batch[0], _ToWriter)):
            return False
        message = batch[0]
        if not writer.post(message.ops, message.moment, self.store.secrets):
            return False  # it has gone: the thread writes this batch (and what it had not confirmed)
        if writer.backlogged:
            self._in_background(lambda: self._flush_writer(writer))
        if writer.due and not self._syncing:
            self._syncing = True
            self._in_background(lambda: self._sync_writer(writer), lambda: setattr(self, "_syncing", False))
        return True

    def _in_background(self, task: Callable[[], None], after: Callable[[], None] = lambda: None) -> None:
        def run() -> None:
            try:
                task()
            finally:
                after()

        try:
            self._executor.submit(run)
        except RuntimeError:  # shut down: shutdown() closes the writer, which flushes and syncs
            after()

    async def drain(self) -> None:
        """Flush, and wait until everything handed over is done (and committed by the writer)."""
        self.flush()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._sync_writer)

    def shutdown(self) -> None:
        self.flush()
        self._closed = True
        try:
            self._executor.submit(self._close_writer)
        except RuntimeError:
            pass
        self._executor.shutdown(wait=True)

    @property
    def writer_pid(self) -> int | None:
        """The writer process's pid while it runs (tests, benchmarks)."""
        writer = self._writer
        return writer.pid if writer is not None and writer.running else None

    # ---- the writer process (the thread's side, except _for_writer) ----------------------------

    def _for_writer(self, batch: list[Callable[[], None]]) -> list[Callable[[], None]]:
        """On the loop, as the batch leaves: runs of the store's own writes become one message."""
        out: list[Callable[[], None]] = []
        moment = self.store.now()
        for run in batch:
            op = run.op(self.store) if isinstance(run, _Write) else None
            if op is None or not isinstance(run, _Write):
                out.append(run)
            elif out and isinstance(out[-1], _ToWriter):
                out[-1].add(op, run)
            else:
                out.append(_ToWriter(moment, op, run))
        return out

    def _send(self, message: _ToWriter) -> None:
        """On the thread: post a batch's writes to the writer; write them here if it has gone."""
        writer = self._started_writer()
        if writer is None or not writer.post(message.ops, message.moment, self.store.secrets):
            if writer is not None:
                self._sync_writer(writer)  # it has gone: what it had not confirmed is written first
            message()
            return
        if writer.backlogged:
            self._flush_writer(writer)
        if writer.due:
            self._sync_writer(writer)

    def _flush_writer(self, writer: WriterProcess) -> None:
        self._ask(writer, writer.flush)

    def _sync_writer(self, writer: WriterProcess | None = None) -> None:
        """Wait until the writer (this one, or the current one) has committed what it was sent."""
        writer = writer or self._writer
        if writer is not None:
            self._ask(writer, writer.sync)

    def _close_writer(self) -> None:
        writer = self._writer
        if writer is not None:
            self._ask(writer, writer.close)
        self._writer = None
        self._make_writer = None

    def _ask(self, writer: WriterProcess, step: Callable[[], list[str] | None]) -> None:
        """One blocking step with the writer: its failures logged; if it has gone, what it had not
        confirmed is written here."""
        try:
            _log_errors(step() or [])
        except WriterGone as gone:
            self._writer_gone(gone, writer)

    def _started_writer(self) -> WriterProcess | None:
        if self._writer is None and self._make_writer is not None:
            writer = self._make_writer()
            try:
                writer.start()
            except WriterGone as gone:
                self._writer_gone(gone, writer)
                return None
            self._writer = writer
        return self._writer

    def _writer_gone(self, gone: WriterGone, writer: WriterProcess) -> None:
        """Write here what the writer had not confirmed, and everything from now on."""
        if self._make_writer is not None:  # the first time only
            log.error("%s: the guard writes state.db itself from now on", gone)
        if gone.unconfirmed:
            log.warning("writing %d write(s) the writer process had not confirmed", len(gone.unconfirmed))
        if self._writer is writer:
            self._writer = None
        self._make_writer = None
        for op in gone.unconfirmed:
            name, args, kwargs = pickle.loads(op)
            _Write(getattr(self.store, name), args, kwargs)()


class _Latest:
    """A coalesced write's place in the batch (``StoreQueue.submit_latest``)."""

    __slots__ = ("produce",)

    def __init__(self, produce: Callable[[], list[Call]]) -> None:
        self.produce = produce

    def resolve(self) -> list[_Write]:
        try:
            calls = self.produce()
        except Exception:
            log.exception("store write: working out a coalesced write failed")
            return []
        return [_Write(fn, args, kwargs) for fn, args, kwargs in calls]


class _Write:
    """A fire-and-forget store write: a failure is logged loudly and stops nothing."""

    __slots__ = ("args", "fn", "kwargs")

    def __init__(self, fn: Callable, args: tuple, kwargs: dict[str, Any]) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __call__(self) -> None:
        try:
            self.fn(*self.args, **self.kwargs)
        except Exception:
            log.exception("store write %s failed", getattr(self.fn, "__name__", self.fn))

    def op(self, store: Any) -> bytes | None:
        """This write for the writer process, when it is a call of one of ``store``'s own public
        methods that pickles; else None (it runs on the thread)."""
        name = getattr(self.fn, "__name__", "")
        if getattr(self.fn, "__self__", None) is not store or name.startswith("_"):
            return None
        try:
            return encode_op(name, self.args, self.kwargs)
        except Exception:  # noqa: BLE001 - anything that does not pickle is written on the thread
            return None


class _ToWriter:
    """Consecutive writes of one batch, pickled for the writer process; called, the thread writes
    them itself (no writer)."""

    __slots__ = ("moment", "ops", "writes")

    def __init__(self, moment: datetime, op: bytes, write: _Write) -> None:
        self.moment = moment
        self.ops = [op]
        self.writes = [write]

    def add(self, op: bytes, write: _Write) -> None:
        self.ops.append(op)
        self.writes.append(write)

    def __call__(self) -> None:
        for write in self.writes:
            write()


def _log_errors(errors: list[str]) -> None:
    for text in errors:
        log.error("%s (in the store's writer process)", text)
