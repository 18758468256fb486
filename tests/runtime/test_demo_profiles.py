"""``deskguard --demo`` shows firm profiles without credentials: its three simulator accounts are
guarded under three different profiles, each by its own figures."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_the_demos_three_accounts_run_three_profiles(tmp_path, monkeypatch):
    from deskguard.runtime import start_runtime

    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path))
    runtime = await start_runtime(demo=True, simulator_seed=3)
    try:
        guardian = runtime.guardian
        assert sorted(guardian.accounts) == [1001, 1002, 1003]
        profiles = {a: guardian.engine.account_settings(a).profile for a in guardian.accounts}
        assert profiles == {1001: "topstep_combine_50k", 1002: "topstep_xfa_50k", 1003: "topstep_combine_100k"}
        figures = {a: guardian.snapshot(a).figures for a in guardian.accounts}
        assert figures[1002]["max_contracts"].limit == 3  # 1,600 over its funded 50,000: the 1,500 tier
        assert figures[1001]["max_contracts"].limit == 5 and figures[1003]["max_contracts"].limit == 10
        assert figures[1003]["consistency"].text == "today may make 1,000.00 more (cap 1,000.00)"
        assert "consistency" not in figures[1002]  # no consistency rule on a funded account
        assert guardian.snapshot(1001).trailing_floor == 48_000.0
        assert guardian.snapshot(1003).trailing_floor == 98_000.0
        assert "session_block" not in figures[1001]  # the demo can be tried at any hour
    finally:
        await runtime.stop()
