"""Moments and dates as text in state.db.

Moments are stored as fixed-width ISO-8601 UTC text ("2025-03-04T21:00:00.000000+00:00") so that
text order is time order and range queries can use an index."""

from __future__ import annotations

from datetime import UTC, date, datetime


def moment_text(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time would silently be read as UTC later; refuse it where the bug is.
        raise ValueError(f"state.db needs timezone-aware datetimes, got naive {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def moment_from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def optional_moment_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment_text(moment)


def optional_moment_from_text(text: str | None) -> datetime | None:
    return None if text is None else moment_from_text(text)


def date_text(day: date) -> str:
    if isinstance(day, datetime):
        # A datetime is a date too; taking its date part would pick a day in the wrong timezone.
        raise TypeError(f"expected a trading date, got a datetime {day!r}")
    return day.isoformat()
