"""Every rule that trades, end to end: a trader's action in the simulator (its control API, as from
the TopstepX web screen) → the real SDK → the guardian → enforcement the simulator itself shows
(flat, orders cancelled, size reduced, stop moved), plus the lock where the rule sets one."""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, time, timedelta

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
    sim_positions,
    sim_realized,
    sim_size,
    sim_working_orders,
    stays,
    wait_for,
)

from deskguard.engine.decisions import LockKind
from deskguard.engine.rules.session_block import Window
from deskguard.engine.state import AccountStatus

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

NO_SIZE_CAPS = {"max_contracts": {"limit": 50}, "max_contracts_per_instrument": {"default_limit": 50}}


async def open_position(rig, symbol: str, side: str, size: int, account_id: int = ACCOUNT) -> None:
    """The trader buys/sells at market in the web screen; wait until the guardian has seen it."""
    before = rig.snap(account_id)
    had = {p.symbol: p.position.size for p in before.positions}.get(symbol, 0)
    ok(rig.sim.place_order(account_id, symbol, side, size))
    await wait_for(lambda: {p.symbol: p.position.size for p in rig.snap(account_id).positions}.get(symbol, 0) != had,
                   3, f"guardian sees the {symbol} fill")


def working_limit(rig, symbol: str = "MNQ", price: float = MNQ_PRICE - 1000, account_id: int = ACCOUNT) -> int:
    """A resting buy limit far below the market (never fills): something for a flatten to cancel."""
    return ok(rig.sim.place_order(account_id, symbol, "buy", 1, "limit", limit_price=price)).order_id


async def wait_flat(rig, account_id: int = ACCOUNT, timeout: float = 5.0) -> None:
    await wait_for(lambda: sim_flat(rig.sim, account_id), timeout, "the simulator shows the account flat")


# ----- 001 max_contracts -------------------------------------------------------------------------

async def test_max_contracts_reduce_trims_the_position_that_grew(sim, make_guardian):
    rig = await make_guardian(settings_with(max_contracts={"limit": 2},
                                            max_contracts_per_instrument={"default_limit": 50}))
    await open_position(rig, "MNQ", "buy", 1)
    ok(sim.place_order(ACCOUNT, "MES", "buy", 2))  # gross 3 > 2: MES just grew by the excess
    await wait_for(lambda: sim_size(sim, "MES") == 1, 5, "MES reduced to 1 in the simulator")
    assert sim_size(sim, "MNQ") == 1
    assert requests_count(sim, "Position/partialCloseContract") >= 1
    await stays(lambda: sim_size(sim, "MES") == 1 and sim_size(sim, "MNQ") == 1, 0.5, "reduced once, not more")
    assert rig.snap().locks == ()


async def test_max_contracts_flatten_closes_everything_and_cancels_orders(sim, make_guardian):
    rig = await make_guardian(settings_with(max_contracts={"limit": 2, "action": "flatten"},
                                            max_contracts_per_instrument={"default_limit": 50}))
    order = working_limit(rig)
    await open_position(rig, "MNQ", "buy", 2)
    ok(sim.place_order(ACCOUNT, "MES", "buy", 1))
    await wait_flat(rig)
    assert sim_order(sim, order)["status"] == 3  # cancelled
    assert rig.snap().locks == ()


# ----- 002 max_contracts_per_instrument ------------------------------------------------------------

async def test_per_instrument_reduce_trims_to_the_symbols_limit_and_leaves_others(sim, make_guardian):
    rig = await make_guardian(settings_with(max_contracts={"limit": 50},
                                            max_contracts_per_instrument={"limits": {"MNQ": 2}}))
    await open_position(rig, "MES", "buy", 1)
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 3))
    await wait_for(lambda: sim_size(sim, "MNQ") == 2, 5, "MNQ reduced to its limit of 2")
    await stays(lambda: sim_size(sim, "MNQ") == 2 and sim_size(sim, "MES") == 1, 0.5, "MES untouched")
    assert requests_count(sim, "Position/partialCloseContract") == 1


