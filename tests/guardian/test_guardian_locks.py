"""Locks end to end: close on sight while locked (web-screen trades), several accounts in different
states, canTrade false and back, and a guardian restart over the same store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from guardian_harness import (
    ACCOUNT,
    MNQ_PRICE,
    OTHER,
    THIRD,
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

from deskguard.engine.decisions import Lock, LockKind
from deskguard.engine.state import AccountStatus

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

DAILY_LOSS_50 = {"daily_realized_loss": {"max_loss": 50.0}, "cooldown_after_loss": {"enabled": False}}


async def lose_the_day(rig, account_id: int = ACCOUNT, points: float = 30.0) -> None:
    """The trader buys 1 MNQ, the market falls ``points``, the trader closes: daily limit of 50 hit."""
    sim = rig.sim
    sim.set_price("MNQ", MNQ_PRICE)
    ok(sim.place_order(account_id, "MNQ", "buy", 1))
    await wait_for(lambda: rig.snap(account_id).positions, 3, "guardian sees the position")
    sim.set_price("MNQ", MNQ_PRICE - points)
    ok(sim.close_position(account_id, "MNQ"))
    await wait_for(lambda: "daily_realized_loss" in rig.stored_locks(account_id), 5, "lock committed")
    await wait_for(lambda: "daily_realized_loss" in rig.locks(account_id), 3, "lock shown")
    sim.set_price("MNQ", MNQ_PRICE)


async def test_while_locked_web_screen_positions_are_closed_and_orders_cancelled(sim, make_guardian):
    rig = await make_guardian(settings_with(**DAILY_LOSS_50))
    await lose_the_day(rig)
    assert rig.snap().status == AccountStatus.LOCKED
    closes = requests_count(sim, "Position/closeContract")

    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 2))  # from the web screen, while locked
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the new position closed on sight")
    assert requests_count(sim, "Position/closeContract") > closes
    order = ok(sim.place_order(ACCOUNT, "MES", "buy", 1, "limit", limit_price=5000.0)).order_id
    await wait_for(lambda: sim_order(sim, order)["status"] == 3, 5, "the working order cancelled on sight")
    stop = ok(sim.place_order(ACCOUNT, "MNQ", "sell", 1, "stop", stop_price=MNQ_PRICE - 50)).order_id
    await wait_for(lambda: sim_order(sim, stop)["status"] == 3, 5, "a stop order cancelled on sight too")
    await wait_for(lambda: sim_flat(sim), 3, "flat")
    assert rig.snap().status == AccountStatus.LOCKED
    await in_step(rig)


async def test_two_accounts_in_different_states_and_can_trade_false_then_back(sim, make_guardian):
    rig = await make_guardian(settings_with(**DAILY_LOSS_50))
    assert set(rig.guardian.accounts) == {ACCOUNT, OTHER, THIRD}
    await lose_the_day(rig, ACCOUNT)

    # 1002 is OK: its position stays open while 1001 stays locked.
    ok(sim.place_order(OTHER, "MNQ", "buy", 1))
    await wait_for(lambda: rig.snap(OTHER).positions, 3, "guardian sees 1002's position")
    await stays(lambda: sim_size(sim, "MNQ", OTHER) == 1, 0.6, "1002's position left alone")
    assert rig.snap(OTHER).status == AccountStatus.OK and rig.snap(OTHER).locks == ()
    assert rig.snap(ACCOUNT).status == AccountStatus.LOCKED

    # 1003: the broker turns trading off → flatten (best effort) and lock until_can_trade.
    order = ok(sim.place_order(THIRD, "MES", "buy", 1, "limit", limit_price=5000.0)).order_id
    ok(sim.place_order(THIRD, "MNQ", "sell", 1))
    await wait_for(lambda: rig.snap(THIRD).positions and rig.snap(THIRD).orders, 3, "guardian sees 1003's trades")
    sim.set_account(THIRD, can_trade=False)
    await wait_for(lambda: sim_flat(sim, THIRD), 5, "1003 flat in the simulator")
    assert sim_order(sim, order)["status"] == 3
    lock = await wait_for(lambda: rig.locks(THIRD).get("auth_loss_guard"), 3, "1003 locked")
    assert lock.kind == LockKind.UNTIL_CAN_TRADE
    await wait_for(lambda: rig.snap(THIRD).status == AccountStatus.LOCKED, 3, "1003 shows LOCKED")
    assert sim_size(sim, "MNQ", OTHER) == 1 and rig.snap(OTHER).status == AccountStatus.OK

    # Back to true: 1003's lock ends (and only it); 1001 stays locked until the reset.
    sim.set_account(THIRD, can_trade=True)
    await wait_for(lambda: not rig.snap(THIRD).locks, 3, "1003's lock ended")
    await wait_for(lambda: rig.snap(THIRD).status == AccountStatus.OK, 3, "1003 OK again")
    await wait_for(lambda: not rig.stored_locks(THIRD), 3, "1003's stored lock ended")
    assert rig.snap(ACCOUNT).status == AccountStatus.LOCKED
    assert "daily_realized_loss" in rig.stored_locks(ACCOUNT)
    ok(sim.place_order(THIRD, "MNQ", "buy", 1))
    await wait_for(lambda: rig.snap(THIRD).positions, 3, "guardian sees 1003's new position")
    await stays(lambda: sim_size(sim, "MNQ", THIRD) == 1, 0.6, "1003 may trade again")


async def test_restart_keeps_the_lock_and_counts_no_trade_twice(sim, make_guardian):
    settings = settings_with(**DAILY_LOSS_50)
    first = await make_guardian(settings)
    await lose_the_day(first)
    ok(sim.place_order(OTHER, "MNQ", "buy", 1))  # 1002: a small winner, closed while guarded
    await wait_for(lambda: first.snap(OTHER).positions, 3, "1002 open")
    sim.set_price("MNQ", MNQ_PRICE + 5)
    ok(sim.close_position(OTHER, "MNQ"))
    await wait_for(lambda: first.snap(OTHER).realized_day == pytest.approx(sim_realized(sim, OTHER)), 3, "1002 counted")
    realized = {a: first.snap(a).realized_day for a in (ACCOUNT, OTHER)}
    lock_before = first.locks()["daily_realized_loss"]
    await wait_for(lambda: len(first.store.seen_trade_ids(ACCOUNT, datetime(2000, 1, 1, tzinfo=UTC)))
                   == len(sim_trade_ids(sim, ACCOUNT)), 3, "trades recorded")
    await first.stop()

    # While no guardian runs, the trader closes another loser on 1002.
    sim.set_price("MNQ", MNQ_PRICE)
    ok(sim.place_order(OTHER, "MNQ", "buy", 1))
    sim.set_price("MNQ", MNQ_PRICE - 10)
    ok(sim.close_position(OTHER, "MNQ"))
    sim.set_price("MNQ", MNQ_PRICE)

    second = await make_guardian(settings, store=first.store)
    snap = second.snap()
    assert snap.status == AccountStatus.LOCKED
    lock = second.locks()["daily_realized_loss"]
    assert (lock.kind, lock.until, lock.reason) == (lock_before.kind, lock_before.until, lock_before.reason)
    # Every trade is counted once: the day's figures equal the gateway's, old and new.
    assert snap.realized_day == pytest.approx(realized[ACCOUNT]) == pytest.approx(sim_realized(sim, ACCOUNT))
    assert second.snap(OTHER).realized_day == pytest.approx(sim_realized(sim, OTHER))
    assert second.snap(OTHER).realized_day != pytest.approx(realized[OTHER])  # the missed trade is in
    assert len(second.store.trades(ACCOUNT, datetime(2000, 1, 1, tzinfo=UTC))) == len(sim_trade_ids(sim, ACCOUNT))
    # And the lock still closes a new position on sight.
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the restarted guardian closes a new position")
    await in_step(second)
    await stays(lambda: second.snap(ACCOUNT).realized_day == pytest.approx(sim_realized(sim, ACCOUNT)), 0.3, "in step")

    # A second restart in a row changes nothing either.
    await second.stop()
    third = await make_guardian(settings, store=first.store)
    assert third.snap().realized_day == pytest.approx(sim_realized(sim, ACCOUNT))
    assert third.snap(OTHER).realized_day == pytest.approx(sim_realized(sim, OTHER))
    assert third.snap().status == AccountStatus.LOCKED


async def test_an_enforcement_interrupted_by_a_crash_is_completed_at_the_next_start(sim, make_guardian, tmp_path):
    from deskguard.store import Store

    store = Store(tmp_path / "crashed.db")
    try:
        # What a process killed mid-enforcement leaves behind: begun, never finished.
        ok(sim.place_order(ACCOUNT, "MES", "buy", 1))
        order = ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1, "limit", limit_price=MNQ_PRICE - 500)).order_id
        store.begin_enforcement(ACCOUNT, "flatten", None, "day's P&L reached the daily loss limit")
        now = datetime.now(UTC)  # its lock was stored: the cause still holds (rules.md)
        store.save_lock(Lock(ACCOUNT, LockKind.COOLDOWN, "daily_realized_loss", "day's P&L reached the daily loss limit",
                             now, now + timedelta(hours=1)))
        ok(sim.place_order(OTHER, "MNQ", "buy", 3))  # over the per-symbol limit of 2: being reduced
        store.begin_enforcement(OTHER, "reduce_position", sim.contract("MNQ").id, "MNQ over its limit of 2")
        rig = await make_guardian(settings_with(max_contracts_per_instrument={"limits": {"MNQ": 2}}), store=store)
        await wait_for(lambda: sim_flat(sim), 5, "the interrupted flatten completed")
        assert sim_order(sim, order)["status"] == 3
        await wait_for(lambda: sim_size(sim, "MNQ", OTHER) == 2, 5, "the interrupted reduce completed")
        await stays(lambda: sim_size(sim, "MNQ", OTHER) == 2, 0.6, "reduced to the limit, not closed")
        assert [r.body["size"] for r in sim.requests("Position/partialCloseContract")] == [1]
        await wait_for(lambda: not store.unfinished_enforcements(), 3, "nothing left unfinished")
        await rig.stop()
    finally:
        store.close()


async def test_an_interrupted_enforcement_whose_cause_is_gone_is_not_resumed(sim, make_guardian, tmp_path):
    """Issue 11: an unfinished flatten is resumed only while its cause holds on the same trading
    day. With no lock standing and no breach in today's picture, the trader's position stays."""
    from deskguard.store import Store

    store = Store(tmp_path / "crashed.db")
    try:
        ok(sim.place_order(ACCOUNT, "MES", "buy", 1))
        store.begin_enforcement(ACCOUNT, "flatten", None, "day's P&L reached the daily loss limit")
        yesterday = datetime.now(UTC) - timedelta(days=1, hours=1)
        store.begin_enforcement(ACCOUNT, "close_position", sim.contract("MES").id, "locked", at=yesterday)
        rig = await make_guardian(settings_with(), store=store)
        await wait_for(lambda: not store.unfinished_enforcements(), 3, "both marked finished")
        await stays(lambda: sim_size(sim, "MES") == 1, 1.0, "the MES position left alone")
        assert requests_count(sim, "Position/closeContract") == 0
        results = [row[0] for row in store._fetch("SELECT result FROM enforcements ORDER BY id", ())]
        assert results == ["not resumed: no lock stands for it; left to the re-evaluation after restart",
                           "not resumed: started on another trading day"]
        await rig.stop()
    finally:
        store.close()
