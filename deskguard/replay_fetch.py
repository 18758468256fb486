"""What the replay needs from the gateway: an account's trades (and bars) over a range of trading days.

Shared by ``deskguard replay`` and the Rules lab window. Trades are read with ``Trade/search`` one
trading day per request, bars with ``History/retrieveBars`` one day per traded contract, all through
the broker's request budget at routine priority (so a guard running in the same process keeps its
enforcement first). Pure helpers for the date range sit here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .engine.calendar import TradingCalendar, local_moment
from .engine.models import Trade, money
from .replay import Bar, ReplayCancelled, bars_from_payload, trades_from_payload

if TYPE_CHECKING:
    from .broker.projectx import ProjectXBroker

#: ``--from`` defaults to this many trading days before ``--to``, counting both.
DEFAULT_DAYS = 30


def trading_days(first: date, last: date) -> list[date]:
    """The trading days from ``first`` to ``last`` inclusive: weekdays (a day is labelled by the date
    it ends, so Sunday evening's session is Monday's)."""
    out, d = [], first
    while d <= last:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def default_range(calendar: TradingCalendar, now: datetime, first: date | None = None, last: date | None = None,
                  count: int = DEFAULT_DAYS) -> tuple[date, date]:
    """``--from``/``--to`` with their defaults: to = the current trading day, from = ``count``
    trading days back, both inclusive."""
    to = last if last is not None else calendar.trading_date(now)
    if first is not None:
        return first, to
    d, seen = to, 0
    while True:
        if d.weekday() < 5:
            seen += 1
            if seen == count:
                return d, to
        d -= timedelta(days=1)


def day_span(calendar: TradingCalendar, day: date) -> tuple[datetime, datetime]:
    """[start, end) of the trading day labelled ``day``: from the reset before to the reset on it."""
    end = local_moment(day, calendar.reset_time, calendar.timezone)
    return calendar.day_start(end - timedelta(microseconds=1)), end


@dataclass
class History:
    """An account's past, ready to replay."""

    account_id: int
    account_name: str
    trades: list[Trade]
    raw_trades: list[dict[str, Any]]  # as Trade/search gave them (for --trades files)
    bars: list[Bar] | None
    starting_balance: float | None


async def fetch_history(
    broker: ProjectXBroker,
    account_id: int,
    account_name: str,
    first: date,
    last: date,
    calendar: TradingCalendar,
    *,
    with_bars: bool = False,
    balance_now: float | None = None,
    progress: Callable[[str, int, int], None] = lambda text, done, total: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> History:
    """Read the account's trades (and, ``with_bars``, one-minute bars) day by day. ``progress(text,
    done, total)`` after each request; ``cancelled()`` is asked between requests."""
    days = trading_days(first, last)
    raw: dict[int, dict[str, Any]] = {}
    traded: dict[date, set[str]] = {}
    for n, day in enumerate(days):
        if cancelled():
            raise ReplayCancelled()
        start, end = day_span(calendar, day)
        for t in await broker.raw_trades(account_id, start, end - timedelta(microseconds=1)):
            if isinstance(t.get("id"), int):
                raw[t["id"]] = t  # a trade on a boundary comes twice: once
                if isinstance(t.get("contractId"), str):
                    traded.setdefault(day, set()).add(t["contractId"])
        progress(f"fetching trades: {n + 1}/{len(days)} trading days ({day.isoformat()})", n + 1, len(days))
    raw_list = sorted(raw.values(), key=lambda t: (str(t.get("creationTimestamp")), t["id"]))
    trades = trades_from_payload(raw_list)
    bars: list[Bar] | None = None
    if with_bars:
        bars = []
        wanted = [(day, c) for day in days for c in sorted(traded.get(day, ()))]
        for n, (day, contract_id) in enumerate(wanted):
            if cancelled():
                raise ReplayCancelled()
            start, end = day_span(calendar, day)
            bars += bars_from_payload(contract_id, await broker.minute_bars(contract_id, start, end))
            progress(f"fetching bars: {n + 1}/{len(wanted)} ({contract_id} {day.isoformat()})", n + 1, len(wanted))
    starting = None
    if balance_now is not None and last >= calendar.trading_date(datetime.now(UTC)):
        # The range reaches today: the balance before its first fill is today's minus what it made.
        starting = money(balance_now - sum(t.net_pnl(True) for t in trades))
    return History(account_id, account_name, trades, raw_list, bars, starting)
