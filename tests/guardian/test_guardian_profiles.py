"""Firm profiles and per-account rules end to end: config.toml's [accounts."NAME"] tables → the
engine settings → the guardian over the real SDK → enforcement the simulator itself shows, on the
account concerned only."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from guardian_harness import ACCOUNT, MNQ_PRICE, OTHER, in_step, ok, sim_flat, sim_size, stays, wait_for

from deskguard.config import loads_config
from deskguard.engine.clock import FakeClock
from deskguard.engine.decisions import LockKind
from deskguard.guardian import NoticeLevel

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CT = ZoneInfo("America/Chicago")

#: Account 1001 a 50K Combine whose own daily loss limit is 100; account 1002 a 50K Express Funded
#: account funded at 50,000. Both without the session rule here (the suite runs at any hour),
#: switched off in their own tables: the shared enabled = false could not switch a profile's rule off.
TWO_ACCOUNTS = """
[rules.session_block]
enabled = false

[rules.max_contracts_per_instrument]
default_limit = 50

[rules.cooldown_after_loss]
enabled = false

[accounts."50KTC-V2-123456-1001"]
profile = "topstep_combine_50k"
[accounts."50KTC-V2-123456-1001".rules.daily_realized_loss]
max_loss = 100
[accounts."50KTC-V2-123456-1001".rules.session_block]
enabled = false

[accounts."1002"]
profile = "topstep_xfa_50k"
starting_balance = 50000
[accounts."1002".rules.session_block]
enabled = false
"""


async def round_trip_loss(rig, account_id: int, points: float) -> None:
    """Buy 1 MNQ, let the market fall ``points``, sell it back: a realized loss of 2 × points + fees."""
    sim = rig.sim
    ok(sim.place_order(account_id, "MNQ", "buy", 1))
    await wait_for(lambda: sim_size(sim, "MNQ", account_id) == 1, 3, f"{account_id} long 1 MNQ")
    sim.set_price("MNQ", MNQ_PRICE - points)
    ok(sim.close_position(account_id, "MNQ"))
    await in_step(rig, account_id)
    sim.set_price("MNQ", MNQ_PRICE)


async def test_two_accounts_are_guarded_each_by_its_own_profile_and_overrides(sim, make_guardian):
    config = loads_config(TWO_ACCOUNTS)
    rig = await make_guardian(config.engine_settings(), accounts=[ACCOUNT, OTHER])
    engine = rig.guardian.engine
    assert engine.account_settings(ACCOUNT).profile == "topstep_combine_50k"
    assert engine.account_settings(OTHER).profile == "topstep_xfa_50k"
    assert rig.snap(ACCOUNT).figures["daily_realized_loss"].limit == 100
    assert rig.snap(OTHER).figures["daily_realized_loss"].limit == 500
    assert "consistency" in rig.snap(ACCOUNT).figures and "consistency" not in rig.snap(OTHER).figures

    ok(sim.place_order(OTHER, "MES", "buy", 1))  # the funded account holds a position throughout
    await wait_for(lambda: sim_size(sim, "MES", OTHER) == 1, 3, "1002 long 1 MES")
    await round_trip_loss(rig, OTHER, 60.0)  # -120 and fees on 1002: under its 500
    await round_trip_loss(rig, ACCOUNT, 60.0)  # the same on 1001: past its own 100
    lock = await wait_for(lambda: rig.locks(ACCOUNT).get("daily_realized_loss"), 5, "1001 locked")
    assert lock.kind == LockKind.UNTIL_RESET
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # a locked account: closed on sight
    await wait_for(lambda: sim_flat(sim, ACCOUNT), 5, "1001 flat at the gateway")
    await stays(lambda: sim_size(sim, "MES", OTHER) == 1, 1.0, "1002's position untouched")
    assert rig.locks(OTHER) == {}


async def test_the_xfa_scaling_cap_reduces_an_oversize_position_counting_micros_at_a_tenth(sim, make_guardian):
    """A funded 50K account at its starting balance is in the plan's first tier: 2 contracts, where
    10 MNQ count as 1. 20 MNQ is the cap; 5 more are taken back off, at the gateway. (The table of
    an account not guarded here is said to guard nothing.)"""
    rig = await make_guardian(loads_config(TWO_ACCOUNTS).engine_settings(), accounts=[OTHER])
    alerts = [n.text for n in rig.watcher.of(NoticeLevel.ALERT)]
    assert alerts == ['config.toml has rules for account "50ktc-v2-123456-1001", which is not among the accounts '
                      "guarded: check its name (its rules guard nothing)"]
    assert rig.snap(OTHER).figures["max_contracts"].limit == 2
    ok(sim.place_order(OTHER, "MNQ", "buy", 20))
    await wait_for(lambda: sim_size(sim, "MNQ", OTHER) == 20, 3, "long 20 MNQ")
    await stays(lambda: sim_size(sim, "MNQ", OTHER) == 20, 0.7, "20 MNQ = 2 contracts: at the cap, kept")
    ok(sim.place_order(OTHER, "MNQ", "buy", 5))  # 2.5 weighted: 0.5 over, i.e. 5 MNQ
    await wait_for(lambda: sim_size(sim, "MNQ", OTHER) == 20, 5, "reduced back to 20 MNQ")
    await stays(lambda: sim_size(sim, "MNQ", OTHER) == 20, 0.5, "reduced once, not more")
    assert rig.locks(OTHER) == {}


async def test_the_combine_is_flat_at_1510_ct_by_its_profiles_session_and_the_close_is_kept(sim, make_guardian):
    """No session rule anywhere in the shared rules: the Combine profile alone brings Topstep's
    hours. A position open at 15:09 CT is flattened when 15:10 comes, the account locked until the
    17:00 session; the other account, without a profile, keeps its position. At the 17:00 reset the
    closing balance is recorded in the store, and a restarted guard reads it back."""
    text = """
