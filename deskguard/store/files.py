"""The state.db file on disk: private permissions, and moving a damaged file aside."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

# Files SQLite keeps next to the database; they belong to it and must move with it.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")

_PRIVATE_FILE = 0o600
_PRIVATE_DIR = 0o700


def prepare_folder(path: Path) -> None:
    """Create the missing folders above ``path`` as user-only; folders that exist are not changed
    (they may be shared, like a home directory)."""
    missing: list[Path] = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=_PRIVATE_DIR, exist_ok=True)
        os.chmod(folder, _PRIVATE_DIR)  # mkdir's mode is filtered by the umask


def create_private_file(path: Path) -> bool:
    """Create an empty user-only file if none is there, before SQLite does with the umask's mode.
    Returns whether it created one."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    os.chmod(path, _PRIVATE_FILE)
    return True


def make_private(path: Path) -> None:
    """Tighten the database and its side files to user-only: they hold the trading record."""
    if os.name == "nt":
        return  # POSIX modes mean nothing there; the user profile folder is already private
    for file in (path, *(path.with_name(path.name + s) for s in SIDE_SUFFIXES)):
        try:
            if file.stat().st_mode & 0o077:
                os.chmod(file, _PRIVATE_FILE)
        except FileNotFoundError:
            pass


def move_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename a damaged database (and its side files) to ``<name>.corrupt-YYYYmmddTHHMMSS``.

    The side files keep SQLite's naming next to the backup, so the backup still opens with its WAL
    for anyone trying to rescue it; and a stale WAL left behind would otherwise be replayed into the
    fresh database. Returns the backup's path."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    backup = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while backup.exists() or any(backup.with_name(backup.name + s).exists() for s in SIDE_SUFFIXES):
        backup = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    if path.exists():
        os.replace(path, backup)
    for suffix in SIDE_SUFFIXES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, backup.with_name(backup.name + suffix))
    return backup
