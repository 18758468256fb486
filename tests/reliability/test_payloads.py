"""Gateway payloads repeated, reordered, padded with unknown fields, or broken, through the real
SDK's hub: skipped or tolerated, never a crash, never a double count — the guardian's realized P&L
stays the simulator's, trade for trade."""

from __future__ import annotations

import asyncio
import logging

import pytest
from guardian_harness import (
    ACCOUNT,
    MES_PRICE,
    MNQ_PRICE,
    in_step,
    ok,
    settings_with,
    sim_realized,
    sim_trade_ids,
    stays,
    wait_for,
)

from deskguard.guardian import NoticeLevel
from deskguard.simulator import Hub
from deskguard.simulator.hubs import invocation

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

QUIET_RULES = settings_with(daily_realized_loss={"max_loss": 5000.0}, cooldown_after_loss={"enabled": False},
                            daily_unrealized_loss={"enabled": False}, trade_frequency={"enabled": False})


async def round_trip(rig, symbol: str, size: int, price: float, move: float) -> None:
    sim = rig.sim
    sim.set_price(symbol, price)
    ok(sim.place_order(ACCOUNT, symbol, "buy", size))
    await wait_for(lambda: any(p.symbol == symbol for p in rig.snap().positions), 3, f"guardian sees {symbol}")
    sim.set_price(symbol, price + move)
    ok(sim.close_position(ACCOUNT, symbol))
    sim.set_price(symbol, price)
    await in_step(rig)


def send_trade(sim, payload: object) -> int:
    """A GatewayUserTrade carrying ``payload`` as is (the simulator's raw-frame injection)."""
    return sim.hubs.send_raw(Hub.USER, invocation("GatewayUserTrade", [payload]), "<test trade>")


@pytest.mark.parametrize("form", ["bare", "wrapped"])
async def test_repeated_reordered_padded_and_broken_payloads_never_double_count(sim, make_guardian, form, caplog):
    caplog.set_level(logging.WARNING, logger="deskguard")
    sim.set_payload_form(form, "user")
    rig = await make_guardian(QUIET_RULES)
    consumer = rig.guardian._tasks[0]
    await round_trip(rig, "MNQ", 1, MNQ_PRICE, +5)  # +$9.26
    await round_trip(rig, "MES", 2, MES_PRICE, -3)  # −$31.48
    await round_trip(rig, "MNQ", 3, MNQ_PRICE, -2)  # −$14.22
    realized = rig.snap().realized_day
    assert realized == pytest.approx(9.26 - 31.48 - 14.22, abs=0.01)
    trade_ids = sim_trade_ids(sim)
    assert len(trade_ids) == 6

    # Duplicates: the last 20 user events again, as the gateway sent them.
    assert sim.replay_user_pushes(20) >= 20
    # Out of order: every trade again, newest first.
    assert sim.replay_user_pushes(6, target="GatewayUserTrade", reverse=True) == 6
    # Unknown fields: every trade again, padded with fields nobody has heard of.
    assert sim.replay_user_pushes(6, target="GatewayUserTrade", extra_fields=True) == 6
    # Broken: trades without an id, with P&L that is not a number, a non-positive size, a bad time,
    # wrong shapes; and the simulator's own malformed messages on both hubs.
    real = next(t for t in sim.state()["trades"] if t["profitAndLoss"] is not None)
    for broken in (
        {**real, "id": None}, {**real, "id": 990001, "profitAndLoss": "a lot"}, {**real, "id": 990002, "size": 0},
        {**real, "id": 990003, "creationTimestamp": "yesterday"}, {**real, "id": "nine"}, "a string", [], 42,
        {"action": 1, "data": "nothing"}, {"action": 1, "data": [{**real, "id": 990004, "accountId": None}]},
        {**real, "id": 990005, "side": 7}, {**real, "id": 990006, "price": float("nan")},
    ):
        assert send_trade(sim, broken) == 1
    for kind in ("unknown_fields", "missing_fields", "unknown_target"):
        sim.send_malformed("user", kind)
        sim.send_malformed("market", kind)

    await stays(lambda: rig.snap().realized_day == pytest.approx(realized), 1.5, "nothing counted twice")
    assert rig.snap().realized_day == pytest.approx(sim_realized(sim))
    state = rig.guardian.engine.state(ACCOUNT)
    assert set(state.trades_today) == trade_ids  # none of the broken ones got in
    assert len(rig.store.trades(ACCOUNT, state.day_start)) == len(trade_ids)
    assert rig.guardian.running and not consumer.done()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("deskguard")]
    assert any("skipped a malformed trade" in r.getMessage() for r in caplog.records)

    # The feed is still healthy: a new trade counts, once.
    await round_trip(rig, "MES", 1, MES_PRICE, +4)  # +$19.26
    assert sim.replay_user_pushes(8) >= 8
    await stays(lambda: rig.snap().realized_day == pytest.approx(sim_realized(sim)), 0.8, "in step")
    assert rig.snap().realized_day == pytest.approx(realized + 19.26, abs=0.01)


async def test_events_out_of_order_leave_no_phantom_to_enforce_against(sim, make_guardian, caplog):
    """Every event of a round trip again, newest first: stale order updates are dropped (by their
    update time); a position update has no time, so the guardian may see the closed position as
    open — the first enforcement finds nothing at the broker, re-syncs, and the phantom is gone:
    no loop of failing closes at every quote, no alert."""
    caplog.set_level(logging.INFO, logger="deskguard")
    rig = await make_guardian(settings_with(daily_unrealized_loss={"max_loss": 20.0}, cooldown_after_loss={"enabled": False}))
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: rig.snap().positions, 3, "guardian sees the position")
    ok(sim.close_position(ACCOUNT, "MNQ"))
    await in_step(rig)
    await wait_for(lambda: not rig.snap().positions and not rig.snap().orders, 3, "flat in the guardian")
    realized = rig.snap().realized_day

    assert sim.replay_user_pushes(20, reverse=True) >= 8
    await wait_for(lambda: rig.snap().positions, 3, "the stale position update taken (it carries no time)")
    assert not rig.snap().orders  # stale order updates were dropped
    for step in range(1, 8):  # the market falls: the phantom's open loss passes the limit of 20
        sim.set_price("MNQ", MNQ_PRICE - 5 * step)
        await asyncio.sleep(0.3)
    await wait_for(lambda: not rig.snap().positions, 5, "the phantom gone after a re-sync")
    closes = len(sim.requests("Position/closeContract"))
    for step in range(8, 14):
        sim.set_price("MNQ", MNQ_PRICE - 5 * step)
        await asyncio.sleep(0.2)
    assert len(sim.requests("Position/closeContract")) == closes  # no more closes against nothing
    assert not rig.watcher.of(NoticeLevel.ALERT, ACCOUNT)
    assert rig.snap().realized_day == pytest.approx(realized) == pytest.approx(sim_realized(sim))
    assert any("re-syncing its picture" in r.getMessage() for r in caplog.records)

