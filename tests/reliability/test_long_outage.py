"""A long outage of both hubs with trades during it: the guardian says NOT GUARDING the whole time,
comes back by itself, re-syncs, counts every trade once and enforces what happened meanwhile.

What was measured (``project-x-py`` 4.4.1 against the simulator): with both hubs dropped and every
reconnect refused, the SDK's own reconnect gives up for good after ~1.5 s (its websocket reconnect
is refused, it negotiates once more, gets 503, and the hub's connection task ends): on its own it
never comes back from an outage longer than that. The broker's watchdog rebuilds the hubs with a
back-off of 0.5 s doubling up to ``max_rebuild_backoff`` (10 s by default): after a refusal of
3 minutes it was guarding again 9.2 s after the refusal ended (23 rebuilds, one every ~10 s).

Compressed here: the production watchdog timings except ``max_rebuild_backoff`` = 2 s (five times
shorter), and a 15 s refusal — ten times what the SDK survives, long enough for seven failed
rebuilds and for the back-off to sit at its cap, i.e. the same regime as a minutes-long outage.
"""

from __future__ import annotations

import time

import pytest
from guardian_harness import (
    ACCOUNT,
    MES_PRICE,
    MNQ_PRICE,
    ok,
    settings_with,
    sim_flat,
    sim_order,
    sim_realized,
    sim_trade_ids,
    stays,
    wait_for,
)

from deskguard.broker.base import HubState
from deskguard.engine.decisions import LockKind
from deskguard.engine.state import AccountStatus
from deskguard.guardian import NoticeLevel

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

OUTAGE_S = 15.0
MAX_REBUILD_BACKOFF_S = 2.0
PRODUCTION_WATCHDOG = {"watchdog_interval": 0.5, "reconnect_grace": 3.0, "max_rebuild_backoff": MAX_REBUILD_BACKOFF_S}


async def test_a_long_outage_with_trades_is_shown_then_resynced_counted_once_and_enforced(sim, make_guardian):
    rig = await make_guardian(
        settings_with(daily_realized_loss={"max_loss": 100.0}, cooldown_after_loss={"enabled": False},
                      daily_unrealized_loss={"enabled": False}),
        **PRODUCTION_WATCHDOG,
    )
    ok(sim.place_order(ACCOUNT, "MES", "buy", 1))
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: len(rig.snap().positions) == 2, 3, "guardian sees both positions")
    searches_before = len(sim.requests("Trade/search"))

    began = time.monotonic()
    sim.drop_hub_connections(refuse_s=OUTAGE_S)
    await wait_for(lambda: not rig.guardian.health.guarding, 3, "the guardian knows it is not guarding")
    assert rig.snap().status == AccountStatus.NOT_GUARDING
    alert = await wait_for(lambda: [n for n in rig.watcher.of(NoticeLevel.ALERT) if "NOT GUARDING" in n.text], 2,
                           "a NOT GUARDING alert")
    assert alert[0].account_id is None  # for every account

    # The trader keeps trading in the web screen while nothing can be pushed: a winner, a big loser
    # (the day goes to about −$222: over the limit of 100), a new position and a working order.
    sim.set_price("MNQ", MNQ_PRICE + 10)
    ok(sim.close_position(ACCOUNT, "MNQ"))  # +$19.26
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 2))
    sim.set_price("MNQ", MNQ_PRICE - 50)
    ok(sim.close_position(ACCOUNT, "MNQ"))  # −$241.48
    sim.set_price("MNQ", MNQ_PRICE)
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    order = ok(sim.place_order(ACCOUNT, "MES", "buy", 1, "limit", limit_price=MES_PRICE - 300)).order_id

    # Loudly not guarding for the whole outage, and nothing pretends otherwise.
    await stays(lambda: rig.snap().status == AccountStatus.NOT_GUARDING and not rig.guardian.health.guarding,
                OUTAGE_S - (time.monotonic() - began) - 0.3, "NOT GUARDING through the outage")
    assert rig.guardian.health.user_hub != HubState.CONNECTED
    assert rig.locks() == {} and sim.requests("Position/closeContract") == []
    assert len(sim.hub_events(kind="refused")) >= 6  # the watchdog kept trying, with back-off

    # After the refusal: back by itself within one back-off step (plus connecting), then re-synced.
    await wait_for(lambda: rig.guardian.health.guarding, MAX_REBUILD_BACKOFF_S + 4, "guarding again")
    recovered_after = time.monotonic() - began - OUTAGE_S
    assert recovered_after < MAX_REBUILD_BACKOFF_S + 4

    # What happened meanwhile is enforced: flatten (the working order too) and lock until the reset.
    await wait_for(lambda: sim_flat(sim), 5, "flat after the re-sync")
    assert len(sim.requests("Trade/search")) > searches_before  # the day's trades read again
    assert sim_order(sim, order)["status"] == 3
    lock = await wait_for(lambda: rig.locks().get("daily_realized_loss"), 3, "locked")
    assert lock.kind == LockKind.UNTIL_RESET
    await wait_for(lambda: "daily_realized_loss" in rig.stored_locks(), 3, "the lock committed")

    # Every trade counted once: the guardian's figure is the gateway's, trade by trade.
    await wait_for(lambda: rig.snap().realized_day == pytest.approx(sim_realized(sim)), 3, "realized P&L in step")
    assert set(rig.guardian.engine.state(ACCOUNT).trades_today) == sim_trade_ids(sim)
    await stays(lambda: rig.snap().realized_day == pytest.approx(sim_realized(sim)), 1.0, "not counted twice")
    assert rig.snap().realized_day == pytest.approx(19.26 - 241.48 - 0.74 * 2, abs=0.01)  # and the closes'
    assert any("guarding again" in n.text for n in rig.watcher.of(NoticeLevel.INFO))
    assert rig.store.audit_entries(contains="NOT GUARDING")  # in the audit log too
    assert rig.snap().status == AccountStatus.LOCKED