async def test_per_instrument_close_closes_that_symbol_only(sim, make_guardian):
    rig = await make_guardian(settings_with(max_contracts={"limit": 50},
                                            max_contracts_per_instrument={"limits": {"MNQ": 2}, "action": "close"}))
    await open_position(rig, "MES", "buy", 1)
    ok(sim.place_order(ACCOUNT, "MNQ", "sell", 3))
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the MNQ position closed")
    await stays(lambda: sim_size(sim, "MES") == 1, 0.5, "MES untouched")
    assert rig.snap().locks == ()


# ----- 003 daily_realized_loss ----------------------------------------------------------------------

async def test_daily_realized_loss_flattens_and_locks_until_the_reset(sim, make_guardian):
    rig = await make_guardian(settings_with(daily_realized_loss={"max_loss": 100.0},
                                            cooldown_after_loss={"enabled": False}))
    stored_when_announced: list[bool] = []

    class LockAnnouncements:  # persist before announce: the store has the lock when we are told
        def on_notice(self, notice):
            if notice.text.startswith("LOCKED"):
                stored_when_announced.append(any(lock.rule == notice.rule for lock in rig.store.active_locks(ACCOUNT)))

        def on_snapshot(self, snapshot):
            if snapshot.status == AccountStatus.LOCKED:
                stored_when_announced.append(bool(rig.store.active_locks(ACCOUNT)))

        def on_health(self, health):
            pass

    rig.guardian.add_observer(LockAnnouncements())
    save_lock = rig.store.save_lock

    def slow_save_lock(*args, **kwargs):  # a slow disk: the commit takes longer than a UI refresh
        clock.sleep(0.4)
        return save_lock(*args, **kwargs)

    rig.store.save_lock = slow_save_lock
    order = working_limit(rig)
    await open_position(rig, "MES", "buy", 1)
    await open_position(rig, "MNQ", "buy", 2)
    sim.set_price("MNQ", MNQ_PRICE - 30)  # −30 points × 2 × $2 = −$120 open
    ok(sim.close_position(ACCOUNT, "MNQ"))  # the trader takes the loss: −$121.48 realized
    await wait_flat(rig)
    assert sim_order(sim, order)["status"] == 3
    await wait_for(lambda: "daily_realized_loss" in rig.stored_locks(), 3, "lock committed to the store")
    lock = await wait_for(lambda: rig.locks().get("daily_realized_loss"), 3, "lock shown once committed")
    assert lock.kind == LockKind.UNTIL_RESET
    assert lock.until == rig.guardian.settings.calendar.next_reset(datetime.now(UTC))
    snap = rig.snap()
    assert snap.status == AccountStatus.LOCKED
    await wait_for(lambda: len(stored_when_announced) >= 2, 3, "the lock announced")
    assert all(stored_when_announced), stored_when_announced
    # the trader's −$121.48 and the guardian's close of MES at its entry price (−$0.74 fees)
    assert await in_step(rig) == pytest.approx(-122.22)


# ----- 004 daily_unrealized_loss --------------------------------------------------------------------

async def test_daily_unrealized_loss_closes_the_losing_position_only(sim, make_guardian):
    rig = await make_guardian(settings_with(daily_unrealized_loss={"max_loss": 100.0},
                                            cooldown_after_loss={"enabled": False}))
    await open_position(rig, "MES", "buy", 1)
    await open_position(rig, "MNQ", "buy", 1)
    sim.set_price("MNQ", MNQ_PRICE - 60)  # −$120 open on MNQ
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the losing MNQ position closed")
    await stays(lambda: sim_size(sim, "MES") == 1, 0.5, "MES untouched")
    assert rig.snap().locks == ()
    assert sim_realized(sim) == pytest.approx(-121.11)  # -120 and the fees of both fills (rules.md)


# ----- 005 max_unrealized_profit --------------------------------------------------------------------

async def test_max_unrealized_profit_takes_the_profit(sim, make_guardian):
    rig = await make_guardian(settings_with(max_unrealized_profit={"enabled": True, "target": 50.0}))
    await open_position(rig, "MNQ", "buy", 1)
    sim.set_price("MNQ", MNQ_PRICE + 20)  # +$40: not yet
    await stays(lambda: sim_size(sim, "MNQ") == 1, 0.4, "under the target, still open")
    sim.set_price("MNQ", MNQ_PRICE + 30)  # +$60
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the winning position closed")
    assert sim_realized(sim) == pytest.approx(59.26)
    assert rig.snap().locks == ()


