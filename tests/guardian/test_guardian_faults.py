"""The guardian under gateway faults, through the simulator's fault injection: hubs dropped while a
losing trade happens, Position/closeContract failing for a while or for good, malformed hub
messages of every kind."""

from __future__ import annotations

import logging

import pytest
from guardian_harness import (
    ACCOUNT,
    MES_PRICE,
    MNQ_PRICE,
    in_step,
    ok,
    requests_count,
    settings_with,
    sim_flat,
    sim_order,
    sim_realized,
    sim_size,
    sim_trade_ids,
    stays,
    wait_for,
)

from deskguard.broker.base import HubState
from deskguard.engine.decisions import LockKind
from deskguard.engine.state import AccountStatus
from deskguard.guardian import NoticeLevel
from deskguard.simulator import MalformedKind

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

DAILY_LOSS_100 = {"daily_realized_loss": {"max_loss": 100.0}, "cooldown_after_loss": {"enabled": False}}


async def hold(rig, symbol: str, side: str, size: int) -> None:
    ok(rig.sim.place_order(ACCOUNT, symbol, side, size))
    await wait_for(lambda: any(p.symbol == symbol for p in rig.snap().positions), 3, f"guardian sees {symbol}")


# ----- hubs dropped while a losing trade happens ----------------------------------------------------

async def test_a_loss_taken_while_the_hubs_are_down_is_counted_once_and_enforced(sim, make_guardian):
    rig = await make_guardian(settings_with(**DAILY_LOSS_100))
    await hold(rig, "MES", "buy", 1)
    await hold(rig, "MNQ", "buy", 2)
    order = ok(sim.place_order(ACCOUNT, "MES", "buy", 1, "limit", limit_price=MES_PRICE - 500)).order_id
    await wait_for(lambda: rig.snap().orders, 3, "guardian sees the working order")

    sim.drop_hub_connections(refuse_s=2.0)  # both hubs gone; reconnects refused for 2 s
    await wait_for(lambda: not rig.guardian.health.guarding, 3, "the guardian knows it is not guarding")
    assert rig.snap().status == AccountStatus.NOT_GUARDING
    # The trader takes a −$120 loss while nothing can be pushed.
    sim.set_price("MNQ", MNQ_PRICE - 30)
    ok(sim.close_position(ACCOUNT, "MNQ"))
    assert rig.guardian.health.user_hub != HubState.CONNECTED
    assert requests_count(sim, "Position/closeContract") == 0

    # After the reconnect the re-sync finds the trade, counts it once, and enforces.
    await wait_for(lambda: sim_flat(sim), 10, "flat after the reconnect")
    assert sim_order(sim, order)["status"] == 3
    lock = await wait_for(lambda: rig.locks().get("daily_realized_loss"), 3, "locked after the re-sync")
    assert lock.kind == LockKind.UNTIL_RESET
    await wait_for(lambda: rig.guardian.health.guarding, 5, "guarding again")
    await wait_for(lambda: rig.snap().realized_day == pytest.approx(sim_realized(sim)), 3, "realized P&L in step")
    state = rig.guardian.engine.state(ACCOUNT)
    assert set(state.trades_today) == sim_trade_ids(sim)
    alerts = [n.text for n in rig.watcher.of(NoticeLevel.ALERT)]
    assert any("NOT GUARDING" in t for t in alerts)

    # Another drop and re-sync (no refusal) reads the same trades again: still counted once.
    searches = requests_count(sim, "Trade/search")
    sim.drop_hub_connections()
    await wait_for(lambda: requests_count(sim, "Trade/search") > searches and rig.guardian.health.guarding, 8,
                   "reconnected and the day's trades read again")
    await stays(lambda: rig.snap().realized_day == pytest.approx(sim_realized(sim)), 1.0, "not double counted")
    assert set(state.trades_today) == sim_trade_ids(sim)
    assert rig.snap().status == AccountStatus.LOCKED


# ----- Position/closeContract failing ---------------------------------------------------------------