[rules.session_block]
enabled = false
[accounts."50KTC-V2-123456-1001"]
profile = "topstep_combine_50k"
"""
    clock = FakeClock(datetime(2026, 12, 8, 15, 9, 30, tzinfo=CT))  # a Tuesday, inside the session
    settings = loads_config(text).engine_settings()
    rig = await make_guardian(settings, accounts=[ACCOUNT, OTHER], clock=clock)
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    ok(sim.place_order(OTHER, "MNQ", "buy", 1))
    await wait_for(lambda: sim_size(sim, "MNQ") == 1 and sim_size(sim, "MNQ", OTHER) == 1, 3, "both long")
    await stays(lambda: sim_size(sim, "MNQ") == 1, 0.7, "inside the session: kept")
    clock.set(datetime(2026, 12, 8, 15, 10, 1, tzinfo=CT))
    await wait_for(lambda: sim_flat(sim, ACCOUNT), 5, "1001 flat after 15:10 CT")
    lock = await wait_for(lambda: rig.locks(ACCOUNT).get("session_block"), 3, "session lock")
    assert (lock.kind, lock.until) == (LockKind.UNTIL_SESSION, datetime(2026, 12, 8, 17, 0, tzinfo=CT))
    await stays(lambda: sim_size(sim, "MNQ", OTHER) == 1, 0.7, "1002 has no profile: its position stays")

    balance = rig.snap(ACCOUNT).balance
    clock.set(datetime(2026, 12, 8, 17, 0, 2, tzinfo=CT))  # the reset
    await wait_for(lambda: rig.store.end_of_day_balances(ACCOUNT), 5, "the closing balance recorded")
    assert rig.store.end_of_day_balances(ACCOUNT) == [(datetime(2026, 12, 8).date(), balance)]
    await wait_for(lambda: not rig.locks(ACCOUNT), 5, "the session lock ends when the session opens")
    await rig.stop()
    again = await make_guardian(settings, store=rig.store, accounts=[ACCOUNT], clock=clock)
    state = again.guardian.engine.state(ACCOUNT)
    assert (state.day_open_balance, state.day_open_source) == (balance, "reset")  # not re-derived
    assert state.eod_high == max(50_000.0, balance)  # the highest end of day seen, the first balance included


HEADLESS_TWO_ACCOUNTS = """\
[connection]
accounts = ["50KTC-V2-123456-1001", "50KTC-V2-123456-1002"]
instruments = ["MNQ"]

[rules.session_block]
enabled = false

[rules.cooldown_after_loss]
enabled = false

[accounts."50KTC-V2-123456-1001"]
profile = "topstep_combine_50k"

[accounts."50KTC-V2-123456-1001".rules.daily_realized_loss]
max_loss = 50

[accounts."50KTC-V2-123456-1001".rules.session_block]
enabled = false
"""


async def test_headless_enforces_each_account_by_its_own_table(sim, tmp_path, processes):
    """``deskguard --headless`` with a config.toml naming two accounts: the same $60 loss locks the
    account whose own limit is 50 and leaves the other (the shared 500) trading."""
    from headless_harness import Headless, headless_env, make_home

    from deskguard.config import check_config

    home = make_home(tmp_path, HEADLESS_TWO_ACCOUNTS)
    printed = io.StringIO()
    assert check_config(home / "config.toml", out=printed) == 0
    assert "  50KTC-V2-123456-1001: profile topstep_combine_50k" in printed.getvalue()
    run = await Headless.start(headless_env(sim, home, "profiles-API-key-0123456789", "profiles-tester"))
    processes.append(run)
    await run.wait_line("guarding…")
    for account_id in (ACCOUNT, OTHER):
        ok(sim.place_order(account_id, "MNQ", "buy", 1))
        await wait_for(lambda a=account_id: sim_size(sim, "MNQ", a) == 1, 5, f"{account_id} long")
    sim.set_price("MNQ", MNQ_PRICE - 30)  # −$60 and fees once closed
    ok(sim.close_position(ACCOUNT, "MNQ"))
    ok(sim.close_position(OTHER, "MNQ"))
    await run.wait_line("[1001]", "LOCKED", "daily_realized_loss", timeout=10)
    sim.set_price("MNQ", MNQ_PRICE)
    mark = len(run.lines)
    ok(sim.place_order(OTHER, "MNQ", "buy", 1))
    await stays(lambda: sim_size(sim, "MNQ", OTHER) == 1, 1.5, "1002 trades on under the shared limit")
    assert not any("[1002]" in line and "LOCKED" in line for line in run.lines[mark:])
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: sim_size(sim, "MNQ", ACCOUNT) == 0, 8, "1001 closed on sight while locked")
