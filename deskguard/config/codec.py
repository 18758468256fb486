"""How engine values are written in ``config.toml`` and read back.

Times are ``"HH:MM"`` strings, dates ISO strings, durations the rule book's ``"1h30m"`` form. TOML's
native dates and times are accepted on input too, since a hand-edited file may well use them, but
the app always writes strings, the form the rule book shows.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..engine.schema import UNTIL_RESET, format_duration

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_hhmm(value: Any) -> time:
    """``"17:00"`` (or a TOML local time without seconds) → ``time(17, 0)``."""
    if isinstance(value, time):
        if value.second or value.microsecond or value.tzinfo is not None:
            raise ValueError(f'must be a time like "17:00", hours and minutes only (got {render(value)})')
        return value
    if isinstance(value, str):
        m = _HHMM.match(value.strip())
        if m:
            return time(int(m.group(1)), int(m.group(2)))
    raise ValueError(f'must be a time like "17:00" (got {render(value)})')


def format_hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def parse_iso_date(value: Any) -> date:
    """``"2026-12-25"`` (or a TOML local date) → ``date(2026, 12, 25)``."""
    # datetime is a subclass of date: a date-time is not a date here.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f'must be a date like "2026-12-25" (got {render(value)})')


def check_timezone(name: Any) -> str:
    """An IANA time zone name that zoneinfo knows, e.g. ``America/Chicago``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'must be an IANA time zone like "America/Chicago" (got {render(name)})')
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone {render(name)}; use an IANA name like "America/Chicago"') from None
    return name


def to_toml(value: Any) -> Any:
    """An engine value as plain TOML-ready data (dicts, lists, str, int, float, bool).

    Whole-number floats are written as integers ("max_loss = 500", as a trader writes it); the loader
    accepts an integer wherever a number is expected."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_toml(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time):
        return format_hhmm(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return to_toml(value.value)
    if isinstance(value, dict):
        return {str(to_toml(k)): to_toml(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [to_toml(v) for v in value]
    return value


def render(value: Any, limit: int = 80) -> str:
    """A short TOML-like rendering of a value for messages: ``-500``, ``"5m"``, ``true``, ``[1, 2]``."""
    text = _render(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(value: Any) -> str:
    if value is None:
        return "nothing"
    if value is UNTIL_RESET or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:g}" if value.is_integer() or abs(value) < 1e15 else repr(value)
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, datetime):  # a TOML date-time where something else belongs (to_toml keeps it)
        return value.isoformat()
    if isinstance(value, (timedelta, time, date)) or dataclasses.is_dataclass(value):
        return _render(to_toml(value))
    if isinstance(value, dict):
        inner = ", ".join(f"{key_text(str(to_toml(k)))} = {_render(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)


def key_text(key: str) -> str:
    """A TOML key as written: bare when it can be, else quoted."""
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)