# ----- 006 trade_frequency --------------------------------------------------------------------------

async def test_trade_frequency_closes_the_fourth_entry_and_cools_down(sim, make_guardian):
    rig = await make_guardian(settings_with(trade_frequency={"per_minute": 3}, **NO_SIZE_CAPS))
    for n in range(1, 4):
        await open_position(rig, "MNQ", "buy", 1)
        assert sim_size(sim, "MNQ") == n
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # the 4th entry inside a minute
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the position the entry grew closed")
    lock = (await wait_for(lambda: rig.locks().get("trade_frequency"), 3, "cooldown lock"))
    assert lock.kind == LockKind.COOLDOWN
    assert lock.until - lock.since == timedelta(seconds=60)
    assert rig.snap().status == AccountStatus.LOCKED


# ----- 007 cooldown_after_loss ----------------------------------------------------------------------

async def test_cooldown_after_loss_flattens_and_locks_for_the_tier(sim, make_guardian):
    rig = await make_guardian(settings_with())  # the default tiers: 100 → 5m, 200 → 15m, 300 → 30m
    order = working_limit(rig)
    await open_position(rig, "MES", "buy", 1)
    await open_position(rig, "MNQ", "buy", 1)
    sim.set_price("MNQ", MNQ_PRICE - 60)  # −$120
    ok(sim.close_position(ACCOUNT, "MNQ"))  # a $120.74 losing trade: the 100 tier
    await wait_flat(rig)
    assert sim_order(sim, order)["status"] == 3
    lock = await wait_for(lambda: rig.locks().get("cooldown_after_loss"), 3, "cooldown lock")
    assert lock.kind == LockKind.COOLDOWN
    assert lock.until - lock.since == timedelta(minutes=5)


# ----- 008 no_stop_loss_grace -----------------------------------------------------------------------

async def test_no_stop_loss_grace_closes_a_position_left_without_a_stop(sim, make_guardian):
    rig = await make_guardian(settings_with(no_stop_loss_grace={"enabled": True, "grace": timedelta(seconds=1)}))
    await open_position(rig, "MNQ", "buy", 1)
    opened = datetime.now(UTC)
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the stop-less position closed after its grace")
    assert datetime.now(UTC) - opened >= timedelta(seconds=0.9)  # not before the grace ran out
    assert rig.snap().locks == ()


async def test_no_stop_loss_grace_a_stop_from_the_web_screen_cancels_the_timer(sim, make_guardian):
    rig = await make_guardian(settings_with(no_stop_loss_grace={"enabled": True, "grace": timedelta(seconds=1)}))
    await open_position(rig, "MNQ", "buy", 1)
    stop = ok(sim.place_order(ACCOUNT, "MNQ", "sell", 1, "stop", stop_price=MNQ_PRICE - 20)).order_id
    await stays(lambda: sim_size(sim, "MNQ") == 1, 2.5, "a protected position stays open past the grace")
    assert sim_order(sim, stop)["status"] == 1
    assert requests_count(sim, "Position/closeContract") == 0
    assert not rig.guardian.engine.state(ACCOUNT).stop_grace


# ----- 009 session_block ----------------------------------------------------------------------------

async def test_session_block_outside_the_window_flattens_and_locks_until_the_session(sim, make_guardian):
    now = datetime.now(UTC)
    start = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=1)
    window = Window(days="Mon-Sun", start=time(start.hour, start.minute), end=time(end.hour, end.minute), timezone="UTC")
    rig = await make_guardian(settings_with(session_block={"enabled": True, "windows": (window,),
                                                           "holidays": (), "early_closes": {}}))
    assert rig.snap().locks == ()  # nothing open: nothing to block yet
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # outside every window
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the out-of-session position closed")
    lock = await wait_for(lambda: rig.locks().get("session_block"), 3, "session lock")
    assert lock.kind == LockKind.UNTIL_SESSION
    assert lock.until == start
    order = working_limit(rig)  # a working order outside the window is cancelled too
    await wait_for(lambda: sim_order(sim, order)["status"] == 3, 5, "the out-of-session order cancelled")
    await wait_flat(rig)