async def test_close_contract_failing_three_times_is_retried_until_flat_and_audited(sim, make_guardian):
    rig = await make_guardian(settings_with(**DAILY_LOSS_100))
    await hold(rig, "MES", "buy", 1)
    await hold(rig, "MNQ", "buy", 1)
    sim.fail_next("Position/closeContract", count=3, status=500)
    sim.set_price("MNQ", MNQ_PRICE - 60)
    ok(sim.close_position(ACCOUNT, "MNQ"))  # −$120.74: flatten, whose MES close fails 3 times

    await wait_for(lambda: sim_flat(sim), 6, "flat after the retries")
    calls = sim.requests("Position/closeContract")
    assert [c.status for c in calls] == [500, 500, 500, 200]
    assert await wait_for(lambda: rig.locks().get("daily_realized_loss"), 3, "locked")

    def audited():
        rows = rig.store.audit_entries(account_id=ACCOUNT, contains="Position/closeContract")
        return rows if len(rows) >= 4 else None

    rows = await wait_for(audited, 3, "every try in the audit log")
    rows = [r for r in rows if r.broker_call == "Position/closeContract"]
    assert [r.result for r in rows] == ["failed", "failed", "failed", "ok"]
    assert [f"(try {n})" in r.detail for n, r in enumerate(rows, 1)] == [True] * 4
    assert all(r.rule == "daily_realized_loss" and r.latency_ms is not None for r in rows)
    assert rig.snap().not_flat_alert is None
    assert not rig.watcher.of(NoticeLevel.ALERT, ACCOUNT)


async def test_close_contract_failing_for_good_raises_an_alert_until_flat(sim, make_guardian):
    rig = await make_guardian(settings_with(**DAILY_LOSS_100))
    rig.guardian.enforcer.backoff = (0.05, 0.1)  # bounded retries, kept short for the test
    rig.guardian.enforcer.rounds = 2
    await hold(rig, "MES", "buy", 1)
    await hold(rig, "MNQ", "buy", 1)
    sim.fail_next("Position/closeContract", count=100_000, status=500)
    sim.set_price("MNQ", MNQ_PRICE - 60)
    ok(sim.close_position(ACCOUNT, "MNQ"))

    notice = await wait_for(lambda: rig.watcher.of(NoticeLevel.ALERT, ACCOUNT), 8, "an ALERT notice")
    assert "ENFORCEMENT FAILED" in notice[0].text and "MES" in notice[0].text
    await wait_for(lambda: rig.snap().not_flat_alert, 3, "not_flat_alert on the snapshot")
    snap = rig.snap()
    assert snap.status == AccountStatus.LOCKED
    assert sim_size(sim, "MES") == 1  # really not flat
    await wait_for(lambda: rig.store.audit_entries(account_id=ACCOUNT, contains="ENFORCEMENT FAILED"), 3,
                   "the failure in the audit log")

    # The gateway recovers: the guardian keeps at it, gets flat, and the alert clears.
    sim.clear_faults()
    await wait_for(lambda: sim_flat(sim), 8, "flat once closes work again")
    await wait_for(lambda: rig.snap().not_flat_alert is None, 3, "the alert clears when flat")


# ----- malformed hub messages -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(MalformedKind), ids=lambda k: k.value)
async def test_malformed_hub_messages_are_skipped_and_enforcement_goes_on(sim, make_guardian, kind, caplog):
    caplog.set_level(logging.WARNING, logger="deskguard")
    rig = await make_guardian(settings_with(max_contracts_per_instrument={"limits": {"MNQ": 1}, "action": "close"},
                                            daily_unrealized_loss={"max_loss": 100.0},
                                            cooldown_after_loss={"enabled": False}))
    consumer = rig.guardian._tasks[0]
    connects = len(sim.hub_events(kind="connect"))
    assert sim.send_malformed("user", kind) >= 1
    assert sim.send_malformed("market", kind) >= 1
    if kind in (MalformedKind.INVALID_JSON, MalformedKind.CLOSE_WITH_ERROR):
        # These end the SDK's connection tasks: the guardian's broker must notice and reconnect.
        await wait_for(lambda: {e.hub for e in sim.hub_events(kind="connect")[connects:]} == {"user", "market"}, 8,
                       "both hubs connected anew")
    await wait_for(lambda: rig.guardian.health.guarding and sim.hub_connection_count() == 2, 8, "hubs up")

    # User-hub events still drive enforcement: an oversize MNQ position is closed.
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 2))
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 8, "MNQ closed after the malformed messages")
    # Market-hub quotes still drive enforcement: an open loss on MES is closed.
    ok(sim.place_order(ACCOUNT, "MES", "buy", 1))
    await wait_for(lambda: any(p.symbol == "MES" for p in rig.snap().positions), 5, "guardian sees MES")
    sim.set_price("MES", MES_PRICE - 30)  # −$150 open
    await wait_for(lambda: sim_size(sim, "MES") == 0, 8, "MES closed on a quote")

    assert rig.guardian.running and not consumer.done()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("deskguard")]
    if kind is MalformedKind.MISSING_FIELDS:
        assert any("skipped a malformed position" in r.getMessage() for r in caplog.records)
    await in_step(rig)
