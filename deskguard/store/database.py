"""The state database (state.db): everything DeskGuard must remember across a restart.

One ``Store`` per process owns one SQLite connection (``connection.Database``). Every method is one
short statement or transaction, so the async guardian calls them directly. Writes commit before they
return; lock writes are also flushed to the disk (see ``LockTable.save_lock``). Each group of tables
has its own module: ``locks``, ``audit``, ``figures``, ``rule_state`` and ``enforcements``.
"""

from __future__ import annotations

from .audit import AuditLog
from .connection import MEMORY
from .enforcements import Enforcements
from .figures import Figures
from .locks import LockTable
from .rule_state import RuleState

__all__ = ["MEMORY", "Store"]


class Store(LockTable, AuditLog, Figures, RuleState, Enforcements):
    """SQLite state: locks, audit log, trades seen, daily figures, high-water marks, rule memory,
    rule-change history and pending enforcement.

    ``Store(path)`` creates the file (user-only) and migrates it to the current schema; it raises
    ``StoreTooNewError`` for a file from a newer DeskGuard (left untouched) and ``StoreCorruptError``
    for a damaged or foreign file (see ``Store.recover``). ``":memory:"`` gives a throw-away store.
    """
