"""The store's writer process: the guard's routine writes to state.db, made by a process of its own.

Why a process: a thread of the guard's process that writes (SQLite's Python wrapper, the rows,
the redaction) holds the interpreter's lock between its SQLite calls; on a busy machine the OS
preempts it there, and the event loop, woken by the next hub event, waits for that thread's next
time slice (~4 ms) before it can decide a breach and send the close. Measured with the reaction
benchmark under two CPU-bound competitors (README, Performance): with no writing thread at all the
guard's p99 was 1.4× the raw SDK's, with it about 2×. A process has its own interpreter: when the
OS preempts it, the guard's loop does not wait.

What it writes: only calls of ``Store``'s own public methods, pickled on the event loop as
``(method, args, kwargs)`` with the moment of the batch (the methods stamp their rows with their
store's clock; the writer's clock is set to that moment for each message). Everything else the
guardian hands its store thread (reads whose answers it awaits, lock saves it awaits, callbacks)
still runs in the guard's process, after the writer has confirmed everything sent before it
(``sync``), so the order of the writes is the order they were asked for.

The protocol on the child's stdin and stdout: frames of a 4-byte big-endian length and a pickle.
Parent → child: ``("open", path, secrets)`` first, then ``("ops", seq, moment, [op, ...])``,
``("redact", seq, secrets)``, ``("sync", seq)``, ``("close", seq)``; the parent's end of that pipe
does not block, so the event loop posts a batch's writes itself (a thread woken for them would hold
the interpreter's lock again). Child → parent: ``("ready",)`` once open, then only the answer to a
sync, ``("ack", seq, errors)``, once everything before it is committed (``errors``: the texts of
the ops that failed since the last sync; the others were written). Answering only syncs, the
writer never blocks on its own output while the parent is still writing to it. Secrets travel
only on the pipe, never on the command line or in the environment (a variable that holds one is
left out of the writer's). Both sides are one program on one machine: the pickles are trusted.

``WriterProcess`` is the parent's side: ``post`` for the event loop, the blocking calls for the
store's thread (the interpreter's lock released while they block). When the writer dies it says
so (``WriterGone``) with the ops posted since the last confirmed sync, so its caller writes them itself: nothing is lost
(ops the writer committed after that sync are written twice: duplicate audit rows, the same
upserts again).
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any, NoReturn

FRAME = struct.Struct("!I")
#: The parent asks the writer to confirm what it has written (a sync) at least every this many
#: messages and at least this often: failures reach the guard's log, and a dead writer is noticed
#: with a bounded number of writes to make again.
SYNC_EVERY = 64
SYNC_EVERY_S = 1.0
#: How long the writer may take to start (import, open state.db), to answer a sync, and to close.
START_TIMEOUT_S = 20.0
SYNC_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 10.0
#: A sync's answer carries at most this many failure texts, each at most this long.
MAX_ERRORS = 20
MAX_ERROR_CHARS = 500



class WriterGone(Exception):
    """The writer process is not there (it did not start, or it died); ``unconfirmed`` are the
    pickled ops it was sent and had not confirmed, oldest first."""

    def __init__(self, why: str, unconfirmed: Sequence[bytes] = ()) -> None:
        super().__init__(why)
        self.unconfirmed = list(unconfirmed)


def command() -> list[str]:
    """How to start the writer: the frozen app's own executable, or this Python with the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "store-writer"]
    return [sys.executable, "-m", "deskguard", "store-writer"]


