"""The flatten, storm, start-up and memory benchmarks, each in a tiny configuration: every figure is there
and plausible. Not timed tests: nothing here asserts how fast anything is."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.integration


def _finite(results: dict, keys: list[str]) -> None:
    missing = [k for k in keys if k not in results]
    assert not missing, f"missing figures: {missing}"
    for key in keys:
        assert isinstance(results[key], (int, float)) and math.isfinite(results[key]), (key, results[key])


def test_flatten_reports_time_to_verified_flat_in_round_trips() -> None:
    from deskguard.bench.flatten import bench

    results = bench(breaches=3)

    _finite(results, ["flatten_p50_ms", "flatten_p99_ms", "flatten_rtt_ms", "flatten_round_trips_p99",
                      "flatten_requests_floor_p50_ms", "flatten_requests_floor_p99_ms"])
    assert results["flatten_breaches"] == 3
    assert results["flatten_rtt_ms"] == 20.0
    # Cancel, close and verify go out one after another: at least three injected round trips.
    assert 3 * results["flatten_rtt_ms"] < results["flatten_p50_ms"] <= results["flatten_p99_ms"]
    # The bare client's requests are the same three phases, without the push's one-way trip first.
    assert 3 * results["flatten_rtt_ms"] < results["flatten_requests_floor_p50_ms"] < results["flatten_p50_ms"]
    assert results["flatten_round_trips_p99"] == pytest.approx(results["flatten_p99_ms"] / 20.0, abs=0.01)


def test_storm_reports_every_figure_with_breaches_enforced_under_quotes() -> None:
    from deskguard.bench.storm import bench

    results = bench(duration_s=2.0, quotes_per_s=1000.0, breach_every_s=0.5, warmup_s=0.5)

    _finite(results, ["storm_loop_lag_p99_ms", "storm_paint_ms_p99", "storm_paint_interval_p99_ms",
                      "storm_timer_interval_p99_ms", "storm_reaction_p99_ms", "storm_cpu_percent",
                      "storm_quotes_per_s"])
    assert results["storm_breaches"] >= 2
    assert results["storm_breaches_missed"] == 0  # every breach was enforced at the simulator
    assert 0 < results["storm_reaction_p99_ms"] < 5000
    assert results["storm_loop_lag_p99_ms"] > -10  # a 10 ms sleep never returns before it began
    assert results["storm_paint_ms_p99"] > 0  # the window repainted (the open P&L moves with quotes)
    assert results["storm_paint_interval_p99_ms"] > 0 and results["storm_paints_per_s"] > 0
    assert results["storm_timer_interval_p99_ms"] > 0
    assert 0 < results["storm_cpu_percent"] < 100 * 64
    assert results["storm_quotes_per_s"] > 0  # the app's SDK received the simulator's quotes


def test_startup_starts_read_cached_bytecode_and_never_the_user_s_gateway(monkeypatch, tmp_path) -> None:
    """A measured start may write bytecode (a machine that forbids it would time the compiler on
    every start) and never sees the user's gateway or credential variables."""
    from deskguard.bench.startup import smoke_env

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("PROJECTX_API_KEY", "not-for-benchmarks")
    env = smoke_env(str(tmp_path))
    assert "PYTHONDONTWRITEBYTECODE" not in env and "PROJECTX_API_KEY" not in env
    assert env["DESKGUARD_HOME"] == str(tmp_path) and env["QT_QPA_PLATFORM"] == "offscreen"


def test_startup_reports_first_paint_before_guarding() -> None:
    from deskguard.bench.startup import bench

    results = bench(runs=1)

    _finite(results, ["startup_first_paint_s", "startup_guarding_s"])
    assert 0 < results["startup_first_paint_s"] <= results["startup_guarding_s"] < 60


def test_memory_reports_rss_after_warm_up_and_at_the_end() -> None:
    from deskguard.bench.memory import bench

    results = bench(quotes=3000)

    _finite(results, ["rss_start_mb", "rss_end_mb", "rss_growth_percent"])
    assert 10 < results["rss_start_mb"] < 4096 and 10 < results["rss_end_mb"] < 4096
    assert results["memory_quotes"] >= 3000  # every quote reached the guard's SDK
    assert results["memory_fills"] >= 2
    assert 0 < results["memory_quotes_to_guard"] <= results["memory_quotes"]


def test_engine_runs_a_trading_day_with_every_rule_at_its_shipped_parameters() -> None:
    from deskguard.bench.engine_throughput import bench

    results = bench(repeats=1, n=5000)

    _finite(results, ["engine_events_per_s", "engine_verdicts", "engine_decisions"])
    assert results["engine_events_per_s"] > 0
    assert results["engine_day_hours"] == 23  # the clock went through the whole trading day
    assert results["engine_clock_ticks"] > 0  # deadlines passed and were ticked
    assert results["engine_decisions"] > 0  # the rules acted (shipped limits, not opened wide)


def test_quick_flatten_from_the_command_line_keeps_the_other_figures(tmp_path) -> None:
    import json

    from deskguard.bench.__main__ import main

    out = tmp_path / "bench-results.json"
    out.write_text(json.dumps({"engine_events_per_s": 1.0, "flatten_p50_ms": -1.0}))

    assert main(["flatten", "--quick", "--out", str(out)]) == 0

    results = json.loads(out.read_text())
    assert results["engine_events_per_s"] == 1.0  # another benchmark's figure is kept
    assert results["flatten_breaches"] == 10
    for key in ("flatten_p50_ms", "flatten_p99_ms", "flatten_rtt_ms", "flatten_round_trips_p99",
                "flatten_requests_floor_p50_ms"):
        assert results[key] > 0, key


def test_a_storm_breach_no_request_answers_counts_as_missed_and_says_why(monkeypatch, capsys) -> None:
    """The driver against a gateway where the fill is pushed but no enforcement ever arrives."""
    from deskguard.bench import storm

    class Control:
        def place_order(self, account_id: int, symbol: str, side: str, size: int) -> dict:
            return {"orderId": 7}

        def pushes(self, target: str, since: int) -> list[dict]:
            return [{"seq": 1, "mono": 1.0, "arguments": [{"data": {"orderId": 7}}]}]

        def requests(self, since: int) -> list[dict]:
            return []

        def state(self, only: tuple[str, ...]) -> dict:
            return {"positions": [{"accountId": 1001, "size": 3}]}

    monkeypatch.setattr(storm, "ENFORCE_TIMEOUT_S", 0.05)
    reactions, missed = storm._inject_breaches(Control(), duration_s=0.01, every_s=1.0)
    assert (reactions, missed) == ([50.0], 1)
    assert "account 1001 (order 7) missed: no enforcement request within 0.05 s; size 3 then" in capsys.readouterr().err


def test_the_storm_app_s_window_is_never_shorter_than_asked_even_when_timers_fire_early(monkeypatch) -> None:
    """Under qasync a long sleep is a Qt timer that may end 5 % early; the storm app's warm-up and
    measured window (``_sleep_fully``) last at least what was asked all the same."""
    import asyncio
    import time

    from deskguard.bench import storm

    sleep = asyncio.sleep

    async def early(delay: float, *args: object) -> None:  # a timer that keeps to half its interval
        await sleep(delay / 2)

    monkeypatch.setattr(asyncio, "sleep", early)

    async def run() -> float:
        started = time.monotonic()
        await storm._sleep_fully(0.3)
        return time.monotonic() - started

    assert asyncio.run(run()) >= 0.3
