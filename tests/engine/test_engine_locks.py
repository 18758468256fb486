"""010 auth_loss_guard, 011 symbol_blocks, and what every lock does: close on sight, survive restarts."""

from __future__ import annotations

from datetime import timedelta

from engine_harness import (
    ACCOUNT,
    CL,
    CL_FEB,
    ES,
    MCL,
    MES,
    MNQ,
    RTY,
    T0,
    T0_RESET,
    Action,
    Desk,
    Lock,
    LockKind,
    OrderType,
    brief,
    lock_of,
    only,
)

from deskguard.engine.state import AccountStatus

CLOSE, CANCEL, FLATTEN, LOCK = Action.CLOSE_POSITION, Action.CANCEL_ORDERS, Action.FLATTEN, Action.LOCK
K3, K10, K11 = "daily_realized_loss", "auth_loss_guard", "symbol_blocks"


# ----- 010 auth_loss_guard ------------------------------------------------------------------------


def test_can_trade_true_is_quiet(desk_with):
    d = desk_with(K10)
    assert d.account(can_trade=True).decisions == []


def test_can_trade_false_flattens_and_locks_until_the_broker_allows_trading(desk_with):
    d = desk_with(K10)
    d.open(MNQ, 2, 21000.0)
    v = d.account(can_trade=False)
    assert brief(v.decisions) == [(FLATTEN, K10, None, None), (LOCK, K10, None, None)]
    lock = lock_of(v.decisions)
    assert (lock.kind, lock.until, lock.symbol) == (LockKind.UNTIL_CAN_TRADE, None, None)
    assert d.state.status == AccountStatus.LOCKED


def test_while_the_broker_disables_the_account_new_positions_are_closed_and_no_lock_is_added(desk_with):
    d = desk_with(K10)
    d.account(can_trade=False)
    assert brief(d.open(MNQ, 1, 21000.0).decisions) == [(CLOSE, K10, MNQ, None)]
    assert brief(d.account(can_trade=False).decisions) == [(CLOSE, K10, MNQ, None)]  # no second lock
    assert len(d.locks) == 1
    assert d.tick(hours=6).ended_locks == []  # time does not end it


def test_the_lock_ends_when_can_trade_is_true_again(desk_with):
    d = desk_with(K10)
    d.account(can_trade=False)
    v = d.account(can_trade=True)
    assert [lock.kind for lock in v.ended_locks] == [LockKind.UNTIL_CAN_TRADE]
    assert d.locks == [] and d.state.status == AccountStatus.OK
    assert d.open(MNQ, 1, 21000.0).decisions == []


def test_a_resync_reporting_can_trade_false_locks_too(desk_with):
    d = desk_with(K10)
    v = d.resync(positions=[d.position(MNQ, 1, 21000.0)], can_trade=False)
    assert brief(v.decisions) == [(FLATTEN, K10, None, None), (LOCK, K10, None, None)]


def test_restarting_never_lifts_an_until_can_trade_lock(desk_with):
    """After a restart the engine knows nothing of canTrade until the broker says so: the restored lock
    stays until the broker reports canTrade true."""
    d = desk_with(K10, balance=None)
    lock = Lock(ACCOUNT, LockKind.UNTIL_CAN_TRADE, K10, "canTrade false", T0 - timedelta(hours=1))
    d.engine.restore(ACCOUNT, locks=[lock])
    assert d.tick(seconds=1).ended_locks == []
    assert brief(d.open(MNQ, 1, 21000.0).decisions) == [(CLOSE, K10, MNQ, None)]
    assert d.locks == [lock]
    assert [x.kind for x in d.account(can_trade=True).ended_locks] == [LockKind.UNTIL_CAN_TRADE]


# ----- 011 symbol_blocks --------------------------------------------------------------------------


