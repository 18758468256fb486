"""SQLite state (state.db): locks, the audit log, trades seen, daily and weekly figures, the
trailing high-water mark, rule memory, rule-change history and pending enforcement."""

from .database import MEMORY, Store
from .errors import StoreCorruptError, StoreError, StoreTooNewError
from .records import AuditEntry, DayFigures, LockRecord, PendingEnforcement, RuleChange, describe_decision
from .redaction import REDACTED
from .schema import LATEST_VERSION, MIGRATIONS, migrate

__all__ = [
    "LATEST_VERSION",
    "MEMORY",
    "MIGRATIONS",
    "REDACTED",
    "AuditEntry",
    "DayFigures",
    "LockRecord",
    "PendingEnforcement",
    "RuleChange",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreTooNewError",
    "describe_decision",
    "migrate",
]
