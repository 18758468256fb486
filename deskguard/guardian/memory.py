"""What the guard keeps across a restart (rules.md "Memory"): read back at start-up, written as it
changes. Plain functions of the store, run on the store's thread; the differential test in
``tests/guardian/test_guardian_memory.py`` drives exactly these against the real store.

Locks have their own table (committed before they are announced); trades come back from the broker
(the week's ``Trade/search`` on connect); everything else the rules remember is one JSON document
per account, ``rules`` in the store's rule memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..engine.calendar import TradingCalendar
from ..engine.decisions import Lock
from ..engine.engine import RiskEngine

#: The rule-memory key of the rules' JSON document.
RULES_MEMORY = "rules"
#: Written by DeskGuard before the rules' document existed; read when there is no document.
LEGACY_STREAK = "losing_streak"


@dataclass(slots=True)
class Kept:
    """One account's state as the store kept it."""

    locks: list[Lock] = field(default_factory=list)
    seen_trade_ids: set[int] = field(default_factory=set)
    high_water_mark: float | None = None
    realized_week_before_today: float = 0.0
    losing_streak: int = 0
    rules: dict[str, Any] | None = None
    end_of_day_high: float | None = None  # the highest balance recorded at a reset


def read_kept(store: Any, account_id: int, calendar: TradingCalendar, now: datetime) -> Kept:
    """Read what the store kept for one account (on the store's thread)."""
    week_start = calendar.week_start(now)
    first_day = calendar.trading_date(week_start + timedelta(seconds=1))
    today = calendar.trading_date(now)
    week = store.realized_between(account_id, first_day, today - timedelta(days=1)) if first_day < today else 0.0
    text = store.get_memory(account_id, RULES_MEMORY)
    streak = store.get_memory(account_id, LEGACY_STREAK)
    return Kept(
        locks=store.active_locks(account_id),
        # The week's trade ids (a re-sync reads the whole week), and the day before it for late copies.
        seen_trade_ids=store.seen_trade_ids(account_id, week_start - timedelta(days=1)),
        high_water_mark=store.get_high_water_mark(account_id),
        realized_week_before_today=week,
        losing_streak=int(json.loads(streak)) if streak else 0,
        rules=json.loads(text) if text else None,
        end_of_day_high=store.highest_end_of_day(account_id),
    )


def restore(engine: RiskEngine, account_id: int, kept: Kept) -> None:
    """Give the engine back what the store kept (on the event loop)."""
    engine.restore(
        account_id, locks=kept.locks, seen_trade_ids=kept.seen_trade_ids, high_water_mark=kept.high_water_mark,
        realized_week_before_today=kept.realized_week_before_today, losing_streak=kept.losing_streak,
        memory=kept.rules, end_of_day_high=kept.end_of_day_high,
    )


def memory_text(engine: RiskEngine, account_id: int) -> str:
    """The rules' memory of one account as the JSON text the store keeps (taken on the loop)."""
    return json.dumps(engine.memory(account_id), sort_keys=True, separators=(",", ":"))


def ended_day(calendar: TradingCalendar, day_start: datetime) -> date:
    """The trading day that a reset starting the day at ``day_start`` ended (its end-of-day balance
    is recorded under it)."""
    return calendar.trading_date(day_start - timedelta(seconds=1))


def memory_writes(store: Any, account_id: int, text: str, high_water_mark: float | None,
                  at: datetime) -> list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
    """The store calls that write the rules' memory, and the mark to its own table, which the
    window's trailing floor reads: calls of the store's own methods, so its writer process makes them."""
    writes: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
        (store.set_memory, (account_id, RULES_MEMORY, text), {"at": at})]
    if high_water_mark is not None:
        writes.append((store.set_high_water_mark, (account_id, high_water_mark, at), {}))
    return writes


def save_memory(store: Any, account_id: int, text: str, high_water_mark: float | None, at: datetime) -> None:
    """Write the rules' memory now (tools and tests; the guardian hands ``memory_writes`` to its store queue)."""
    for fn, args, kwargs in memory_writes(store, account_id, text, high_water_mark, at):
        fn(*args, **kwargs)