def test_a_position_in_a_blocked_symbol_is_closed_its_orders_cancelled_and_the_symbol_locked(desk_with):
    d = desk_with(K11)  # default: RTY and CL*
    v = d.open(CL, 1, 70.0)  # CON.F.US.CLE.F27: root CLE is CL
    assert brief(v.decisions) == [(CLOSE, K11, CL, None), (CANCEL, K11, CL, None), (LOCK, K11, None, None)]
    lock = lock_of(v.decisions)
    assert (lock.kind, lock.until, lock.symbol, lock.scope) == (LockKind.PERMANENT, None, "CL", "CL")
    assert d.state.status == AccountStatus.OK  # a symbol lock does not lock the account


def test_a_working_order_in_a_blocked_symbol_is_cancelled_and_the_symbol_locked(desk_with):
    d = desk_with(K11)
    v = d.order(RTY, type=OrderType.LIMIT, limit_price=2400.0)
    assert brief(v.decisions) == [(CANCEL, K11, RTY, None), (LOCK, K11, None, None)]
    assert lock_of(v.decisions).symbol == "RTY"


def test_unblocked_symbols_trade_freely(desk_with):
    d = desk_with(K11)
    assert d.open(MNQ, 1, 21000.0).decisions == []
    assert d.open(MCL, 1, 70.0).decisions == []  # CL* matches CL, not MCL


def test_blocking_es_catches_the_ep_root_in_any_case(desk_with):
    d = desk_with(K11, symbol_blocks={"symbols": ("es",)})
    v = d.open(ES, 1, 6000.0)  # CON.F.US.EP.Z26
    assert brief(v.decisions) == [(CLOSE, K11, ES, None), (CANCEL, K11, ES, None), (LOCK, K11, None, None)]
    assert lock_of(v.decisions).symbol == "ES"


def test_a_symbol_lock_covers_only_its_symbol_and_never_ends(desk_with):
    d = desk_with(K11)
    d.open(CL, 1, 70.0)
    d.flat(CL)
    assert d.open(MNQ, 1, 21000.0).decisions == []
    assert brief(d.open(CL_FEB, 1, 70.0).decisions) == [(CLOSE, K11, CL_FEB, None)]  # another CL month
    assert len(d.locks) == 1
    v = d.tick(days=10)
    assert v.ended_locks == [] and [lock.symbol for lock in d.locks] == ["CL"]
    assert brief(v.decisions) == [(CLOSE, K11, CL_FEB, None)]  # MNQ untouched


def test_unblocking_a_symbol_ends_its_permanent_lock(desk_with):
    """Permanent means "while the rule stays configured"; the config layer delays the loosening to
    the next reset, the engine ends the lock when the new settings arrive."""
    d = desk_with(K11)
    d.open(CL, 1, 70.0)
    ended = d.engine.apply_settings(only(K11, symbol_blocks={"symbols": ("RTY",)}))
    assert [lock.symbol for lock in ended] == ["CL"]
    assert d.locks == []


# ----- close on sight -----------------------------------------------------------------------------


def test_during_an_account_lock_every_new_position_is_closed_and_every_order_cancelled(desk_with):
    d = desk_with(K3)
    d.loss(500)
    assert brief(d.open(MNQ, 1, 21000.0).decisions) == [(CLOSE, K3, MNQ, None)]
    assert brief(d.order(MES, type=OrderType.LIMIT, limit_price=6000.0).decisions) == [
        (CLOSE, K3, MNQ, None),
        (CANCEL, K3, MES, None),
    ]
    v = d.tick(seconds=1)  # each timer tick sweeps again
    assert sorted(brief(v.decisions)) == sorted([(CLOSE, K3, MNQ, None), (CANCEL, K3, MES, None)])


def test_positions_opened_in_the_web_screen_during_a_lock_are_closed(desk_with):
    """A position the engine never saw open (a resync after a gap) is closed on sight all the same."""
    d = desk_with(K3)
    d.loss(500)
    v = d.resync(positions=[d.position(ES, 1, 6000.0)])
    assert brief(v.decisions) == [(CLOSE, K3, ES, None)]


def test_nothing_is_closed_once_the_lock_is_over(desk_with):
    d = desk_with(K3)
    d.loss(500)
    d.tick_at(T0_RESET)
    assert d.locks == []
    assert d.open(MNQ, 1, 21000.0).decisions == []


