"""001 max_contracts and 002 max_contracts_per_instrument: size caps that reduce or close, never lock."""

from __future__ import annotations

from engine_harness import (
    ES,
    ES_MAR,
    LONG,
    M2K,
    MES,
    MNQ,
    MYM,
    NQ,
    SHORT,
    Action,
    Desk,
    brief,
    only,
)

REDUCE, CLOSE, FLATTEN = Action.REDUCE_POSITION, Action.CLOSE_POSITION, Action.FLATTEN
K1 = "max_contracts"
K2 = "max_contracts_per_instrument"


# ----- 001 max_contracts ---------------------------------------------------------------------


def test_under_and_at_the_account_limit_nothing_happens(desk_with):
    d = desk_with(K1)
    assert d.open(MNQ, 3).decisions == []
    assert d.open(MES, 2).decisions == []  # 5 contracts: at the limit is allowed


def test_one_over_the_limit_reduces_the_position_that_just_grew(desk_with):
    d = desk_with(K1)
    d.open(MNQ, 3)
    d.open(MES, 2)
    v = d.open(MNQ, 4)  # 6 contracts gross
    assert brief(v.decisions) == [(REDUCE, K1, MNQ, 3)]  # reduce MNQ down to 3: the excess of 1
    assert v.new_locks == [] and d.locks == []


def test_the_grown_position_is_reduced_even_when_it_is_not_the_biggest(desk_with):
    d = desk_with(K1)
    d.open(MNQ, 4)
    v = d.open(MES, 3)  # 7 gross, MES grew: trim MES by 2
    assert brief(v.decisions) == [(REDUCE, K1, MES, 1)]


def test_an_excess_bigger_than_the_grown_position_closes_it_then_trims_the_newest(desk_with):
    d = desk_with(K1, max_contracts={"limit": 7})
    d.open(MNQ, 2)
    d.advance(seconds=10)
    d.open(M2K, 2)
    d.advance(seconds=10)
    d.open(MYM, 2)
    d.engine.apply_settings(only(K1, max_contracts={"limit": 3}))  # tightening applies at once
    d.advance(seconds=10)
    v = d.open(MES, 1)  # 7 open, limit 3: excess 4
    # MES (grew, 1) closed, then MYM (newest, 2) closed, then M2K reduced by the last 1; MNQ (oldest) kept.
    assert sorted(brief(v.decisions)) == sorted([(CLOSE, K1, MES, None), (CLOSE, K1, MYM, None), (REDUCE, K1, M2K, 1)])


def test_gross_counts_every_contract_long_or_short(desk_with):
    d = desk_with(K1)
    d.open(MNQ, 4, type=LONG)
    v = d.open(MES, 3, type=SHORT)  # gross 7
    assert brief(v.decisions) == [(REDUCE, K1, MES, 1)]


def test_net_lets_a_hedge_offset_and_trims_the_side_that_is_over(desk_with):
    d = desk_with(K1, max_contracts={"count": "net"})
    assert d.open(MNQ, 4, type=LONG).decisions == []
    assert d.open(MES, 3, type=SHORT).decisions == []  # net |4 - 3| = 1
    assert d.open(MNQ, 5, type=LONG).decisions == []  # net 2
    v = d.open(MNQ, 9, type=LONG)  # net 6 > 5
    assert brief(v.decisions) == [(REDUCE, K1, MNQ, 8)]


def test_net_breach_on_the_short_side_trims_shorts_only(desk_with):
    d = desk_with(K1, max_contracts={"count": "net"})
    d.open(MNQ, 1, type=LONG)
    v = d.open(MES, 7, type=SHORT)  # net |1 - 7| = 6
    assert brief(v.decisions) == [(REDUCE, K1, MES, 6)]


def test_action_flatten_flattens_without_a_lock(desk_with):
    d = desk_with(K1, max_contracts={"action": "flatten"})
    d.open(MNQ, 3)
    v = d.open(MES, 3)
    assert brief(v.decisions) == [(FLATTEN, K1, None, None)]
    assert v.new_locks == [] and d.locks == []


def test_after_a_resync_the_newest_position_is_trimmed(desk_with):
    d = desk_with(K1)
    old = d.position(MNQ, 3, 21000.0, opened_at=d.now.replace(hour=14))
    new = d.position(MES, 3, 6000.0, opened_at=d.now.replace(hour=14, minute=50))
    v = d.resync(positions=[old, new])
    assert brief(v.decisions) == [(REDUCE, K1, MES, 2)]


