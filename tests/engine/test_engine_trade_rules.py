"""Rules that count trades: 006 trade_frequency, 007 cooldown_after_loss, 016 losing_streak."""

from __future__ import annotations

from datetime import timedelta

from engine_harness import (
    MNQ,
    T0,
    T0_RESET,
    Action,
    LockKind,
    brief,
    lock_of,
)

from deskguard.engine.events import TradeFilled
from deskguard.engine.rules.cooldown_after_loss import Tier
from deskguard.engine.schema import UNTIL_RESET

CLOSE, FLATTEN, LOCK = Action.CLOSE_POSITION, Action.FLATTEN, Action.LOCK
K6, K7, K16 = "trade_frequency", "cooldown_after_loss", "losing_streak"


def assert_lock(decisions, rule, kind, until):
    lock = lock_of(decisions)
    assert (lock.rule, lock.kind, lock.until, lock.symbol) == (rule, kind, until, None)


# ----- 006 trade_frequency ------------------------------------------------------------------------


def entries_at(d, seconds):
    """Entry fills at these offsets (seconds) from the desk's start; the verdict of each."""
    out = []
    for s in seconds:
        d.clock.set(T0 + timedelta(seconds=s))
        out.append(d.entry(MNQ))
    return out


def test_the_fourth_entry_inside_60s_closes_its_position_and_cools_down_60s(desk_with):
    d = desk_with(K6)
    d.open(MNQ, 1, 21000.0)
    v1, v2, v3, v4 = entries_at(d, [0, 20, 40, 59])
    assert v1.decisions == v2.decisions == v3.decisions == []  # 3 in a minute: at the limit
    assert brief(v4.decisions) == [(CLOSE, K6, MNQ, None), (LOCK, K6, None, None)]
    assert_lock(v4.decisions, K6, LockKind.COOLDOWN, T0 + timedelta(seconds=59 + 60))


def test_a_fourth_entry_exactly_60s_after_the_first_is_inside_a_new_minute(desk_with):
    """"Inside 60 s" is read as strictly less than 60 s apart: entries at 0 s and 60 s are in
    different minutes."""
    d = desk_with(K6)
    d.open(MNQ, 1, 21000.0)
    verdicts = entries_at(d, [0, 20, 40, 60])
    assert all(v.decisions == [] for v in verdicts)


def test_exits_and_voided_fills_are_not_entries(desk_with):
    d = desk_with(K6)
    d.open(MNQ, 1, 21000.0)
    for _ in range(3):
        assert d.entry(MNQ).decisions == []
        assert d.fill(MNQ, 12.0).decisions == []  # a closing fill (non-null P&L)
    assert d.entry(MNQ, voided=True).decisions == []
    assert len(d.state.entries) == 3


def test_a_duplicated_entry_is_counted_once(desk_with):
    d = desk_with(K6)
    d.open(MNQ, 1, 21000.0)
    d.entry(MNQ)
    d.entry(MNQ)
    third = d.trade(MNQ)
    assert d.send(TradeFilled(third)).decisions == []
    assert d.send(TradeFilled(third)).decisions == []  # the same trade id again
    assert len(d.state.entries) == 3


def test_the_hour_window_cools_down_30_minutes(desk_with):
    d = desk_with(K6)
    d.open(MNQ, 1, 21000.0)
    verdicts = entries_at(d, [i * 300 for i in range(11)])  # every 5 minutes: 11 entries in 50 minutes
    assert all(v.decisions == [] for v in verdicts[:10])
    assert brief(verdicts[10].decisions) == [(CLOSE, K6, MNQ, None), (LOCK, K6, None, None)]
    assert_lock(verdicts[10].decisions, K6, LockKind.COOLDOWN, T0 + timedelta(minutes=50 + 30))