def encode_op(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """One call of a public ``Store`` method, as the writer takes it (raises if it cannot be pickled)."""
    return pickle.dumps((name, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)


def write_frame(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(FRAME.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next message; None at the end of the stream."""
    head = _read_exactly(stream, FRAME.size)
    if head is None:
        return None
    body = _read_exactly(stream, FRAME.unpack(head)[0])
    if body is None:
        return None
    return pickle.loads(body)


def _read_exactly(stream: IO[bytes], n: int) -> bytes | None:
    parts: list[bytes] = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


class WriterProcess:
    """The parent's side. ``start``, ``sync``, ``flush`` and ``close`` block (the store's thread
    calls them); ``post`` never blocks and may be called from the event loop: what the pipe cannot
    take at once waits in a backlog that ``flush`` (or ``sync``) writes out."""

    def __init__(self, path: str | os.PathLike[str], secrets: Sequence[str] = (),
                 argv: Sequence[str] | None = None) -> None:
        self.path = os.fspath(path)
        self._secrets = tuple(secrets)
        self._argv = list(argv) if argv is not None else command()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # the sequence, the unconfirmed, the backlog, the pipe's writing end
        self._seq = 0
        self._unconfirmed: list[bytes] = []  # the ops posted since the last confirmed sync
        self._backlog = bytearray()
        self._broken = False
        self._since_sync = 0
        self._synced_at = time.monotonic()

    @property
    def running(self) -> bool:
        return self._proc is not None and not self._broken and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def backlogged(self) -> bool:
        """Part of what was posted waits for the pipe (``flush`` must run)."""
        return bool(self._backlog)

    def start(self) -> None:
        """Start the writer and wait until it has opened state.db; ``WriterGone`` if it cannot."""
        # Its environment without any variable that holds a secret (PROJECT_X_API_KEY).
        env = {k: v for k, v in os.environ.items() if not any(secret in v for secret in self._secrets)}
        try:
            self._proc = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          close_fds=True, env=env)
        except OSError as exc:
            raise WriterGone(f"the store's writer process did not start: {exc}") from exc
        assert self._proc.stdin is not None
        try:
            write_frame(self._proc.stdin, ("open", self.path, self._secrets))
        except OSError:
            pass  # it died at once: no answer below
        answer = self._receive_within(START_TIMEOUT_S)
        if answer != ("ready",):
            self._kill()
            raise WriterGone(f"the store's writer process did not open {os.path.basename(self.path)}")
        os.set_blocking(self._proc.stdin.fileno(), False)  # post() must never block the event loop

    def post(self, ops: list[bytes], moment: datetime, secrets: Sequence[str] = ()) -> bool:
        """Send ops to be written, after any secret it does not have yet; never blocks. False when
        the writer has gone: then nothing was taken (the caller writes them). What the pipe could
        not take waits in the backlog (``backlogged``)."""
        with self._lock:
            if self._broken:
                return False
            new = tuple(s for s in secrets if s not in self._secrets)
            if new:
                self._secrets += new
                self._stamp(("redact", new))
            self._stamp(("ops", moment, ops))
            self._unconfirmed.extend(ops)
            self._push()
            return True

    @property
    def due(self) -> bool:
        """A ``sync`` is due: every ``SYNC_EVERY`` messages, or ``SYNC_EVERY_S`` after the last,
        so failures reach the log and a dead writer is noticed."""
        return self._since_sync >= SYNC_EVERY or (
            self._since_sync > 0 and time.monotonic() - self._synced_at >= SYNC_EVERY_S)

    def flush(self) -> None:
        """Write the backlog out (blocking); ``WriterGone`` if the writer has gone. The writer
        never waits on its own output meanwhile: it answers only a sync, which the caller reads."""
        while True:
            with self._lock:
                if self._push():
                    return
                if self._broken:
                    break
            if self._proc is None or self._proc.poll() is not None:
                break
            time.sleep(0.001)
        self._gone("the store's writer process stopped")

    def sync(self) -> list[str]:
        """Wait until the writer has committed everything posted before; the texts of the ops that
        failed since the last sync."""
        with self._lock:
            if self._broken:
                pass  # flush() below says so, with what was not confirmed
            else:
                self._stamp(("sync",))
            target, confirmed = self._seq, len(self._unconfirmed)
        self.flush()  # the sync message too, whole: the writer can answer it
        answer = self._receive_within(SYNC_TIMEOUT_S)
        if not (isinstance(answer, tuple) and answer[:2] == ("ack", target)):
            self._gone("the store's writer process stopped")
        with self._lock:
            del self._unconfirmed[:confirmed]
            self._since_sync = max(0, self._seq - target)
            self._synced_at = time.monotonic()
        return list(answer[2])

    def close(self) -> list[str]:
        """Let the writer commit what it was sent and end; the failures it reported."""
        if self._proc is None:
            return []
        try:
            errors = self.sync()
            with self._lock:
                self._stamp(("close",))
            self.flush()
            self._proc.wait(CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._kill()
            raise WriterGone("the store's writer process did not end") from None
        finally:
            self._close_pipes()
        return errors

    def kill(self) -> None:
        """End it at once (tests; a writer that stopped answering)."""
        self._kill()

    # ---- plumbing ----------------------------------------------------------------------------

    def _stamp(self, message: tuple[Any, ...]) -> None:
        """Number a message and add it to the backlog (under the lock)."""
        self._seq += 1
        data = pickle.dumps((message[0], self._seq, *message[1:]), protocol=pickle.HIGHEST_PROTOCOL)
        self._backlog += FRAME.pack(len(data))
        self._backlog += data
        self._since_sync += 1

    def _push(self) -> bool:
        """Write what the pipe takes now (under the lock); True when nothing is left."""
        stream = None if self._proc is None else self._proc.stdin
        if self._broken or stream is None:
            self._broken = True
            return False
        while self._backlog:
            try:
                n = os.write(stream.fileno(), self._backlog)
            except BlockingIOError:
                return False
            except (OSError, ValueError):
                self._broken = True
                return False
            del self._backlog[:n]
        return True

    def _receive_within(self, seconds: float) -> Any:
        """The writer's next answer; None if it ends or does not answer in time (it is ended)."""
        stream = None if self._proc is None else self._proc.stdout
        if stream is None or self._proc is None:
            return None
        timer = threading.Timer(seconds, self._proc.kill)  # a writer that hangs is ended
        timer.start()
        try:
            return read_frame(stream)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):
            return None
        finally:
            timer.cancel()

    def _gone(self, why: str) -> NoReturn:
        with self._lock:
            unconfirmed = list(self._unconfirmed)
            self._unconfirmed.clear()
            self._backlog.clear()
            self._broken = True
        self._kill()
        raise WriterGone(why, unconfirmed)

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
                try:
                    self._proc.wait(CLOSE_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    pass
            self._close_pipes()

    def _close_pipes(self) -> None:
        if self._proc is not None:
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass


# ---- the child ---------------------------------------------------------------------------------


class _Moment:
    """The writer store's clock: the moment of the message being written."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def now(self) -> datetime:
        assert self.at is not None
        return self.at


def serve(inp: IO[bytes], out: IO[bytes]) -> int:
    """The writer's loop (``deskguard store-writer``): open, then write what arrives until "close"
    or the end of the input (the guard has gone). Exit code 0, or 2 when it could not open."""
    from .database import Store

    first = read_frame(inp)
    if not (isinstance(first, tuple) and first[:1] == ("open",)):
        return 2
    _, path, secrets = first
    clock = _Moment()
    try:
        store = Store(path, redact=secrets, clock=clock, check_integrity=False)
    except Exception as exc:
        print(f"deskguard store-writer: cannot open {path}: {exc}", file=sys.stderr)
        return 2
    errors: list[str] = []  # since the last sync
    try:
        write_frame(out, ("ready",))
        while True:
            message = read_frame(inp)
            if message is None:
                return 0
            kind, seq = message[0], message[1]
            if kind == "ops":
                clock.at = message[2]
                errors += _write_all(store, message[3])
            elif kind == "redact":
                for secret in message[2]:
                    store.add_redaction(secret)
            elif kind == "sync":
                shown = [text[:MAX_ERROR_CHARS] for text in errors[:MAX_ERRORS]]
                if len(errors) > MAX_ERRORS:
                    shown.append(f"... and {len(errors) - MAX_ERRORS} more failed store write(s)")
                write_frame(out, ("ack", seq, shown))
                errors = []
            elif kind == "close":
                return 0
    finally:
        store.close()


#: Store methods that commit durably (fsync'd): written alone, never inside a message's transaction.
DURABLE = frozenset({"save_lock"})


def _write_all(store: Any, ops: list[bytes]) -> list[str]:
    """Write a message's ops, in one transaction (each op a savepoint: one that fails is undone
    alone); durable ones on their own. What went wrong, one text per failed op. Should SQLite
    abort the whole transaction itself (a full disk, an I/O error), the ops are written again one
    by one, each in its own transaction, so none is reported written that is not."""
    errors: list[str] = []
    calls = [_decode(op) for op in ops]
    i = 0
    while i < len(calls):
        if calls[i][0] in DURABLE:
            _run(store, calls[i], errors)
            i += 1
            continue
        j = i
        while j < len(calls) and calls[j][0] not in DURABLE:
            j += 1
        chunk, failed = calls[i:j], list[str]()
        try:
            with store.batch():
                for call in chunk:
                    _run(store, call, failed)
                    if not store.in_transaction:
                        raise _Aborted
        except Exception:  # the transaction is gone (or its commit failed): nothing of it was written
            failed = list[str]()
            for call in chunk:
                _run(store, call, failed)
        errors += failed
        i = j
    return errors


class _Aborted(Exception):
    """SQLite rolled the whole batch back by itself."""


def _decode(op: bytes) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    try:
        name, args, kwargs = pickle.loads(op)
    except Exception as exc:
        return ("", (f"undecodable: {type(exc).__name__}",), {})
    return name, args, kwargs


def _run(store: Any, call: tuple[str, tuple[Any, ...], dict[str, Any]], errors: list[str]) -> None:
    """Write one op; what went wrong goes to ``errors`` (for the guard's log)."""
    name, args, kwargs = call
    if not isinstance(name, str) or not name or name.startswith("_") or not callable(getattr(store, name, None)):
        errors.append(f"not a store method: {name!r} {args[:1] if not name else ''}")
        return
    try:
        getattr(store, name)(*args, **kwargs)
    except Exception as exc:
        errors.append(f"store write {name} failed: {type(exc).__name__}: {exc}")


def main() -> int:
    """``deskguard store-writer``: the protocol on stdin and stdout; anything printed goes to stderr.

    It ignores Ctrl-C and SIGTERM: a terminal's Ctrl-C and systemd's stop reach every process of
    the group, and the writer must outlive its guard's own shutdown (which closes it after the last
    writes). It ends when the guard says "close" or its input ends (the guard has gone)."""
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            try:
                signal.signal(getattr(signal, name), signal.SIG_IGN)
            except (OSError, ValueError):
                pass
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return serve(sys.stdin.buffer, out)
