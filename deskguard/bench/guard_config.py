"""The config.toml the storm and memory benchmarks write for the guard they run.

The shipped defaults (session_block off, as in the demo, so a run works at any hour), streaming
the benchmark's instruments, with the money limits and the overtrading brake opened wide: a
benchmark trades far more than a trader would, and a loss lock halfway through would turn the
rest of the run into a different workload. Everything else stays on and is evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from ..config import DeskGuardConfig
from ..engine.rules.cooldown_after_loss import Tier

WIDE = 1e6


def bench_config(symbols: Sequence[str], *, max_contracts: int = 5) -> DeskGuardConfig:
    cfg = DeskGuardConfig().with_section("connection", instruments=list(symbols))
    cfg = cfg.with_rule("session_block", enabled=False)
    cfg = cfg.with_rule("max_contracts", limit=max_contracts)
    cfg = cfg.with_rule("trade_frequency", per_minute=10_000, per_hour=100_000, per_day=1_000_000)
    cfg = cfg.with_rule("daily_realized_loss", max_loss=WIDE)
    cfg = cfg.with_rule("daily_unrealized_loss", max_loss=WIDE)
    return cfg.with_rule("cooldown_after_loss", tiers=(Tier(WIDE, timedelta(minutes=5)),))