def test_the_day_window_locks_until_the_reset(desk_with):
    d = desk_with(K6, trade_frequency={"per_day": 5})
    d.open(MNQ, 1, 21000.0)
    verdicts = entries_at(d, [i * 600 for i in range(6)])  # every 10 minutes
    assert all(v.decisions == [] for v in verdicts[:5])
    assert_lock(verdicts[5].decisions, K6, LockKind.UNTIL_RESET, T0_RESET)


def test_when_several_windows_are_breached_the_longest_lock_wins(desk_with):
    d = desk_with(K6, trade_frequency={"per_minute": 3, "per_hour": 3})
    d.open(MNQ, 1, 21000.0)
    *_, v = entries_at(d, [0, 1, 2, 3])  # breaches the minute (60 s) and the hour (30 m) windows
    assert_lock(v.decisions, K6, LockKind.COOLDOWN, T0 + timedelta(seconds=3, minutes=30))


def test_the_longest_lock_wins_whatever_window_it_belongs_to(desk_with):
    d = desk_with(K6, trade_frequency={"per_minute": 3, "per_hour": 3, "minute_cooldown": timedelta(hours=2)})
    d.open(MNQ, 1, 21000.0)
    *_, v = entries_at(d, [0, 1, 2, 3])
    assert_lock(v.decisions, K6, LockKind.COOLDOWN, T0 + timedelta(seconds=3, hours=2))


def test_an_entry_reported_before_its_position_is_closed_on_sight(desk_with):
    d = desk_with(K6)
    *_, v = entries_at(d, [0, 10, 20, 30])
    assert brief(v.decisions) == [(LOCK, K6, None, None)]  # nothing open yet to close
    assert brief(d.open(MNQ, 4, 21000.0).decisions) == [(CLOSE, K6, MNQ, None)]


def test_entries_count_again_after_the_cooldown(desk_with):
    d = desk_with(K6)
    d.open(MNQ, 1, 21000.0)
    entries_at(d, [0, 10, 20, 30])
    d.tick_at(T0 + timedelta(seconds=90))
    assert d.locks == []
    verdicts = entries_at(d, [200, 210, 220])
    assert all(v.decisions == [] for v in verdicts)


# ----- 007 cooldown_after_loss --------------------------------------------------------------------


def test_a_loss_below_the_first_tier_does_nothing(desk_with):
    d = desk_with(K7)
    assert d.loss(98.51, fees=1.48).decisions == []  # net 99.99


def test_a_loss_exactly_at_the_first_tier_flattens_and_cools_down_5_minutes(desk_with):
    d = desk_with(K7)
    v = d.loss(98.52, fees=1.48)  # net 100.00
    assert brief(v.decisions) == [(FLATTEN, K7, None, None), (LOCK, K7, None, None)]
    assert_lock(v.decisions, K7, LockKind.COOLDOWN, T0 + timedelta(minutes=5))


def test_the_largest_matching_tier_sets_the_cooldown(desk_with):
    for amount, minutes in [(150, 5), (200, 15), (299.99, 15), (300, 30), (5000, 30)]:
        d = desk_with(K7)
        v = d.loss(amount)
        assert_lock(v.decisions, K7, LockKind.COOLDOWN, T0 + timedelta(minutes=minutes))


def test_tiers_written_in_any_order_still_pick_the_largest_match(desk_with):
    tiers = (Tier(300.0, timedelta(minutes=30)), Tier(100.0, timedelta(minutes=5)), Tier(200.0, timedelta(minutes=15)))
    d = desk_with(K7, cooldown_after_loss={"tiers": tiers})
    assert_lock(d.loss(250).decisions, K7, LockKind.COOLDOWN, T0 + timedelta(minutes=15))


def test_a_tier_can_cool_down_until_the_reset(desk_with):
    tiers = (Tier(100.0, timedelta(minutes=5)), Tier(400.0, UNTIL_RESET))
    d = desk_with(K7, cooldown_after_loss={"tiers": tiers})
    assert_lock(d.loss(450).decisions, K7, LockKind.UNTIL_RESET, T0_RESET)


