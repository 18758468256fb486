"""Replay throughput: 90 trading days × 200 fills of one account through every rule (issue 14).

The Rules lab's promise is that replaying a trader's quarter takes under a second of engine time.
The history is synthetic but shaped like a busy trader's: 100 round trips a day on MNQ and MES
between 08:30 and 15:00 CT, one to three contracts, P&L from a random walk, the gateway's fees on
every fill. Every rule is on with its shipped parameters (the quote-driven ones are skipped without
bars, as in the product); locks, blocked round trips and rule closes happen as they would. The
figure is the replay's own engine time (``ReplayResult.engine_seconds``), the median of repeats.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..engine.models import Side, Trade
from ..replay import replay
from ..replay_fetch import trading_days
from .engine_throughput import all_rules_on

CT = ZoneInfo("America/Chicago")
CONTRACTS = {"CON.F.US.MNQ.Z26": (0.25, 0.50, 21_000.0), "CON.F.US.MES.Z26": (0.25, 1.25, 6_000.0)}
LAST_DAY = date(2026, 11, 27)


def make_history(days: int = 90, fills_per_day: int = 200, seed: int = 7) -> list[Trade]:
    rng = random.Random(seed)
    trade_id = 1
    out: list[Trade] = []
    all_days = trading_days(LAST_DAY - timedelta(days=days * 2), LAST_DAY)[-days:]
    for day in all_days:
        start = datetime.combine(day, datetime.min.time(), CT).replace(hour=8, minute=30)
        step = timedelta(hours=6.5) / max(1, fills_per_day)
        at = start
        for _ in range(fills_per_day // 2):
            contract = rng.choice(list(CONTRACTS))
            tick, value, base = CONTRACTS[contract]
            size = rng.randint(1, 3)
            long = rng.random() < 0.5
            entry = base + rng.randint(-400, 400) * tick
            exit_ = entry + round(rng.gauss(0, 30)) * tick
            pnl = round((exit_ - entry) / tick * value * size * (1 if long else -1), 2)
            fees = round(0.37 * size, 2)
            out.append(Trade(trade_id, 1001, contract, at.astimezone(UTC), entry, None, fees,
                             Side.BUY if long else Side.SELL, size))
            out.append(Trade(trade_id + 1, 1001, contract, (at + step).astimezone(UTC), exit_, pnl, fees,
                             Side.SELL if long else Side.BUY, size))
            trade_id += 2
            at += 2 * step
    return out


def bench(days: int = 90, fills_per_day: int = 200, repeats: int = 5) -> dict[str, float]:
    trades = make_history(days, fills_per_day)
    settings = all_rules_on()
    engine_s: list[float] = []
    wall_s: list[float] = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = replay(trades, settings, account_id=1001, starting_balance=50_000.0)
        wall_s.append(time.perf_counter() - started)
        engine_s.append(result.engine_seconds)
    assert result is not None
    return {
        "replay_engine_s": round(statistics.median(engine_s), 4),
        "replay_wall_s": round(statistics.median(wall_s), 4),
        "replay_fills": float(len(trades)),
        "replay_days": float(len(result.days)),
        "replay_trades_blocked": float(result.blocked_total),
        # Fetching: one Trade/search per trading day, within the gateway's 200 requests per 60 s.
        "replay_fetch_requests": float(days),
    }