# ----- 010 auth_loss_guard --------------------------------------------------------------------------

async def test_auth_loss_guard_flattens_and_locks_until_can_trade(sim, make_guardian):
    rig = await make_guardian(settings_with())
    order = working_limit(rig)
    await open_position(rig, "MNQ", "buy", 1)
    sim.set_account(ACCOUNT, can_trade=False)
    await wait_flat(rig)
    assert sim_order(sim, order)["status"] == 3
    lock = await wait_for(lambda: rig.locks().get("auth_loss_guard"), 3, "until_can_trade lock")
    assert lock.kind == LockKind.UNTIL_CAN_TRADE
    await wait_for(lambda: "auth_loss_guard" in rig.stored_locks(), 3, "lock committed")
    sim.set_account(ACCOUNT, can_trade=True)
    await wait_for(lambda: not rig.snap().locks, 3, "the lock ends when the broker allows trading")
    await wait_for(lambda: not rig.stored_locks(), 3, "the stored lock ended too")
    await open_position(rig, "MNQ", "buy", 1)
    await stays(lambda: sim_size(sim, "MNQ") == 1, 0.5, "trading allowed again")


# ----- 011 symbol_blocks ----------------------------------------------------------------------------

async def test_symbol_blocks_closes_cancels_and_locks_the_symbol(sim, make_guardian):
    rig = await make_guardian(settings_with(symbol_blocks={"enabled": True, "symbols": ("RTY",)}))
    await open_position(rig, "MNQ", "buy", 1)
    rty = sim.price("RTY")
    order = ok(sim.place_order(ACCOUNT, "RTY", "buy", 1, "limit", limit_price=rty - 100)).order_id
    ok(sim.place_order(ACCOUNT, "RTY", "buy", 1))
    await wait_for(lambda: sim_size(sim, "RTY") == 0, 5, "the RTY position closed")
    await wait_for(lambda: sim_order(sim, order)["status"] == 3, 5, "the RTY order cancelled")
    lock = await wait_for(lambda: rig.locks().get("symbol_blocks"), 3, "symbol lock")
    assert lock.kind == LockKind.PERMANENT and lock.symbol == "RTY"
    await stays(lambda: sim_size(sim, "MNQ") == 1, 0.5, "MNQ untouched")
    assert rig.snap().lock is None  # no account-wide lock


# ----- 012 trade_management -------------------------------------------------------------------------

async def test_trade_management_places_a_breakeven_stop_then_trails_it(sim, make_guardian):
    rig = await make_guardian(settings_with(trade_management={"enabled": True}))  # 10 → BE+1, 20 → trail 10
    await open_position(rig, "MNQ", "buy", 1)
    assert not sim_working_orders(sim)
    sim.set_price("MNQ", MNQ_PRICE + 2.5)  # 10 ticks in profit: breakeven + 1 tick
    stops = await wait_for(lambda: [o for o in sim_working_orders(sim) if o["type"] == 4], 5, "a stop placed")
    assert len(stops) == 1
    stop = stops[0]
    assert stop["side"] == 1 and stop["size"] == 1
    assert stop["stopPrice"] == pytest.approx(MNQ_PRICE + 0.25)
    sim.set_price("MNQ", MNQ_PRICE + 10)  # 40 ticks: trail 10 ticks behind
    await wait_for(lambda: sim_order(sim, stop["id"])["stopPrice"] == pytest.approx(MNQ_PRICE + 7.5), 5,
                   "the same stop moved up")
    assert requests_count(sim, "Order/modify") >= 1
    assert [o["id"] for o in sim_working_orders(sim)] == [stop["id"]]
    sim.set_price("MNQ", MNQ_PRICE + 8)  # a pull-back never loosens the stop
    await stays(lambda: sim_order(sim, stop["id"])["stopPrice"] == pytest.approx(MNQ_PRICE + 7.5), 0.5, "only tightens")
    assert sim_size(sim, "MNQ") == 1 and rig.snap().locks == ()


# ----- 013 daily_realized_profit --------------------------------------------------------------------