def test_fees_push_a_loss_into_a_tier_unless_excluded(desk_with):
    assert_lock(desk_with(K7).loss(99.0, fees=2.0).decisions, K7, LockKind.COOLDOWN, T0 + timedelta(minutes=5))
    assert desk_with(K7, include_fees=False).loss(99.0, fees=2.0).decisions == []


def test_entries_winners_and_voided_losses_never_cool_down(desk_with):
    d = desk_with(K7)
    assert d.entry(MNQ, fees=500.0).decisions == []  # half-turn: null P&L
    assert d.fill(MNQ, 400.0).decisions == []
    assert d.loss(400, voided=True).decisions == []
    assert d.locks == []


def test_a_bigger_loss_during_a_cooldown_extends_it(desk_with):
    d = desk_with(K7)
    d.loss(100)
    d.advance(minutes=1)
    v = d.loss(300)
    assert_lock(v.decisions, K7, LockKind.COOLDOWN, T0 + timedelta(minutes=31))
    assert d.state.account_lock.until == T0 + timedelta(minutes=31)


def test_a_smaller_loss_during_a_longer_cooldown_changes_nothing(desk_with):
    d = desk_with(K7)
    d.loss(300)
    d.advance(minutes=1)
    assert d.loss(100).decisions == []
    assert [lock.until for lock in d.locks] == [T0 + timedelta(minutes=30)]


def test_the_cooldown_ends_on_time(desk_with):
    d = desk_with(K7)
    d.loss(100)
    assert d.tick(minutes=4, seconds=59).ended_locks == []
    ended = d.tick(seconds=1).ended_locks
    assert [lock.rule for lock in ended] == [K7] and d.locks == []


# ----- 016 losing_streak --------------------------------------------------------------------------


def test_the_third_loser_in_a_row_flattens_and_cools_down(desk_with):
    d = desk_with(K16)
    assert d.loss(10).decisions == []
    assert d.loss(10).decisions == []
    v = d.loss(10)
    assert brief(v.decisions) == [(FLATTEN, K16, None, None), (LOCK, K16, None, None)]
    assert_lock(v.decisions, K16, LockKind.COOLDOWN, T0 + timedelta(minutes=30))


def test_a_winner_ends_the_streak(desk_with):
    d = desk_with(K16)
    d.loss(10)
    d.loss(10)
    assert d.fill(MNQ, 5.0).decisions == []
    assert d.loss(10).decisions == []
    assert d.loss(10).decisions == []
    assert brief(d.loss(10).decisions)[0][0] == FLATTEN


def test_a_scratch_trade_leaves_the_streak_alone(desk_with):
    d = desk_with(K16)
    d.loss(10)
    d.loss(10)
    assert d.fill(MNQ, 0.0).decisions == []
    assert d.state.losing_streak == 2
    assert brief(d.loss(10).decisions)[0][0] == FLATTEN


def test_fees_turn_a_small_winner_into_a_loser_unless_excluded(desk_with):
    d = desk_with(K16)
    d.loss(10)
    d.loss(10)
    assert brief(d.fill(MNQ, 1.0, fees=1.48).decisions)[0][0] == FLATTEN  # net -0.48
    d2 = desk_with(K16, include_fees=False)
    d2.loss(10)
    d2.loss(10)
    assert d2.fill(MNQ, 1.0, fees=1.48).decisions == []  # +1.00: a winner
    assert d2.state.losing_streak == 0


def test_entries_and_voided_trades_do_not_touch_the_streak(desk_with):
    d = desk_with(K16)
    d.loss(10)
    d.loss(10)
    d.entry(MNQ)
    d.fill(MNQ, 50.0, voided=True)
    d.loss(10, voided=True)
    assert d.state.losing_streak == 2


