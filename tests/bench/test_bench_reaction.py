"""The reaction benchmark with ``--load``, in a tiny configuration: every idle and loaded figure is
there and positive, and the competitor processes never outlive it. Not timed: nothing here asserts
how fast anything is."""

from __future__ import annotations

import math
import os

import pytest

from deskguard.bench.load import CpuLoad

pytestmark = pytest.mark.integration

LOADED = ["reaction_loaded_p50_ms", "reaction_loaded_p99_ms", "sdk_floor_loaded_p50_ms", "sdk_floor_loaded_p99_ms",
          "reaction_loaded_ratio_p50", "reaction_loaded_ratio_p99"]
IDLE = ["reaction_p50_ms", "reaction_p99_ms", "sdk_floor_p50_ms", "sdk_floor_p99_ms", "reaction_over_floor_p50",
        "reaction_over_floor_p99"]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone too (waited for by nobody yet): read its state.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] == "Z"


def test_reaction_reports_idle_and_loaded_figures_against_the_floor() -> None:
    from deskguard.bench.reaction import bench

    results = bench(n=3, load=1)

    for key in IDLE + LOADED:
        assert key in results, key
        assert isinstance(results[key], (int, float)) and math.isfinite(results[key]) and results[key] > 0, key
    assert results["reaction_breaches"] == results["reaction_loaded_breaches"] == 3
    assert results["reaction_load_processes"] == 1
    assert results["reaction_loaded_ratio_p99"] == pytest.approx(
        results["reaction_loaded_p99_ms"] / results["sdk_floor_loaded_p99_ms"], abs=0.01)
    assert results["reaction_gc_max_ms"] >= 0 and results["reaction_loaded_gc_max_ms"] >= 0


def test_without_load_only_the_idle_figures_are_reported() -> None:
    from deskguard.bench.reaction import bench

    results = bench(n=2)

    assert results["reaction_breaches"] == 2 and results["reaction_p99_ms"] > 0
    assert not [k for k in results if "loaded" in k]


def test_competitors_spin_while_running_and_are_ended_even_on_failure() -> None:
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt), CpuLoad(2) as load:
        pids = [p.pid for p in load.processes]
        assert load.alive() == 2
        raise KeyboardInterrupt  # Ctrl-C in the middle of a measurement
    assert len(pids) == 2
    assert all(_gone(pid) for pid in pids)


def test_load_from_the_command_line_writes_loaded_figures_beside_the_others(tmp_path) -> None:
    import json

    from deskguard.bench.__main__ import main

    out = tmp_path / "bench-results.json"
    out.write_text(json.dumps({"engine_events_per_s": 1.0, "reaction_loaded_p99_ms": -1.0}))

    assert main(["reaction", "--breaches", "2", "--load", "1", "--out", str(out)]) == 0

    results = json.loads(out.read_text())
    assert results["engine_events_per_s"] == 1.0  # another benchmark's figure is kept
    assert results["reaction_loaded_p99_ms"] > 0  # this run's, not the old one
    assert results["reaction_load_processes"] == 1


def test_the_trace_stamps_every_stage_of_each_breach_and_puts_the_methods_back(monkeypatch) -> None:
    """``python -m deskguard.bench.reaction_trace``: each breach's path from the push to the request,
    step by step, and what ran beside it; the wrapped methods are the originals again afterwards."""
    import asyncio

    from project_x_py import ProjectX
    from project_x_py.realtime import ProjectXRealtimeClient

    from deskguard.bench import reaction_trace
    from deskguard.broker.session import Session
    from deskguard.guardian.core import Guardian

    before = (Session.post, Guardian._handle, Guardian.submit_event, ProjectX._make_request,
              ProjectXRealtimeClient._trigger_callbacks, asyncio.Handle._run)
    monkeypatch.setattr(reaction_trace, "SLOW_STEP_S", 0.0)  # every loop step counts as slow here
    result = asyncio.run(reaction_trace._run(12, 0))
    assert (Session.post, Guardian._handle, Guardian.submit_event, ProjectX._make_request,
            ProjectXRealtimeClient._trigger_callbacks, asyncio.Handle._run) == before
    # The guard's loop steps beside each breach are named by task or callback: its consumer, which
    # decides every breach, among them; the tail's are some of all of them.
    guard = result["deskguard"]
    assert guard["all_slow_steps"]["task Guardian._consume"] == 12
    assert set(guard["tail_slow_steps"]) <= set(guard["all_slow_steps"])
    assert guard["slow_step_ms"]["task Guardian._consume"].startswith(tuple("123456789"))  # "Nx, median …"
    paths = {"deskguard": ["push→callback", "callback→queued", "queued→decided", "decided→post", "post→request"],
             "floor": ["push→callback", "callback→post", "post→request"]}
    assert list(result) == ["floor", "deskguard"]  # both sides, in the benchmark's order
    for side, figures in result.items():
        assert figures["breaches"] == 12
        assert figures["p99_ms"] >= figures["p50_ms"] > 0
        steps = figures["median_steps_ms"]
        assert list(steps) == paths[side]  # every mark was seen, in the path's order
        assert all(ms >= 0 for ms in steps.values()) and sum(steps.values()) > 0
        # The steps of a breach add up to its time, which the simulator measured in its process.
        assert sum(steps.values()) <= figures["p99_ms"] + 0.01
        assert sum(figures["tail_longest_step"].values()) == figures["tail"] >= 1
