"""Fees on every fill (issue 17), judged at the gateway: days where the opening half-turns' fees
alone take a limit over — the closing trades alone stay just under it. Counting fees only on
closing trades (as DeskGuard did, and as the simulator charged them) enforces none of these.

MES: $5 a point, 0.37 a side in fees. 10 MES bought (fees 3.70), the market 1.75 points lower
(-87.50), sold (fees 3.70): closing trades alone -91.20, with the opening fees -94.90.
"""

from __future__ import annotations

import pytest
from guardian_harness import ACCOUNT, MES_PRICE, ok, settings_with, sim_flat, sim_realized, wait_for

from deskguard.engine.decisions import LockKind

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

ROOM = {"max_contracts": {"limit": 20}, "max_contracts_per_instrument": {"limits": {"MES": 20}},
        "cooldown_after_loss": {"enabled": False}}


async def round_trip_losing_87_50(rig) -> None:
    sim = rig.sim
    ok(sim.place_order(ACCOUNT, "MES", "buy", 10))
    await wait_for(lambda: rig.snap().positions, 3, "guardian sees 10 MES")
    sim.set_price("MES", MES_PRICE - 1.75)
    ok(sim.close_position(ACCOUNT, "MES"))
    assert sim_realized(sim) == pytest.approx(-94.90)


async def test_opening_fees_take_the_day_over_the_daily_loss_limit(sim, make_guardian):
    rig = await make_guardian(settings_with(**ROOM, daily_realized_loss={"max_loss": 93.0, "warn_at": 1.0}))
    await round_trip_losing_87_50(rig)
    lock = await wait_for(lambda: rig.stored_locks().get("daily_realized_loss"), 5, "locked until the reset")
    assert lock.kind == LockKind.UNTIL_RESET
    assert "-94.90 (net of fees)" in lock.reason
    assert rig.snap().realized_day == pytest.approx(-94.90)


async def test_opening_fees_take_the_week_over_the_weekly_loss_limit(sim, make_guardian):
    rig = await make_guardian(settings_with(**ROOM, daily_realized_loss={"enabled": False},
                                            weekly_realized_loss={"enabled": True, "max_loss": 93.0, "warn_at": 1.0}))
    await round_trip_losing_87_50(rig)
    lock = await wait_for(lambda: rig.stored_locks().get("weekly_realized_loss"), 5, "locked until the weekly reset")
    assert lock.kind == LockKind.UNTIL_RESET
    assert "(net of fees)" in lock.reason


async def test_the_opening_fee_takes_equity_to_the_trailing_floor(sim, make_guardian):
    """014 counts balance + open P&L; the gateway takes the opening fee from the balance at the
    fill: 50,000 - 3.70 - 87.50 = 49,908.80, at or below a floor of 49,910 (without the opening
    fee the equity would be 49,912.50, above it). The guard flattens an account still open. (014
    reads the gateway's balance, so here it was the simulator that had to charge as the gateway
    does; the two tests above fail on the engine's old fee count.)"""
    rig = await make_guardian(settings_with(**ROOM, daily_realized_loss={"enabled": False},
                                            daily_unrealized_loss={"enabled": False},
                                            trailing_drawdown={"enabled": True, "max_drawdown": 90.0, "buffer": 0.0,
                                                               "high_water_mark": 50_000.0, "warn_at": 1.0}))
    ok(sim.place_order(ACCOUNT, "MES", "buy", 10))
    await wait_for(lambda: rig.snap().balance == pytest.approx(49_996.30), 3, "the opening fee taken from the balance")
    sim.set_price("MES", MES_PRICE - 1.75)
    lock = await wait_for(lambda: rig.stored_locks().get("trailing_drawdown"), 5, "locked at the floor")
    assert lock.kind == LockKind.UNTIL_RESET
    await wait_for(lambda: sim_flat(sim), 5, "flattened by the guard")