async def test_daily_realized_profit_flattens_and_locks_until_the_reset(sim, make_guardian):
    rig = await make_guardian(settings_with(daily_realized_profit={"enabled": True, "target": 100.0}))
    order = working_limit(rig)
    await open_position(rig, "MES", "buy", 1)
    await open_position(rig, "MNQ", "buy", 1)
    sim.set_price("MNQ", MNQ_PRICE + 60)  # +$120 open
    ok(sim.close_position(ACCOUNT, "MNQ"))
    await wait_flat(rig)
    assert sim_order(sim, order)["status"] == 3
    lock = await wait_for(lambda: rig.locks().get("daily_realized_profit"), 3, "until_reset lock")
    assert lock.kind == LockKind.UNTIL_RESET
    assert await in_step(rig) > 100


# ----- 014 trailing_drawdown ------------------------------------------------------------------------

async def test_trailing_drawdown_flattens_near_the_floor_and_keeps_the_high_water_mark(sim, make_guardian):
    rig = await make_guardian(settings_with(
        trailing_drawdown={"enabled": True, "max_drawdown": 300.0, "high_water_mark": 50_000.0, "buffer": 0.0},
        daily_unrealized_loss={"max_loss": 2000.0}, cooldown_after_loss={"enabled": False},
    ))
    order = working_limit(rig)
    await open_position(rig, "MNQ", "buy", 2)
    sim.set_price("MNQ", MNQ_PRICE - 50)  # −$200: equity 49,800, above the floor of 49,700
    await stays(lambda: sim_size(sim, "MNQ") == 2, 0.4, "above the floor")
    sim.set_price("MNQ", MNQ_PRICE - 80)  # −$320: equity 49,680 ≤ 49,700
    await wait_flat(rig)
    assert sim_order(sim, order)["status"] == 3
    lock = await wait_for(lambda: rig.locks().get("trailing_drawdown"), 3, "until_reset lock")
    assert lock.kind == LockKind.UNTIL_RESET
    await wait_for(lambda: rig.store.get_high_water_mark(ACCOUNT) == pytest.approx(50_000.0), 3, "high-water mark kept")


# ----- 015 weekly_realized_loss ---------------------------------------------------------------------

async def test_weekly_realized_loss_flattens_and_locks_until_the_week_resets(sim, make_guardian):
    rig = await make_guardian(settings_with(weekly_realized_loss={"enabled": True, "max_loss": 150.0},
                                            cooldown_after_loss={"enabled": False}))
    await open_position(rig, "MES", "buy", 1)
    await open_position(rig, "MNQ", "buy", 2)
    sim.set_price("MNQ", MNQ_PRICE - 40)  # −$160 open
    ok(sim.close_position(ACCOUNT, "MNQ"))
    await wait_flat(rig)
    lock = await wait_for(lambda: rig.locks().get("weekly_realized_loss"), 3, "weekly lock")
    assert lock.until == rig.guardian.settings.calendar.next_week_reset(datetime.now(UTC))
    await in_step(rig)
    assert rig.snap().realized_week == pytest.approx(sim_realized(sim)) == pytest.approx(-162.22)  # incl. the MES close's fees


# ----- 016 losing_streak ----------------------------------------------------------------------------

async def test_losing_streak_flattens_and_locks_after_three_losers(sim, make_guardian):
    rig = await make_guardian(settings_with(losing_streak={"enabled": True, "max_losses": 3},
                                            cooldown_after_loss={"enabled": False},
                                            trade_frequency={"per_minute": 10}))
    await open_position(rig, "MES", "buy", 1)
    state = rig.guardian.engine.state(ACCOUNT)
    for n in range(1, 4):
        sim.set_price("MNQ", MNQ_PRICE)
        await open_position(rig, "MNQ", "buy", 1)
        sim.set_price("MNQ", MNQ_PRICE - 2)  # a small loser: −$4.74
        ok(sim.close_position(ACCOUNT, "MNQ"))
        if n < 3:
            await wait_for(lambda n=n: state.losing_streak == n, 3, f"streak of {n}")
            assert sim_size(sim, "MES") == 1
    await wait_flat(rig)
    lock = await wait_for(lambda: rig.locks().get("losing_streak"), 3, "streak lock")
    assert lock.kind == LockKind.COOLDOWN and lock.until - lock.since == timedelta(minutes=30)
    assert sim_positions(sim) == {}
    assert sim.price("MES") == MES_PRICE
