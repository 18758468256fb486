"""The replay benchmark in a tiny configuration: the figure exists and is positive (not timed)."""

from __future__ import annotations

import math

from deskguard.bench.replay import bench, make_history


def test_the_replay_benchmark_reports_engine_seconds() -> None:
    results = bench(days=3, fills_per_day=40, repeats=1)
    assert math.isfinite(results["replay_engine_s"]) and results["replay_engine_s"] > 0
    assert results["replay_wall_s"] >= results["replay_engine_s"]
    assert results["replay_fills"] == 3 * 40
    assert results["replay_days"] == 3


def test_the_synthetic_history_is_round_trips_on_weekdays() -> None:
    trades = make_history(days=2, fills_per_day=10)
    assert len(trades) == 20
    assert [t.pnl is None for t in trades[:4]] == [True, False, True, False]
    assert all(t.time.weekday() < 5 for t in trades)
