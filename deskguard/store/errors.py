"""What can go wrong with state.db, in words a trader can act on."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """state.db cannot be used: the message says why and what to do."""


class StoreTooNewError(StoreError):
    """The file was written by a newer DeskGuard; it is left exactly as it was."""

    def __init__(self, path: Path | None, found: int, known: int) -> None:
        name = path.name if path else "state.db"
        super().__init__(
            f"{name} was written by a newer DeskGuard (schema {found}, this version knows {known}); "
            "update DeskGuard, or move the file away to start with an empty state"
        )
        self.path = path
        self.found = found
        self.known = known


class StoreCorruptError(StoreError):
    """The file is not a DeskGuard database or is damaged. ``Store.recover(path)`` moves it aside
    and starts a fresh one."""

    def __init__(self, path: Path | None, problem: str) -> None:
        name = str(path) if path else "state.db"
        super().__init__(f"{name} is unreadable ({problem}); Store.recover() moves it aside and starts afresh")
        self.path = path
        self.problem = problem
