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
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger("deskguard.guardian")

#: A batch leaves this long after its first call (bookkeeping waits; the close does not).
FLUSH_DELAY_S = 0.005
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
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.busy = busy
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
        self.batches = 0  # handed to the thread (for tests and benchmarks)

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> None:
        """Fire-and-forget, in order, off the event loop; a failure is logged loudly."""
        self._add(_write(fn, args, kwargs), getattr(fn, "__name__", fn))

    def submit_latest(self, key: Hashable, produce: Callable[[], tuple[Callable, tuple] | None]) -> None:
        """Fire-and-forget, coalesced: of everything submitted under ``key`` before the batch
        leaves, one call runs, in the place of the first; ``produce()`` (run on the loop as the
        batch leaves) gives it as ``(fn, args)``, or None when there is nothing to write."""
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
        batch = [run for run in (item.resolve() if isinstance(item, _Latest) else item for item in pending)
                 if run is not None]

        gap, sleep, busy, max_defer = self.gap, self._sleep, self.busy, self.max_defer

        def run_batch() -> None:
            give_up_waiting = time.monotonic() + max_defer
            for i, run in enumerate(batch):
                if i:
                    if gap > 0:
                        sleep(gap)  # the GIL is free for the loop between two writes
                    while busy() and time.monotonic() < give_up_waiting:
                        sleep(BUSY_POLL_S)  # a close is on its way out: the GIL stays the loop's
                run()

        try:
            self._executor.submit(run_batch)
            self.batches += 1
        except RuntimeError:  # shut down: the guard is stopping
            log.warning("store closed; dropped %d call(s)", len(batch))

    async def drain(self) -> None:
        """Flush, and wait until the thread has done everything handed to it."""
        self.flush()
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    def shutdown(self) -> None:
        self.flush()
        self._closed = True
        self._executor.shutdown(wait=True)


class _Latest:
    """A coalesced write's place in the batch (``StoreQueue.submit_latest``)."""

    __slots__ = ("produce",)

    def __init__(self, produce: Callable[[], tuple[Callable, tuple] | None]) -> None:
        self.produce = produce

    def resolve(self) -> Callable[[], None] | None:
        try:
            call = self.produce()
        except Exception:
            log.exception("store write: working out a coalesced write failed")
            return None
        if call is None:
            return None
        fn, args = call
        return _write(fn, args, {})


def _write(fn: Callable, args: tuple, kwargs: dict[str, Any]) -> Callable[[], None]:
    """A fire-and-forget store write for the thread: a failure is logged loudly and stops nothing."""

    def run() -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            log.exception("store write %s failed", getattr(fn, "__name__", fn))

    return run
