"""One guard per home: the single-instance lock on ``deskguard.lock`` next to ``state.db``.

Two guards on one ``DESKGUARD_HOME`` would both enforce (double closes, racing writes to one
state.db), so whoever guards a home — the window or headless, the demo or a real account — holds
an OS-level lock on ``<data dir>/deskguard.lock`` for as long as it runs. A second ``deskguard`` on
that home is refused, and told who holds it (pid, mode, start time, read from the file).

The lock is the kernel's (``flock`` on POSIX, ``msvcrt.locking`` on Windows): it goes away with the
process, however it ends, so the file a crashed or SIGKILLed guard left behind never blocks a start;
its content is only ever read to name the holder of a lock that is actually held.

``deskguard check-config``, ``deskguard simulator`` and ``--version`` guard nothing and never lock.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = "deskguard.lock"
#: The holder's record is written at the start of the file, padded to this size. On Windows the lock
#: is on the byte just after it: a locked range cannot be read there, the record must stay readable.
RECORD_SIZE = 512
#: How long a refused start waits for a holder that has just locked to write its record.
RECORD_WAIT_S = 1.0


@dataclass(frozen=True)
class Holder:
    """Who holds a home's lock, as its lock file says (any field may be unknown)."""

    pid: int | None = None
    mode: str | None = None
    started: datetime | None = None

    def describe(self) -> str:
        """E.g. "pid 4242 (headless, started 2025-03-03 08:30:00)"."""
        details = [self.mode] if self.mode else []
        if self.started is not None:
            details.append(f"started {self.started.astimezone():%Y-%m-%d %H:%M:%S}")
        who = f"pid {self.pid}" if self.pid is not None else "another process (pid unknown)"
        return f"{who} ({', '.join(details)})" if details else who


class AlreadyGuarded(Exception):
    """Another process holds the lock of this home."""

    def __init__(self, home: Path, lock_file: Path, holder: Holder) -> None:
        self.home, self.lock_file, self.holder = home, lock_file, holder
        super().__init__(
            f"DeskGuard is already guarding {home}: {holder.describe()}. This one does not start; stop that "
            f"one first, or give this one another DESKGUARD_HOME (lock file: {lock_file})."
        )


class InstanceLock:
    """A held lock (``locked``), kept for the life of the guard; :meth:`release` (or the process
    ending) lets the next guard in. ``problem`` says why a file system could not lock at all: the
    guard then runs unlocked rather than not at all, and logs it."""

    def __init__(self, path: Path, fd: int | None, mode: str, problem: str | None = None) -> None:
        self.path, self._fd, self.mode, self.problem = path, fd, mode, problem

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            _unlock(fd)
        os.close(fd)

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"InstanceLock({str(self.path)!r}, mode={self.mode!r}, locked={self.locked})"


def lock_path(home: Path) -> Path:
    return home / LOCK_FILE


def guard_home(demo: bool = False) -> Path:
    """The folder whose state.db a guard started now would open: the data dir, or the demo's home
    (:func:`deskguard.runtime.demo_home`, where :func:`deskguard.runtime.prepare_runtime` keeps the demo's files)."""
    from .config.paths import HOME_ENV, data_dir

    if demo:
        from .runtime import demo_home

        return data_dir({HOME_ENV: str(demo_home())})
    return data_dir()


def claim_guard_home(*, demo: bool, mode: str) -> InstanceLock:
    """Lock the home a guard in ``mode`` ("headless", "window") is about to use, before it opens
    state.db or connects. Raises :class:`AlreadyGuarded` when another process guards it."""
    return claim(guard_home(demo), f"{mode}, demo" if demo else mode)


def claim(home: Path, mode: str) -> InstanceLock:
    """Lock ``home`` for this process, recording pid, mode and start time for whoever is refused."""
    from .config.save import make_private_dirs

    path = lock_path(home)
    try:
        make_private_dirs(home)  # a new home is created user-only, as the store would
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    except OSError as exc:
        return InstanceLock(path, None, mode, f"cannot open the lock file {path}: {exc.strerror or exc}")
    try:
        held_elsewhere = not _try_lock(fd)
    except OSError as exc:
        os.close(fd)
        return InstanceLock(path, None, mode, f"cannot lock {path} ({exc.strerror or exc}): "
                                              "nothing stops a second DeskGuard on this home")
    if held_elsewhere:
        try:
            holder = _wait_for_record(fd)
        finally:
            os.close(fd)
        raise AlreadyGuarded(home, path, holder)
    try:
        _write_record(fd, mode, home)
    except OSError:
        pass  # the lock is what counts; the record only names the holder
    return InstanceLock(path, fd, mode)


def read_holder(path: Path) -> Holder | None:
    """What a lock file says about its holder (None: empty or not a record). Says nothing about
    whether the lock is held: a file left by a dead process reads the same."""
    try:
        with open(path, "rb") as f:
            return _parse(f.read(RECORD_SIZE))
    except OSError:
        return None


# -- the record ------------------------------------------------------------------------------------


def _write_record(fd: int, mode: str, home: Path) -> None:
    if os.name != "nt" and os.fstat(fd).st_mode & 0o077:
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)  # left by hand or by an older version
    record = {"pid": os.getpid(), "mode": mode, "started": datetime.now(UTC).isoformat(timespec="seconds"),
              "home": str(home)}
    body = json.dumps(record).encode()
    if len(body) >= RECORD_SIZE:  # a very long home path: the pid matters more
        del record["home"]
        body = json.dumps(record).encode()
    data = body.ljust(RECORD_SIZE - 1, b" ") + b"\n"
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)  # one write, the whole record: a stale one (from a dead holder) is overwritten
    if os.name != "nt":
        os.ftruncate(fd, RECORD_SIZE)  # anything longer left by hand goes


def _parse(data: bytes) -> Holder | None:
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    pid = record.get("pid")
    mode = record.get("mode")
    started = None
    raw_started = record.get("started")
    if isinstance(raw_started, str):
        with contextlib.suppress(ValueError):
            started = datetime.fromisoformat(raw_started)
    return Holder(pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
                  mode if isinstance(mode, str) else None, started)


def _wait_for_record(fd: int) -> Holder:
    """The holder's record; one that has only just locked may not have written it yet."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while True:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            holder = _parse(os.read(fd, RECORD_SIZE))
        except OSError:
            holder = None
        if (holder is not None and holder.pid is not None) or time.monotonic() >= deadline:
            return holder or Holder()
        time.sleep(0.05)


# -- the OS lock -----------------------------------------------------------------------------------

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        """Lock one byte past the record (Windows locks are mandatory: a locked range cannot be read
        by others, so the record itself stays unlocked). False when another process holds it."""
        os.lseek(fd, RECORD_SIZE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # locking past the end of the file is allowed
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK, getattr(errno, "EDEADLOCK", errno.EDEADLK)):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, RECORD_SIZE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        """flock: held by the open file, released by the kernel when the process dies. False when
        another open file (another process, or another claim in this one) holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
