"""Engine throughput: events per second through RiskEngine with every rule enabled.

A realistic mix: 5 accounts, 10 instruments quoted, 90 % quotes; the rest position, order, trade
and account updates. Each account trades two of the instruments and always holds a position in
them, so quotes reach the open-P&L rules (004, 005, 012, 014) of the accounts holding them.

Every rule is on with its shipped parameters (007's default tiers, the session window, the
symbol blocks, the trade-frequency brake...), so rules fire, lock accounts and ask for flattens as
they would for a trader this busy. The events are spread evenly over one trading day (17:00 CT to
16:00 CT the next day) and the engine's clock follows them: before each event the clock is set to
its moment, and a ``ClockTick`` is processed whenever the engine's next deadline has passed (the
guardian's heartbeat does the same; the deadline is read again after every event that produced
verdicts and every ``DEADLINE_EVERY`` events). Ticks count as events. Reported as the median of
repeated runs, with what the day came to (verdicts, locks).
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ..engine.clock import FakeClock
from ..engine.engine import RiskEngine
from ..engine.events import AccountUpdated, ClockTick, OrderUpdated, PositionUpdated, QuoteUpdated, TradeFilled
from ..engine.instruments import CATALOG
from ..engine.models import Account, Order, OrderStatus, OrderType, Position, PositionType, Quote, Side, Trade
from ..engine.settings import EngineSettings

SYMBOLS = ("ES", "NQ", "MNQ", "MES", "YM", "RTY", "CL", "GC", "ZN", "6E")
ROOTS = {"ES": "EP", "NQ": "ENQ", "CL": "CLE", "GC": "GCE", "ZN": "TYA", "6E": "EU6"}
ACCOUNTS = (1001, 1002, 1003, 1004, 1005)
#: Monday 23 November 2026, 17:00 CT (the default trading day's start), and the day's length.
DAY_START = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
DAY_LENGTH = timedelta(hours=23)
DEADLINE_EVERY = 1000  # events between reads of the engine's next deadline (the heartbeat's, ~0.5 s)


def all_rules_on() -> EngineSettings:
    """Every rule enabled, each with its shipped parameters."""
    s = EngineSettings()
    return replace(s, rules={k: replace(p, enabled=True) for k, p in s.rules.items()})


def make_events(n: int, clock: FakeClock, seed: int = 7) -> list:
    rng = random.Random(seed)
    contracts = [f"CON.F.US.{ROOTS.get(s, s)}.Z26" for s in SYMBOLS]
    prices = {c: 1000.0 + 100 * i for i, c in enumerate(contracts)}
    t0 = clock.now()
    events: list = []
    traded = {a: [contracts[(2 * i) % 10], contracts[(2 * i + 1) % 10]] for i, a in enumerate(ACCOUNTS)}
    for a in ACCOUNTS:
        events.append(AccountUpdated(Account(a, f"BENCH-{a}", 50_000.0, True)))
        for c in traded[a]:
            events.append(PositionUpdated(Position(a, c, PositionType.LONG, 1, prices[c], t0)))
    trade_id = order_id = 1
    working: dict[int, Order] = {}
    step = DAY_LENGTH / n
    for i in range(n):
        now = t0 + step * i
        c = rng.choice(contracts)
        r = rng.random()
        if r < 0.90:
            tick = CATALOG[SYMBOLS[contracts.index(c)]].tick_size
            prices[c] += rng.choice((-tick, 0.0, tick))
            events.append(QuoteUpdated(Quote(c, now, prices[c], prices[c] - tick, prices[c] + tick)))
            continue
        a = rng.choice(ACCOUNTS)
        c = rng.choice(traded[a])
        if r < 0.94:
            events.append(PositionUpdated(Position(a, c, rng.choice((PositionType.LONG, PositionType.SHORT)),
                                                   rng.randint(1, 2), prices[c], now)))
        elif r < 0.97:
            # A stop is placed, and the previous one of the account is cancelled: a few work at a time.
            order_id += 1
            new = Order(order_id, a, c, OrderStatus.OPEN, OrderType.STOP, Side.SELL, 1,
                        stop_price=prices[c] - 5, created_at=now)
            events.append(OrderUpdated(new))
            old = working.get(a)
            if old is not None:
                events.append(OrderUpdated(replace(old, status=OrderStatus.CANCELLED, updated_at=now)))
            working[a] = new
        elif r < 0.995:
            trade_id += 1
            pnl = None if rng.random() < 0.5 else rng.uniform(-50, 50)
            events.append(TradeFilled(Trade(trade_id, a, c, now, prices[c], pnl, 0.74, Side.BUY, 1)))
        else:
            events.append(AccountUpdated(Account(a, f"BENCH-{a}", 50_000.0 + rng.uniform(-500, 500), True)))
    return events


def _moment(event: object) -> datetime | None:
    """When an event of the mix happened (None: an account update, which carries no time)."""
    if isinstance(event, QuoteUpdated):
        return event.quote.time
    if isinstance(event, TradeFilled):
        return event.trade.time
    if isinstance(event, OrderUpdated):
        return event.order.updated_at or event.order.created_at
    if isinstance(event, PositionUpdated):
        return event.position.opened_at
    return None


def run_once(n: int = 100_000) -> tuple[float, dict[str, int]]:
    """(events per second, what the day came to)."""
    clock = FakeClock(DAY_START)
    engine = RiskEngine(all_rules_on(), clock)
    events = make_events(n, clock)
    moments = [_moment(ev) for ev in events]
    processed = verdicts = decisions = ticks = 0
    due: datetime | None = None
    start = time.perf_counter()
    process, set_clock, next_deadline = engine.process, clock.set, engine.next_deadline
    for i, (ev, at) in enumerate(zip(events, moments, strict=True)):
        if at is not None:
            set_clock(at)
            if due is not None and at >= due:
                due = None
                process(ClockTick(at))
                ticks += 1
        out = process(ev)
        if out or i % DEADLINE_EVERY == 0:
            deadline = next_deadline()
            if deadline is not None and (due is None or deadline < due):
                due = deadline
        if out:
            verdicts += len(out)
            decisions += sum(len(v.decisions) for v in out)
    processed = len(events) + ticks
    rate = processed / (time.perf_counter() - start)
    locked = sum(1 for a in ACCOUNTS if engine.state(a).locks)
    return rate, {"verdicts": verdicts, "decisions": decisions, "clock_ticks": ticks, "locked_accounts": locked,
                  "hours": round((clock.now() - DAY_START) / timedelta(hours=1))}


def bench(repeats: int = 5, n: int = 100_000) -> dict[str, float]:
    runs = [run_once(n) for _ in range(repeats)]
    rates = [r for r, _ in runs]
    day = runs[0][1]
    return {"engine_events_per_s": round(statistics.median(rates)), "engine_events_per_s_min": round(min(rates)),
            "engine_day_hours": day["hours"], "engine_verdicts": day["verdicts"],
            "engine_decisions": day["decisions"], "engine_clock_ticks": day["clock_ticks"],
            "engine_locked_accounts_at_close": day["locked_accounts"]}


if __name__ == "__main__":  # pragma: no cover
    print(bench())