def test_shrinking_a_position_never_triggers_a_reduction(desk_with):
    d = desk_with(K1, max_contracts={"limit": 7})
    d.open(MNQ, 4)
    d.advance(seconds=30)
    d.open(MES, 3)
    d.engine.apply_settings(only(K1, max_contracts={"limit": 5}))
    # Still over the new limit after MES shrank: the excess is trimmed from the newest position.
    v = d.open(MES, 2)
    assert brief(v.decisions) == [(REDUCE, K1, MES, 1)]


# ----- 002 max_contracts_per_instrument ---------------------------------------------------------


def test_per_symbol_under_at_and_over_the_default_limit(desk_with):
    d = desk_with(K2)
    assert d.open(MNQ, 2).decisions == []
    assert d.open(MNQ, 3).decisions == []  # at the default limit of 3
    v = d.open(MNQ, 4)
    assert brief(v.decisions) == [(REDUCE, K2, MNQ, 3)]
    assert v.new_locks == []


def test_short_positions_count_their_size(desk_with):
    d = desk_with(K2)
    v = d.open(MNQ, 5, type=SHORT)
    assert brief(v.decisions) == [(REDUCE, K2, MNQ, 3)]


def test_the_ep_root_is_limited_by_the_es_entry(desk_with):
    d = desk_with(K2, max_contracts_per_instrument={"limits": {"ES": 1}})
    assert d.open(ES, 1).decisions == []  # CON.F.US.EP.Z26 is ES
    v = d.open(ES, 2)
    assert brief(v.decisions) == [(REDUCE, K2, ES, 1)]


def test_the_enq_root_is_limited_by_the_nq_entry_in_any_case(desk_with):
    d = desk_with(K2, max_contracts_per_instrument={"limits": {"nq": 2}})
    v = d.open(NQ, 3)  # CON.F.US.ENQ.Z26 is NQ
    assert brief(v.decisions) == [(REDUCE, K2, NQ, 2)]


def test_a_limit_written_with_the_exchange_root_applies_to_the_common_symbol(desk_with):
    d = desk_with(K2, max_contracts_per_instrument={"limits": {"ep": 1}})
    v = d.open(ES, 2)
    assert brief(v.decisions) == [(REDUCE, K2, ES, 1)]


def test_a_symbol_with_its_own_limit_ignores_the_default(desk_with):
    d = desk_with(K2, max_contracts_per_instrument={"limits": {"MNQ": 5}})
    assert d.open(MNQ, 5).decisions == []
    assert brief(d.open(MES, 4).decisions) == [(REDUCE, K2, MES, 3)]


def test_action_close_closes_that_position(desk_with):
    d = desk_with(K2, max_contracts_per_instrument={"action": "close"})
    v = d.open(MNQ, 4)
    assert brief(v.decisions) == [(CLOSE, K2, MNQ, None)]


def test_unknown_symbols_block_closes_unlisted_symbols(desk_with):
    d = desk_with(K2, max_contracts_per_instrument={"limits": {"MNQ": 2}, "unknown_symbols": "block"})
    assert d.open(MNQ, 2).decisions == []
    assert brief(d.open(MNQ, 3).decisions) == [(REDUCE, K2, MNQ, 2)]
    assert brief(d.open(MES, 1).decisions) == [(CLOSE, K2, MES, None)]  # unlisted: limit 0


def test_other_symbols_are_untouched(desk_with):
    d = desk_with(K2, max_contracts_per_instrument={"default_limit": 5})
    d.open(MES, 5)
    d.engine.apply_settings(only(K2, max_contracts_per_instrument={"default_limit": 1}))
    v = d.open(MNQ, 2)
    assert brief(v.decisions) == [(REDUCE, K2, MNQ, 1)]  # MES (5, over too) is not this event's symbol


def test_two_months_of_one_symbol_share_its_limit(desk_with):
    d = desk_with(K2)
    d.open(ES, 2)
    v = d.open(ES_MAR, 2)  # 4 ES contracts over two months
    assert brief(v.decisions) == [(REDUCE, K2, ES_MAR, 1)]


def test_per_symbol_cap_with_the_default_rule_book(desk: Desk):
    """With both size rules on, a 4-lot MNQ trips 002 (limit 3) but not 001 (limit 5)."""
    v = desk.open(MNQ, 4, 21000.0)
    assert brief(v.decisions) == [(REDUCE, K2, MNQ, 3)]
