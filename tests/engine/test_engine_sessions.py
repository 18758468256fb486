"""009 session_block, session windows and the trading calendar: overnight windows, weekends, holidays,
early closes, and both 2026 US DST changes (Sun 8 Mar and Sun 1 Nov)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from engine_harness import (
    BUY,
    CT,
    MES,
    MNQ,
    NY,
    SELL,
    T0,
    Action,
    LockKind,
    OrderType,
    brief,
    ct,
    lock_of,
)

from deskguard.engine.calendar import SessionCalendar, SessionWindow, TradingCalendar, local_moment, parse_days
from deskguard.engine.rules.session_block import Window

FLATTEN, LOCK = Action.FLATTEN, Action.LOCK
K9 = "session_block"
DAY_SESSION = Window(days="Mon-Fri", start=time(8, 30), end=time(15, 10), timezone="America/Chicago")


def assert_session_lock(v, until):
    assert brief(v.decisions) == [(FLATTEN, K9, None, None), (LOCK, K9, None, None)]
    lock = lock_of(v.decisions)
    assert (lock.kind, lock.until, lock.symbol) == (LockKind.UNTIL_SESSION, until, None)


# ----- 009 session_block --------------------------------------------------------------------------


def test_inside_the_session_nothing_happens(desk_with):
    d = desk_with(K9)
    assert d.open(MNQ, 1, 21000.0).decisions == []
    assert d.order(MNQ, type=OrderType.LIMIT, limit_price=20900.0).decisions == []


def test_the_sweep_at_the_window_end_flattens_open_positions_and_locks_until_the_next_session(desk_with):
    d = desk_with(K9)
    d.open(MNQ, 1, 21000.0)
    close = ct(2026, 11, 24, 15, 10)
    assert d.engine.next_deadline(1001) == close  # the guardian is asked to tick at the window's end
    assert d.tick_at(close - timedelta(seconds=1)).decisions == []
    v = d.tick_at(close)
    assert_session_lock(v, ct(2026, 11, 24, 17, 0))
    ended = d.tick_at(ct(2026, 11, 24, 17, 0)).ended_locks
    assert [lock.rule for lock in ended] == [K9]
    assert d.open(MES, 1, 6000.0).decisions == []


def test_a_window_ending_with_nothing_open_sets_no_lock(desk_with):
    d = desk_with(K9)
    assert d.tick_at(ct(2026, 11, 24, 15, 10)).decisions == []
    assert d.locks == []


@pytest.mark.parametrize(
    "moment, next_open",
    [
        (ct(2026, 11, 24, 16, 0), ct(2026, 11, 24, 17, 0)),  # the daily break
        (ct(2026, 12, 4, 15, 30), ct(2026, 12, 6, 17, 0)),  # Friday after the close
        (ct(2026, 12, 5, 10, 0), ct(2026, 12, 6, 17, 0)),  # Saturday
        (ct(2026, 12, 6, 16, 59), ct(2026, 12, 6, 17, 0)),  # Sunday before the open
    ],
)
def test_a_position_outside_every_window_is_flattened_and_locked_until_the_next_open(desk_with, moment, next_open):
    d = desk_with(K9)
    d.clock.set(moment)
    assert_session_lock(d.open(MNQ, 1, 21000.0), next_open)


def test_a_working_order_outside_the_session_is_a_breach(desk_with):
    d = desk_with(K9)
    d.clock.set(ct(2026, 11, 24, 16, 0))
    assert_session_lock(d.order(MNQ, type=OrderType.LIMIT, limit_price=20900.0), ct(2026, 11, 24, 17, 0))


@pytest.mark.parametrize(
    "moment",
    [ct(2026, 11, 23, 17, 0), ct(2026, 11, 23, 23, 30), ct(2026, 11, 24, 3, 0), ct(2026, 11, 24, 15, 9, 59),
     ct(2026, 11, 26, 20, 0)],  # Thursday evening opens Friday's session
)
def test_the_overnight_window_runs_past_midnight(desk_with, moment):
    d = desk_with(K9, start=moment)
    assert d.open(MNQ, 1, 21000.0).decisions == []


def test_friday_evening_is_not_a_session_start(desk_with):
    d = desk_with(K9, start=ct(2026, 12, 4, 20, 0))
    assert_session_lock(d.open(MNQ, 1, 21000.0), ct(2026, 12, 6, 17, 0))


def test_a_day_session_locks_until_its_morning_open(desk_with):
    d = desk_with(K9, start=ct(2026, 11, 24, 7, 0), session_block={"windows": (DAY_SESSION,)})
    assert_session_lock(d.open(MNQ, 1, 21000.0), ct(2026, 11, 24, 8, 30))
    d.tick_at(ct(2026, 11, 24, 8, 30))
    assert d.locks == []


def test_between_two_windows_the_lock_lasts_until_the_second_opens(desk_with):
    morning = Window("Mon-Fri", time(8, 30), time(11, 0), "America/Chicago")
    afternoon = Window("Mon-Fri", time(13, 0), time(15, 0), "America/Chicago")
    d = desk_with(K9, start=ct(2026, 11, 24, 10, 0), session_block={"windows": (morning, afternoon)})
    d.open(MNQ, 1, 21000.0)
    assert_session_lock(d.tick_at(ct(2026, 11, 24, 11, 0)), ct(2026, 11, 24, 13, 0))


def test_a_window_in_new_york_time(desk_with):
    ny_cash = Window("Mon-Fri", time(9, 30), time(16, 0), "America/New_York")
    d = desk_with(K9, session_block={"windows": (ny_cash,)})  # T0 is 10:00 ET
    d.open(MNQ, 1, 21000.0)
    assert_session_lock(d.tick_at(ct(2026, 11, 24, 15, 0)), datetime(2026, 11, 25, 9, 30, tzinfo=NY))


def test_christmas_is_a_holiday_and_christmas_eve_closes_early(desk_with):
    """Holidays and early closes are keyed by a session's trading date (the date it ends on): 24 Dec
    closes at noon, and the session that would end on 25 Dec never opens."""
    d = desk_with(K9, start=ct(2026, 12, 24, 11, 0))
    assert d.open(MNQ, 1, 21000.0).decisions == []
    assert_session_lock(d.tick_at(ct(2026, 12, 24, 12, 0)), ct(2026, 12, 27, 17, 0))


def test_the_day_after_thanksgiving_closes_at_noon(desk_with):
    d = desk_with(K9, start=ct(2026, 11, 26, 18, 0))  # Thanksgiving evening: the session is open
    assert d.open(MNQ, 1, 21000.0).decisions == []
    assert d.engine.next_deadline(1001) == ct(2026, 11, 27, 12, 0)
    assert_session_lock(d.tick_at(ct(2026, 11, 27, 12, 0)), ct(2026, 11, 29, 17, 0))


def test_new_years_day_holiday_in_a_day_session(desk_with):
    d = desk_with(K9, start=ct(2027, 1, 1, 10, 0), session_block={"windows": (DAY_SESSION,), "holidays": (date(2027, 1, 1),)})
    assert_session_lock(d.open(MNQ, 1, 21000.0), ct(2027, 1, 4, 8, 30))


def test_without_flatten_at_end_positions_ride_through_but_new_ones_are_a_breach(desk_with):
    d = desk_with(K9, session_block={"flatten_at_end": False})
    d.open(MNQ, 1, 21000.0)
    assert d.tick_at(ct(2026, 11, 24, 15, 10)).decisions == []
    v = d.open(MES, 1, 6000.0)
    assert_session_lock(v, ct(2026, 11, 24, 17, 0))


def test_without_flatten_at_end_the_exit_orders_of_a_carried_position_ride_through_too(desk_with):
    """A position let through the window end keeps its protective stop and profit target (a trader
    who carries positions keeps their stops); orders that would add to it are still a breach."""
    d = desk_with(K9, session_block={"flatten_at_end": False})
    d.open(MNQ, 1, 21000.0)
    d.order(MNQ, type=OrderType.STOP, side=SELL, stop_price=20950.0)
    d.order(MNQ, type=OrderType.LIMIT, side=SELL, limit_price=21100.0)
    assert d.tick_at(ct(2026, 11, 24, 15, 10)).decisions == []
    assert d.tick(minutes=5).decisions == []
    v = d.order(MNQ, type=OrderType.LIMIT, side=BUY, limit_price=20900.0)  # adding after hours
    assert_session_lock(v, ct(2026, 11, 24, 17, 0))


def test_without_flatten_at_end_a_closed_carried_position_loses_its_pass(desk_with):
    d = desk_with(K9, session_block={"flatten_at_end": False})
    d.open(MNQ, 1, 21000.0)
    d.tick_at(ct(2026, 11, 24, 15, 10))
    d.advance(minutes=5)
    assert d.flat(MNQ).decisions == []
    d.advance(minutes=5)
    assert_session_lock(d.open(MNQ, 1, 21010.0), ct(2026, 11, 24, 17, 0))


def test_without_flatten_at_end_a_position_opened_just_after_the_close_is_a_breach(desk_with):
    d = desk_with(K9, session_block={"flatten_at_end": False})
    assert d.tick_at(ct(2026, 11, 24, 15, 10)).decisions == []  # nothing open at the end
    d.advance(seconds=30)
    assert_session_lock(d.open(MNQ, 1, 21000.0), ct(2026, 11, 24, 17, 0))


def test_the_spring_forward_weekend_reopens_at_17_00_cdt(desk_with):
    d = desk_with(K9, start=ct(2026, 3, 6, 14, 0))  # Friday 6 Mar, CST
    d.open(MNQ, 1, 21000.0)
    v = d.tick_at(datetime(2026, 3, 6, 21, 10, tzinfo=UTC))  # 15:10 CST
    assert_session_lock(v, datetime(2026, 3, 8, 22, 0, tzinfo=UTC))  # Sun 17:00 CDT is 22:00 UTC
    d.tick_at(datetime(2026, 3, 8, 21, 59, tzinfo=UTC))
    assert len(d.locks) == 1
    d.tick_at(datetime(2026, 3, 8, 22, 0, tzinfo=UTC))
    assert d.locks == []
    assert d.engine.next_deadline(1001) == datetime(2026, 3, 9, 20, 10, tzinfo=UTC)  # Mon 15:10 CDT


def test_the_fall_back_weekend_reopens_at_17_00_cst(desk_with):
    d = desk_with(K9, start=ct(2026, 10, 30, 14, 0))  # Friday 30 Oct, CDT
    d.open(MNQ, 1, 21000.0)
    v = d.tick_at(datetime(2026, 10, 30, 20, 10, tzinfo=UTC))  # 15:10 CDT
    assert_session_lock(v, datetime(2026, 11, 1, 23, 0, tzinfo=UTC))  # Sun 17:00 CST is 23:00 UTC


# ----- session calendar -------------------------------------------------------------------------


def test_parse_days():
    assert parse_days("Sun-Thu") == {6, 0, 1, 2, 3}
    assert parse_days("Mon,Wed,Fri") == {0, 2, 4}
    assert parse_days("Fri-Mon") == {4, 5, 6, 0}
    assert parse_days("mon-fri, sun") == {0, 1, 2, 3, 4, 6}
    with pytest.raises(ValueError, match="unknown day"):
        parse_days("Mon-Fry")


def test_a_window_whose_end_is_not_after_its_start_is_overnight():
    w = SessionWindow(frozenset({6}), time(17, 0), time(15, 10), CT)
    assert w.overnight
    assert w.span_from(date(2026, 11, 22)) == (ct(2026, 11, 22, 17, 0), ct(2026, 11, 23, 15, 10))


def test_a_session_window_keeps_wall_clock_times_across_the_dst_change():
    w = SessionWindow(frozenset({6}), time(17, 0), time(15, 10), CT)
    begin, end = w.span_from(date(2026, 3, 8))
    assert begin == datetime(2026, 3, 8, 22, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 9, 20, 10, tzinfo=UTC)
    begin, end = w.span_from(date(2026, 11, 1))
    assert begin == datetime(2026, 11, 1, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 21, 10, tzinfo=UTC)


def test_session_calendar_next_open_and_close():
    cal = SessionCalendar((Window().to_window(),), frozenset({date(2026, 12, 25)}))
    assert cal.is_open(ct(2026, 12, 24, 15, 9))
    assert cal.next_close(ct(2026, 12, 24, 9, 0)) == ct(2026, 12, 24, 15, 10)
    assert cal.next_open(ct(2026, 12, 24, 16, 0)) == ct(2026, 12, 27, 17, 0)
    assert cal.next_close(ct(2026, 12, 24, 16, 0)) is None


# ----- trading calendar -------------------------------------------------------------------------


def test_the_trading_day_starts_at_17_00_chicago_and_is_named_by_the_day_it_ends():
    cal = TradingCalendar()
    assert cal.day_start(T0) == ct(2026, 11, 23, 17, 0)
    assert cal.next_reset(T0) == ct(2026, 11, 24, 17, 0)
    assert cal.trading_date(T0) == date(2026, 11, 24)
    assert cal.trading_date(ct(2026, 11, 24, 17, 0)) == date(2026, 11, 25)  # the reset belongs to the new day
    assert cal.trading_date(ct(2026, 11, 24, 16, 59, 59)) == date(2026, 11, 24)


def test_the_trading_week_starts_at_the_sunday_reset():
    cal = TradingCalendar()
    assert cal.week_start(T0) == ct(2026, 11, 22, 17, 0)
    assert cal.next_week_reset(T0) == ct(2026, 11, 29, 17, 0)
    assert cal.week_start(ct(2026, 11, 29, 16, 59)) == ct(2026, 11, 22, 17, 0)  # Sunday afternoon: last week
    assert cal.week_start(ct(2026, 11, 29, 17, 0)) == ct(2026, 11, 29, 17, 0)
    assert cal.week_start(ct(2026, 11, 28, 12, 0)) == ct(2026, 11, 22, 17, 0)  # Saturday


@pytest.mark.parametrize(
    "now, start_utc, reset_utc",
    [
        # Spring forward: Saturday 17:00 CST (23:00 UTC) to Sunday 17:00 CDT (22:00 UTC), a 23-hour day.
        (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 7, 23, 0, tzinfo=UTC),
         datetime(2026, 3, 8, 22, 0, tzinfo=UTC)),
        # Fall back: Saturday 17:00 CDT (22:00 UTC) to Sunday 17:00 CST (23:00 UTC), a 25-hour day.
        (datetime(2026, 11, 1, 12, 0, tzinfo=UTC), datetime(2026, 10, 31, 22, 0, tzinfo=UTC),
         datetime(2026, 11, 1, 23, 0, tzinfo=UTC)),
        # The first Monday after each change.
        (datetime(2026, 3, 9, 15, 0, tzinfo=UTC), datetime(2026, 3, 8, 22, 0, tzinfo=UTC),
         datetime(2026, 3, 9, 22, 0, tzinfo=UTC)),
        (datetime(2026, 11, 2, 15, 0, tzinfo=UTC), datetime(2026, 11, 1, 23, 0, tzinfo=UTC),
         datetime(2026, 11, 2, 23, 0, tzinfo=UTC)),
    ],
)
def test_trading_days_across_the_2026_dst_changes(now, start_utc, reset_utc):
    cal = TradingCalendar()
    assert cal.day_start(now) == start_utc
    assert cal.next_reset(now) == reset_utc


def test_a_new_york_reset():
    cal = TradingCalendar(time(17, 0), ZoneInfo("America/New_York"))
    assert cal.day_start(T0) == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    assert cal.next_reset(T0) == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def test_a_reset_time_skipped_by_spring_forward_moves_forward_past_the_gap():
    """02:30 does not exist on 8 Mar 2026 in Chicago (02:00 jumps to 03:00): the reset happens at 03:30
    CDT, after the gap, never at 01:30 before it."""
    cal = TradingCalendar(time(2, 30), CT)
    sat = ct(2026, 3, 7, 12, 0)
    assert cal.next_reset(sat).astimezone(UTC) == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)  # 03:30 CDT
    assert local_moment(date(2026, 3, 8), time(2, 30), CT).astimezone(UTC) == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)
    assert cal.day_start(ct(2026, 3, 8, 1, 45)).astimezone(UTC) == datetime(2026, 3, 7, 8, 30, tzinfo=UTC)


def test_an_ambiguous_reset_time_takes_its_first_occurrence():
    """01:30 happens twice on 1 Nov 2026 in Chicago; the reset is at the first, 01:30 CDT."""
    moment = local_moment(date(2026, 11, 1), time(1, 30), CT)
    assert moment.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