def test_a_restored_lock_is_enforced_at_once(desk_with):
    d = desk_with(K3)
    lock = Lock(ACCOUNT, LockKind.UNTIL_RESET, K3, "daily loss", T0 - timedelta(hours=1), T0_RESET)
    d.engine.restore(ACCOUNT, locks=[lock])
    assert d.state.status == AccountStatus.LOCKED
    assert brief(d.open(MNQ, 1, 21000.0).decisions) == [(CLOSE, K3, MNQ, None)]


def test_quotes_do_not_repeat_close_on_sight(desk_with):
    """Close on sight happens on the events that show a position or order (and on timer ticks); a quote
    only moves prices, so it does not re-issue closes 90 % of the time for nothing."""
    d = desk_with(K3)
    d.open(MNQ, 1, 21000.0)
    d.loss(500)
    assert d.quote(MNQ, 21001.0).decisions == []


def test_the_default_rule_book_cascades_a_big_loss_into_the_longest_lock(desk: Desk):
    """A $601.48 loss trips 007 (30 m cooldown) and 003 (until the 17:00 reset): one flatten, and the
    lock that ends last is the one the account shows."""
    desk.open(MNQ, 2, 21000.0)
    v = desk.fill(MNQ, -600.0, fees=1.48)
    kinds = [(d.action, d.rule) for d in v.decisions]
    assert kinds[0] == (FLATTEN, "cooldown_after_loss")  # harshest first; rule ties broken by name
    assert [d.action for d in v.decisions].count(FLATTEN) == 1
    assert [d.action for d in v.decisions].count(LOCK) == 1  # the longest lock per scope
    assert lock_of(v.decisions).until == T0_RESET
    assert desk.state.account_lock.kind == LockKind.UNTIL_RESET
    assert {lock.rule for lock in v.new_locks} == {"cooldown_after_loss", K3}


# ----- symbols --------------------------------------------------------------------------------------


def test_topstepx_roots_map_to_the_names_traders_type():
    from deskguard.engine.instruments import normalize_symbol, symbol_matches, symbol_of

    assert symbol_of("CON.F.US.EP.Z25") == "ES"
    assert symbol_of("CON.F.US.ENQ.H26") == "NQ"
    assert symbol_of("CON.F.US.MNQ.Z25") == "MNQ"
    assert symbol_of("CON.F.US.ZZZ.Z25") == "ZZZ"  # unknown roots are kept, so they can still be matched
    assert normalize_symbol(" ep ") == "ES" and normalize_symbol("mnq") == "MNQ"
    assert symbol_matches("es", ES) and symbol_matches("EP", ES) and symbol_matches("cl*", CL)
    assert not symbol_matches("CL*", MCL) and not symbol_matches("ES", "CON.F.US.MES.Z26")


# ----- rule changes -----------------------------------------------------------------------------


def test_tightening_a_limit_takes_effect_at_the_next_tick(desk_with):
    d = desk_with(K3)
    d.loss(350)
    d.engine.apply_settings(only(K3, daily_realized_loss={"max_loss": 300.0}))
    v = d.tick(seconds=1)
    assert brief(v.decisions) == [(FLATTEN, K3, None, None), (LOCK, K3, None, None)]


def test_disabling_a_rule_never_lifts_its_lock(desk_with):
    d = desk_with(K3)
    d.loss(500)
    assert d.engine.apply_settings(only()) == []
    assert [lock.rule for lock in d.locks] == [K3]
    assert brief(d.open(MNQ, 1, 21000.0).decisions) == [(CLOSE, K3, MNQ, None)]


def test_restoring_the_same_lock_twice_keeps_one(desk_with):
    d = desk_with(K3)
    lock = Lock(ACCOUNT, LockKind.UNTIL_RESET, K3, "daily loss", T0, T0_RESET)
    d.engine.restore(ACCOUNT, locks=[lock])
    d.engine.restore(ACCOUNT, locks=[lock])
    assert d.locks == [lock]
