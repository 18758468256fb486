"""Declarative rule parameters: one schema per rule feeds validation, the rule editor and the docs.

A rule's ``Params`` is a frozen dataclass whose fields are declared with :func:`param`, which records
the help text, unit, bounds, allowed choices and which direction *loosens* the rule (for the
"tighten now, loosen at the next reset" logic). The engine itself only reads the values.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

UNTIL_RESET: Literal["until_reset"] = "until_reset"

#: A duration parameter: a timedelta, or the word "until_reset" where the rule allows it.
Duration = timedelta | Literal["until_reset"]


class Unit(StrEnum):
    USD = "USD"
    CONTRACTS = "contracts"
    TRADES = "trades"
    TICKS = "ticks"
    RATIO = "ratio"
    DURATION = "duration"
    NONE = ""


class Looser(StrEnum):
    """Which change of a value lets the trader trade more (a loosening, applied at the next reset)."""

    HIGHER = "higher"
    LOWER = "lower"
    ANY = "any"  # no order: every change counts as a loosening


@dataclass(frozen=True, slots=True)
class ParamInfo:
    help: str
    unit: Unit = Unit.NONE
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    choices: tuple[str, ...] | None = None
    looser: Looser = Looser.ANY
    allow_until_reset: bool = False  # durations only


def param(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    unit: Unit = Unit.NONE,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    choices: tuple[str, ...] | None = None,
    looser: Looser = Looser.ANY,
    allow_until_reset: bool = False,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    info = ParamInfo(help, unit, ge, le, gt, choices, looser, allow_until_reset)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"info": info})


def param_info(f: dataclasses.Field[Any]) -> ParamInfo:
    return f.metadata.get("info") or ParamInfo(help="")


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str, *, allow_until_reset: bool = False) -> Duration:
    """``"45s"``, ``"10m"``, ``"2h"``, ``"1h30m"`` (and ``"until_reset"`` where allowed).

    Raises ValueError with a message a trader can act on."""
    s = str(text).strip().lower()
    if s == UNTIL_RESET:
        if allow_until_reset:
            return UNTIL_RESET
        raise ValueError('"until_reset" is not allowed here; use a duration like "30m"')
    m = _DURATION.match(s)
    if not s or m is None or not any(m.groups()):
        hint = ' or "until_reset"' if allow_until_reset else ""
        raise ValueError(f'{text!r} is not a duration; write e.g. "45s", "10m", "2h" or "1h30m"{hint}')
    h, mi, se = (int(g) if g else 0 for g in m.groups())
    td = timedelta(hours=h, minutes=mi, seconds=se)
    if td <= timedelta(0):
        raise ValueError(f"{text!r} is not a positive duration")
    return td


def format_duration(value: Duration) -> str:
    """The inverse of :func:`parse_duration` (``timedelta(minutes=90)`` → ``"1h30m"``)."""
    if value == UNTIL_RESET:
        return UNTIL_RESET
    assert isinstance(value, timedelta)
    total = int(value.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n) or "0s"


def duration_seconds(value: Duration) -> float | None:
    return None if value == UNTIL_RESET else value.total_seconds()