def test_the_streak_starts_over_after_the_lock(desk_with):
    """The losing fills of the flatten that the lock ordered do not start a new streak."""
    d = desk_with(K16)
    for _ in range(3):
        d.loss(10)
    assert d.state.losing_streak == 0
    d.advance(seconds=2)
    d.loss(40)  # the flatten's closing fill
    d.tick(minutes=30)
    assert d.locks == []
    assert d.state.losing_streak == 0
    assert d.loss(10).decisions == []
    assert d.loss(10).decisions == []
    assert brief(d.loss(10).decisions)[0][0] == FLATTEN


def test_the_streak_cooldown_may_last_until_the_reset(desk_with):
    d = desk_with(K16, losing_streak={"cooldown": UNTIL_RESET, "max_losses": 2})
    d.loss(10)
    v = d.loss(10)
    assert_lock(v.decisions, K16, LockKind.UNTIL_RESET, T0_RESET)


def test_a_resync_with_missed_losers_during_a_cooldown_applies_the_longest_new_cooldown(desk_with):
    """Reconnecting after a gap during a 15-minute cooldown, the missed trades were a $100 loser (5 m:
    shorter than what is left) and a $300 loser (30 m: longer). The 30-minute cooldown applies, from
    the trade's own time (rules.md: trades the app did not see live are judged at their own time);
    the 5-minute one, outlasted, adds nothing."""
    d = desk_with(K7)
    d.loss(200)  # 15 m, until T0 + 15 m
    d.advance(minutes=5)
    missed = [
        d.trade(MNQ, -100.0, side=1, at=T0 + timedelta(minutes=3)),
        d.trade(MNQ, -300.0, side=1, at=T0 + timedelta(minutes=4)),
    ]
    v = d.resync(trades=missed)
    assert brief(v.decisions) == [(FLATTEN, K7, None, None), (LOCK, K7, None, None)]
    assert_lock(v.decisions, K7, LockKind.COOLDOWN, T0 + timedelta(minutes=4 + 30))
    assert [lock.until for lock in v.new_locks] == [T0 + timedelta(minutes=34)]
    assert sorted(lock.until for lock in d.locks) == [T0 + timedelta(minutes=15), T0 + timedelta(minutes=34)]


def test_a_missed_loser_whose_cooldown_is_already_over_enforces_nothing(desk_with):
    """rules.md: a cooldown that has already ended when the app learns of the trade is written to
    the audit log but enforces nothing."""
    d = desk_with(K7)
    d.advance(minutes=20)
    missed = [d.trade(MNQ, -150.0, side=1, at=T0 + timedelta(minutes=1))]  # 5 m: over at T0 + 6 m
    v = d.resync(trades=missed)
    assert brief(v.decisions) == [(Action.WARN, K7, None, None)]
    assert "already over" in v.decisions[0].reason
    assert v.new_locks == [] and d.locks == []



def test_the_guardian_is_asked_to_tick_when_the_cooldown_ends(desk_with):
    d = desk_with(K7)
    d.loss(100)
    assert d.engine.next_deadline(1001) == T0 + timedelta(minutes=5)


def test_the_day_window_counts_from_the_reset(desk_with):
    d = desk_with(K6, trade_frequency={"per_day": 2})
    d.open(MNQ, 1, 21000.0)
    entries_at(d, [0, 600])
    d.clock.set(T0_RESET + timedelta(hours=1))
    assert d.entry(MNQ).decisions == []  # the first entry of Wednesday's trading day
    assert len(d.state.entries) == 1


def test_the_losing_streak_runs_across_the_daily_reset(desk_with):
    """rules.md lists what is "daily" (P&L, trade counts, daily lockouts); a losing streak is not on
    the list and "N losers in a row" has no day in it, so two losers at Tuesday's close and one at
    Wednesday's open are three in a row (the streak is also what the store persists)."""
    d = desk_with(K16)
    d.loss(10)
    d.loss(10)
    d.clock.set(T0_RESET + timedelta(hours=1))
    assert brief(d.loss(10).decisions)[0][0] == FLATTEN
