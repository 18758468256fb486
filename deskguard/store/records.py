"""What the store hands back: plain frozen records, one per kind of row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..engine.decisions import Action, Decision, Lock


@dataclass(frozen=True, slots=True)
class LockRecord:
    """A lock as it was saved, with when and why it ended (None while it is active)."""

    id: int
    lock: Lock
    saved_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    account_id: int | None  # None for app-wide events (start, rule changes)
    rule: str | None
    event: str
    detail: str
    decision: str | None = None
    broker_call: str | None = None
    result: str | None = None
    latency_ms: float | None = None


AUDIT_COLUMNS: tuple[str, ...] = (
    "id", "at", "account_id", "rule", "event", "detail", "decision", "broker_call", "result", "latency_ms",
)


@dataclass(frozen=True, slots=True)
class DayFigures:
    account_id: int
    trading_date: date
    realized: float
    trades: int
    fees: float
    balance: float | None  # the last balance recorded for the day (end of day once it closed)
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RuleChange:
    id: int
    at: datetime
    key: str  # e.g. "daily_realized_loss.max_loss"
    old: str | None
    new: str | None
    effective_at: datetime | None
    applied: bool
    note: str
    applied_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingEnforcement:
    """An enforcement begun but never finished: the process stopped in the middle of it."""

    id: int
    account_id: int
    action: str
    contract_id: str | None
    reason: str
    started_at: datetime


def describe_decision(decision: Decision) -> str:
    """One line of plain text for the audit log's decision column."""
    words = [decision.action.value]
    if decision.action == Action.LOCK and decision.lock is not None:
        lock = decision.lock
        words.append(f"{lock.scope} ({lock.kind.value})")
        if lock.until is not None:
            words.append(f"until {lock.until.isoformat(timespec='seconds')}")
        return " ".join(words)
    if decision.contract_id:
        words.append(decision.contract_id)
    if decision.order_id is not None:
        words.append(f"order {decision.order_id}")
    if decision.action == Action.REDUCE_POSITION and decision.size is not None:
        words.append(f"down to {decision.size}")
    elif decision.size is not None:
        words.append(f"size {decision.size}")
    if decision.side is not None:
        words.append("buy" if decision.side == 0 else "sell")
    if decision.stop_price is not None:
        words.append(f"stop at {decision.stop_price:g}")
    return " ".join(words)
