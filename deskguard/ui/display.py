"""How figures, states and locks read on screen: one place for the words and colours the UI uses."""

from __future__ import annotations

import math
from datetime import datetime

from ..engine.decisions import Lock, LockKind
from ..engine.state import AccountStatus
from ..guardian import ConnectionHealth, texts

STATUS_LABEL = texts.STATUS_LABEL

#: Background colours of state pills, banners and tray icons (the SVGs use the same ones). Each is
#: used with white or near-black text chosen for contrast, so they read on light and dark themes.
STATUS_COLOR = {
    AccountStatus.OK: "#2e7d32",
    AccountStatus.WARNING: "#f9a825",
    AccountStatus.ENFORCING: "#e65100",
    AccountStatus.LOCKED: "#c62828",
    AccountStatus.NOT_GUARDING: "#b71c1c",
}
STATUS_TEXT_COLOR = {
    AccountStatus.OK: "#ffffff",
    AccountStatus.WARNING: "#1b1b1b",
    AccountStatus.ENFORCING: "#ffffff",
    AccountStatus.LOCKED: "#ffffff",
    AccountStatus.NOT_GUARDING: "#ffffff",
}

#: Worst first: the state the tray shows when several accounts are guarded.
SEVERITY = (
    AccountStatus.NOT_GUARDING,
    AccountStatus.ENFORCING,
    AccountStatus.LOCKED,
    AccountStatus.WARNING,
    AccountStatus.OK,
)

AMBER = "#f9a825"
RED = "#c62828"
PROFIT_COLOR = "#2e9e44"  # mid-tone green and red: readable on light and dark backgrounds
LOSS_COLOR = "#d84040"


def is_guarding(health: ConnectionHealth | None) -> bool:
    """No health yet (still starting) counts as not guarding: the screen must never claim more."""
    return health is not None and health.guarding


def worst(statuses: list[AccountStatus]) -> AccountStatus:
    for status in SEVERITY:
        if status in statuses:
            return status
    return AccountStatus.OK


def money(value: float | None, *, signed: bool = True) -> str:
    """``+$1,234.50`` / ``−$500.00`` (a real minus sign, so it does not look like a dash)."""
    if value is None:
        return "—"
    sign = "−" if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}${abs(value):,.2f}"


def pnl_color(value: float) -> str | None:
    if value > 0:
        return PROFIT_COLOR
    if value < 0:
        return LOSS_COLOR
    return None


def countdown(seconds: float) -> str:
    """``hh:mm:ss`` of the time left, rounded up (a lock with 0.2 s left still shows 00:00:01)."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def rule_title(key: str | None) -> str:
    """``003 Daily loss limit`` (the words live in :mod:`deskguard.guardian.texts`)."""
    return texts.rule_name(key)


_WAITS_FOR = {
    LockKind.UNTIL_SESSION: "until your next session window opens",
    LockKind.UNTIL_CAN_TRADE: "until the broker lets the account trade again",
    LockKind.PERMANENT: "while the rule stays configured",
}


def lock_headline(lock: Lock) -> str:
    if lock.kind == LockKind.COOLDOWN:
        return "COOLING DOWN"
    if lock.kind == LockKind.UNTIL_RESET:
        return "LOCKED UNTIL THE RESET"
    if lock.kind == LockKind.PERMANENT:
        return "BLOCKED"
    return "LOCKED"


_TIMED = (LockKind.COOLDOWN, LockKind.UNTIL_RESET, LockKind.UNTIL_SESSION)


def lock_time_left(lock: Lock, now: datetime) -> str:
    """The live part of the banner: a countdown, or the condition the lock waits for."""
    if lock.until is not None and lock.kind in _TIMED:
        return countdown((lock.until - now).total_seconds())
    return _WAITS_FOR.get(lock.kind, "")


def lock_color(lock: Lock) -> str:
    return AMBER if lock.kind == LockKind.COOLDOWN else RED


def lock_summary(lock: Lock, now: datetime) -> str:
    """One line for the tray tooltip: ``Locked until the reset (003 Daily loss limit): 05:12:09 left``."""
    where = f" {lock.symbol}" if lock.symbol else ""
    head = f"{lock_headline(lock).capitalize()}{where} ({rule_title(lock.rule)})"
    if lock.until is not None and lock.kind in _TIMED:
        return f"{head}: {lock_time_left(lock, now)} left"
    return f"{head} {lock_time_left(lock, now)}".rstrip()
