"""Engine throughput: events per second through RiskEngine with every rule enabled.

A realistic mix: 5 accounts, 10 instruments quoted, 90 % quotes; the rest position, order, trade
and account updates. Each account trades two of the instruments and always holds a position in
them, so quotes reach the open-P&L rules (003 with count_open_pnl, 004, 005, 012, 014) of the
accounts holding them. Reported as the median of repeated runs.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ..engine.clock import FakeClock
from ..engine.engine import RiskEngine
from ..engine.events import AccountUpdated, OrderUpdated, PositionUpdated, QuoteUpdated, TradeFilled
from ..engine.instruments import CATALOG
from ..engine.models import Account, Order, OrderStatus, OrderType, Position, PositionType, Quote, Side, Trade
from ..engine.settings import EngineSettings

SYMBOLS = ("ES", "NQ", "MNQ", "MES", "YM", "RTY", "CL", "GC", "ZN", "6E")
ROOTS = {"ES": "EP", "NQ": "ENQ", "CL": "CLE", "GC": "GCE", "ZN": "TYA", "6E": "EU6"}
ACCOUNTS = (1001, 1002, 1003, 1004, 1005)


def all_rules_on() -> EngineSettings:
    s = EngineSettings()
    rules = {k: replace(p, enabled=True) for k, p in s.rules.items()}
    # Limits wide enough that the mix trades all day instead of locking every account at once.
    rules["daily_realized_loss"] = replace(rules["daily_realized_loss"], max_loss=1e9, count_open_pnl=True)
    rules["daily_unrealized_loss"] = replace(rules["daily_unrealized_loss"], max_loss=1e9)
    rules["max_unrealized_profit"] = replace(rules["max_unrealized_profit"], target=1e9)
    rules["daily_realized_profit"] = replace(rules["daily_realized_profit"], target=1e9)
    rules["weekly_realized_loss"] = replace(rules["weekly_realized_loss"], max_loss=1e9)
    rules["trailing_drawdown"] = replace(rules["trailing_drawdown"], max_drawdown=1e9, mode="intraday")
    rules["trade_frequency"] = replace(rules["trade_frequency"], per_minute=10**6, per_hour=10**6, per_day=10**6)
    rules["max_contracts"] = replace(rules["max_contracts"], limit=1000)
    rules["max_contracts_per_instrument"] = replace(rules["max_contracts_per_instrument"], default_limit=1000)
    rules["symbol_blocks"] = replace(rules["symbol_blocks"], symbols=("XYZ*",))
    rules["losing_streak"] = replace(rules["losing_streak"], max_losses=10**6)
    rules["cooldown_after_loss"] = replace(rules["cooldown_after_loss"], tiers=())
    return replace(s, rules=rules)


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
    for i in range(n):
        now = t0 + timedelta(milliseconds=i)
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


def run_once(n: int = 100_000) -> float:
    # Tuesday 10:00 CT, inside the default session, far from the reset.
    clock = FakeClock(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    engine = RiskEngine(all_rules_on(), clock)
    events = make_events(n, clock)
    start = time.perf_counter()
    process = engine.process
    for ev in events:
        process(ev)
    return len(events) / (time.perf_counter() - start)


def bench(repeats: int = 5, n: int = 100_000) -> dict[str, float]:
    runs = [run_once(n) for _ in range(repeats)]
    return {"engine_events_per_s": round(statistics.median(runs)), "engine_events_per_s_min": round(min(runs))}


if __name__ == "__main__":  # pragma: no cover
    print(bench())
