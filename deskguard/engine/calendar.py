"""The trading day, the trading week, and session windows, all computed with zoneinfo.

A trading day starts at ``reset_time`` in ``timezone`` (default 17:00 America/Chicago, when
Topstep's day rolls) and is labelled by the calendar date it ends on (Sunday 17:00 CT to Monday
17:00 CT is Monday's trading day). The trading week starts at the Sunday reset. Every method takes
``now`` as an aware datetime, so a clock that jumps (a PC that slept) gets the right answer at once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SUNDAY = 6  # date.weekday()


@functools.lru_cache(maxsize=4096)
def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The aware moment of a wall-clock time on a date. A time that does not exist (skipped by a
    spring-forward) is moved forward past the gap; an ambiguous one takes its first occurrence.
    Remembered: the same few resets and window edges are asked for at nearly every event."""
    # fold=0 reads a skipped time with the offset from before the gap and an ambiguous one as its first
    # occurrence; the round trip through UTC then turns a skipped 02:30 into 03:30, after the gap.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).astimezone(tz)


@dataclass(frozen=True, slots=True)
class TradingCalendar:
    reset_time: time = time(17, 0)
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/Chicago"))

    def _reset_on(self, day: date) -> datetime:
        return local_moment(day, self.reset_time, self.timezone)

    def day_start(self, now: datetime) -> datetime:
        """The last reset at or before ``now``."""
        local = now.astimezone(self.timezone)
        start = self._reset_on(local.date())
        if start > now:
            start = self._reset_on(local.date() - timedelta(days=1))
        return start

    def next_reset(self, now: datetime) -> datetime:
        """The first reset strictly after ``now``."""
        start = self.day_start(now)
        return self._reset_on(start.astimezone(self.timezone).date() + timedelta(days=1))

    def trading_date(self, now: datetime) -> date:
        """The trading day's label: the calendar date (in the reset zone) on which it ends."""
        return self.next_reset(now).astimezone(self.timezone).date()

    def week_start(self, now: datetime) -> datetime:
        """The last Sunday reset at or before ``now``."""
        start = self.day_start(now)
        local_date = start.astimezone(self.timezone).date()
        back = (local_date.weekday() - SUNDAY) % 7
        return self._reset_on(local_date - timedelta(days=back))

    def next_week_reset(self, now: datetime) -> datetime:
        start = self.week_start(now).astimezone(self.timezone).date()
        return self._reset_on(start + timedelta(days=7))


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_days(text: str) -> frozenset[int]:
    """``"Sun-Thu"``, ``"Mon,Wed,Fri"``, ``"Mon-Fri,Sun"`` → weekday numbers (Mon=0). Ranges may wrap
    (``"Fri-Mon"``). Raises ValueError naming the bad part."""
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if "-" in part:
            a, b = (p.strip()[:3] for p in part.split("-", 1))
            if a not in _DAY_NAMES or b not in _DAY_NAMES:
                raise ValueError(f"unknown day in {part!r}; use Mon Tue Wed Thu Fri Sat Sun")
            i, j = _DAY_NAMES.index(a), _DAY_NAMES.index(b)
            while True:
                days.add(i)
                if i == j:
                    break
                i = (i + 1) % 7
        else:
            if part[:3] not in _DAY_NAMES or len(part) < 3:
                raise ValueError(f"unknown day {part!r}; use Mon Tue Wed Thu Fri Sat Sun")
            days.add(_DAY_NAMES.index(part[:3]))
    if not days:
        raise ValueError("no days given")
    return frozenset(days)


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """Trading allowed from ``start`` on each of ``days`` until ``end`` (the next day when end is not
    after start: an overnight window)."""

    days: frozenset[int]
    start: time
    end: time
    timezone: ZoneInfo

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def span_from(self, start_day: date) -> tuple[datetime, datetime]:
        begin = local_moment(start_day, self.start, self.timezone)
        end_day = start_day + timedelta(days=1) if self.overnight else start_day
        return begin, local_moment(end_day, self.end, self.timezone)


@dataclass(frozen=True, slots=True)
class SessionCalendar:
    """Allowed trading windows, minus holidays, with early closes.

    A holiday or early close is keyed by the date a window *ends* on, its trading date: holiday
    2026-12-25 removes the session that would end on Christmas Day (for the default Topstep window,
    Dec 24 17:00 → Dec 25 15:10 CT), and early close 2026-11-27 12:00 ends that day's session at noon."""

    windows: tuple[SessionWindow, ...]
    holidays: frozenset[date] = frozenset()
    early_closes: dict[date, time] = field(default_factory=dict)

    def spans(self, around: datetime, days_before: int = 1, days_after: int = 8) -> Iterator[tuple[datetime, datetime]]:
        """Every allowed (begin, end) span whose start date lies in a range around ``around``."""
        for w in self.windows:
            local_day = around.astimezone(w.timezone).date()
            for offset in range(-days_before, days_after + 1):
                d = local_day + timedelta(days=offset)
                if d.weekday() not in w.days:
                    continue
                begin, end = w.span_from(d)
                end_date = end.astimezone(w.timezone).date()
                if end_date in self.holidays:
                    continue
                early = self.early_closes.get(end_date)
                if early is not None:
                    end = min(end, local_moment(end_date, early, w.timezone))
                if end > begin:
                    yield begin, end

    def current(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The allowed span containing ``now`` (the one ending last, if windows overlap)."""
        best = None
        for begin, end in self.spans(now, days_before=2, days_after=0):
            if begin <= now < end and (best is None or end > best[1]):
                best = (begin, end)
        return best

    def is_open(self, now: datetime) -> bool:
        return self.current(now) is not None

    def next_open(self, now: datetime) -> datetime | None:
        """When trading is next allowed: ``now`` if it is, else the earliest span start after it
        (searched up to three weeks ahead; None if no window ever opens)."""
        if self.is_open(now):
            return now
        starts = [b for b, _ in self.spans(now, days_before=0, days_after=21) if b > now]
        return min(starts) if starts else None

    def next_close(self, now: datetime) -> datetime | None:
        """When the span containing ``now`` ends, following overlapping spans; None when closed."""
        span = self.current(now)
        if span is None:
            return None
        end = span[1]
        # Adjacent or overlapping windows continue the session.
        for _ in range(10):
            nxt = self.current(end)
            if nxt is None or nxt[1] <= end:
                break
            end = nxt[1]
        return end
