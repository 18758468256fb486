"""A seeded past: one-minute bars of each contract's random walk and a month of trades per account.

So the demo (and the Rules lab) can replay a trader's history, the simulator serves ``Trade/search``
over past trading days and ``History/retrieveBars`` with one-minute bars, both deterministic per
seed: the same seed gives the same bars and the same trades for the same trading days, whatever
range a request asks for and in whatever order requests come.

The seeded past ends at the start of the current trading week (the Sunday 17:00 CT reset), so the
guard's own week of trades (it reads ``Trade/search`` from the week's start) holds only what was
traded live. It covers the ``trading_days`` weekdays before that. A trading day is labelled by the
date it ends (17:00 CT the day before to 17:00 CT that day); its trades fall between 08:30 and
15:00 CT and are filled at the walk's price of that moment (between the open and the close of the
minute's bar), so trades and bars agree.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from deskguard.simulator.contracts import Contract
from deskguard.simulator.market import BASE_PRICES, iso

CT = ZoneInfo("America/Chicago")
RESET = time(17, 0)
MINUTE = timedelta(minutes=1)
#: The demo's seeded past (``Simulator(history_days=…)``; ``deskguard simulator --history-days``).
DEMO_HISTORY_DAYS = 30
#: One trading day's bars: 17:00 CT to 16:00 CT the next day (the hour's maintenance break closed).
BARS_PER_DAY = 23 * 60
#: Trades on these symbols (micro index futures, as most evaluation traders trade).
HISTORY_SYMBOLS = ("MNQ", "MES")
#: Per-minute walk volatility as a fraction of the price (the live walk's, over a minute).
_MINUTE_VOLATILITY = 0.00045
#: Trade ids of the seeded past: far above the live book's (which start at 9,000,001), unique per
#: (trading day, account, trade).
_ID_BASE = 10_000_000_000


def day_start(trading_day: date) -> datetime:
    """When a trading day starts: 17:00 CT on the date before the one it is labelled by."""
    return datetime.combine(trading_day - timedelta(days=1), RESET, tzinfo=CT)


def trading_day_of(moment: datetime) -> date:
    local = moment.astimezone(CT)
    return local.date() + timedelta(days=1) if local.time() >= RESET else local.date()


def week_start(now: datetime) -> datetime:
    """The Sunday 17:00 CT reset at or before ``now``."""
    start = day_start(trading_day_of(now))
    back = (start.date().weekday() - 6) % 7
    return datetime.combine(start.date() - timedelta(days=back), RESET, tzinfo=CT)


class History:
    """The seeded past of one simulator. ``contracts`` resolves a symbol to its contract."""

    def __init__(self, seed: int, contracts: Callable[[str], Contract | None], trading_days: int = 30,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.seed = seed
        self.trading_days = trading_days
        self._contracts = contracts
        self._now = now
        self._day_bars = lru_cache(maxsize=256)(self._make_day_bars)
        self._day_trades = lru_cache(maxsize=1024)(self._make_day_trades)

    # ----- the range ------------------------------------------------------------------------

    def cutoff(self) -> datetime:
        """Where the seeded past ends: the start of the current trading week."""
        return week_start(self._now())

    def days(self) -> list[date]:
        """The seeded trading days, oldest first: the weekdays before the cutoff."""
        if self.trading_days <= 0:
            return []
        out: list[date] = []
        d = trading_day_of(self.cutoff() - timedelta(seconds=1))
        while len(out) < self.trading_days:
            if d.weekday() < 5:
                out.append(d)
            d -= timedelta(days=1)
        return out[::-1]

    def covers(self, end: datetime) -> bool:
        """Whether a range ending at ``end`` lies wholly in the seeded past (bars come from it)."""
        return self.trading_days > 0 and end <= self.cutoff()

    # ----- bars ----------------------------------------------------------------------------

    def _make_day_bars(self, contract: Contract, trading_day: date) -> tuple[tuple[datetime, float, float, float, float], ...]:
        tick = contract.tick_size
        opening = random.Random(f"{self.seed}/{contract.id}/open/{trading_day.isoformat()}")
        base = BASE_PRICES.get(contract.symbol, 100.0) * (1 + opening.uniform(-0.03, 0.03))
        rng = random.Random(f"{self.seed}/{contract.id}/history/{trading_day.isoformat()}")
        price = max(tick, contract.round_price(base))
        sigma = max(1.0, price * _MINUTE_VOLATILITY / tick)
        start = day_start(trading_day).astimezone(UTC)
        bars = []
        for i in range(BARS_PER_DAY):
            o = price
            c = max(tick, contract.round_price(o + round(rng.gauss(0.0, sigma)) * tick))
            h = contract.round_price(max(o, c) + abs(round(rng.gauss(0.0, sigma / 3))) * tick)
            lo = max(tick, contract.round_price(min(o, c) - abs(round(rng.gauss(0.0, sigma / 3))) * tick))
            bars.append((start + i * MINUTE, o, h, lo, c))
            price = c
        return tuple(bars)

    def price_at(self, contract: Contract, moment: datetime) -> float:
        """The walk's price at ``moment`` (inside a seeded trading day): on the way from the open of
        the minute's bar to its close, on the tick grid."""
        bars = self._day_bars(contract, trading_day_of(moment))
        seconds = (moment - bars[0][0]).total_seconds()
        start, o, _h, _l, c = bars[max(0, min(int(seconds // 60), len(bars) - 1))]
        share = min(1.0, max(0.0, (moment - start).total_seconds() / 60))
        return contract.round_price(o + (c - o) * share)

    def bars(self, contract: Contract, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        """One-minute bars opening in [start, end), newest first (as the gateway lists them);
        ``limit`` keeps the newest."""
        out: list[dict[str, Any]] = []
        seeded = set(self.days())
        d = trading_day_of(start)
        while day_start(d) < end:
            if d in seeded:
                for t, o, h, lo, c in self._day_bars(contract, d):
                    if start <= t < end:
                        out.append({"t": iso(t), "o": o, "h": h, "l": lo, "c": c, "v": 0})
            d += timedelta(days=1)
        out.reverse()
        return out[:max(0, limit)]

    # ----- trades --------------------------------------------------------------------------

    def _make_day_trades(self, account_id: int, trading_day: date) -> tuple[dict[str, Any], ...]:
        rng = random.Random(f"{self.seed}/{account_id}/trades/{trading_day.isoformat()}")
        base_id = _ID_BASE + (trading_day.toordinal() % 100_000) * 100_000 + (account_id % 1000) * 100
        at = datetime.combine(trading_day, time(8, 30), tzinfo=CT) + timedelta(seconds=rng.randint(0, 45 * 60))
        close_by = datetime.combine(trading_day, time(15, 0), tzinfo=CT)
        trades: list[dict[str, Any]] = []
        burst = rng.random() < 0.25  # an overtrading spell: quick round trips seconds apart
        for _ in range(rng.randint(4, 10)):
            contract = self._contracts(rng.choice(HISTORY_SYMBOLS))
            if contract is None:
                break
            hold = timedelta(seconds=rng.randint(5, 20) if burst else rng.randint(60, 25 * 60))
            exit_at = at + hold
            if exit_at >= close_by:
                break
            size = rng.randint(1, 3)
            long = rng.random() < 0.5
            entry = self.price_at(contract, at)
            exit_ = self.price_at(contract, exit_at)
            points = (exit_ - entry) if long else (entry - exit_)
            pnl = round(points / contract.tick_size * contract.tick_value * size, 2)
            fees = contract.half_turn_fees(size)
            for when, price, side, profit in ((at, entry, 0 if long else 1, None),
                                              (exit_at, exit_, 1 if long else 0, pnl)):
                trade_id = base_id + len(trades)
                trades.append({
                    "id": trade_id, "accountId": account_id, "contractId": contract.id,
                    "creationTimestamp": iso(when), "price": price, "profitAndLoss": profit, "fees": fees,
                    "side": side, "size": size, "voided": False, "orderId": trade_id,
                })
            gap = timedelta(seconds=rng.randint(5, 15) if burst else rng.randint(120, 40 * 60))
            at = exit_at + gap
            burst = burst and rng.random() < 0.8
        return tuple(trades)

    def trades(self, account_ids: Iterable[int], start: datetime, end: datetime,
               contract_id: str | None = None) -> list[dict[str, Any]]:
        """The seeded trades of ``account_ids`` made in [start, end], oldest first (Trade/search)."""
        out: list[dict[str, Any]] = []
        first, last = trading_day_of(start), trading_day_of(end)
        for d in self.days():
            if not first <= d <= last:
                continue
            for account_id in account_ids:
                for t in self._day_trades(account_id, d):
                    when = datetime.fromisoformat(t["creationTimestamp"])
                    if start <= when <= end and (not contract_id or t["contractId"] == contract_id):
                        out.append(dict(t))
        out.sort(key=lambda t: (t["creationTimestamp"], t["id"]))
        return out
