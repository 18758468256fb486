"""The lock banner: reason, rule, a live countdown that goes down, amber/red, hidden without a lock."""

from __future__ import annotations

import pytest
from ui_stubs import ACCOUNT, make_lock, make_snapshot

from deskguard.engine.decisions import LockKind
from deskguard.engine.state import AccountStatus
from deskguard.ui.display import AMBER, RED, countdown

pytestmark = pytest.mark.ui


def seconds_of(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s


def test_cooldown_lock_appears_in_amber_and_its_countdown_decreases(window, stub, qtbot):
    banner = window.lock_banner
    assert banner.isHidden()
    lock = make_lock(LockKind.COOLDOWN, seconds=90, reason="a loss of 150.00 on one trade")
    stub.emit(status=AccountStatus.LOCKED, locks=(lock,))
    qtbot.waitUntil(banner.isVisible)
    assert banner.colour == AMBER
    assert "COOLING DOWN" in banner.headline.text()
    assert "a loss of 150.00 on one trade" in banner.reason.text()
    assert "007 Cooldown after a loss" in banner.reason.text()
    first = seconds_of(banner.countdown.text())
    assert 85 <= first <= 90
    qtbot.waitUntil(lambda: seconds_of(banner.countdown.text()) < first, timeout=2500)
    assert seconds_of(banner.countdown.text()) >= first - 2
    assert window.summary.state.text().strip() == "LOCKED"


def test_until_reset_lock_is_red_and_counts_hours(window, stub, qtbot):
    lock = make_lock(LockKind.UNTIL_RESET, seconds=5 * 3600 + 12 * 60 + 9, rule="daily_realized_loss",
                     reason="day's P&L -512.00 reached the daily loss limit of 500.00")
    stub.emit(status=AccountStatus.LOCKED, locks=(lock,))
    qtbot.waitUntil(window.lock_banner.isVisible)
    assert window.lock_banner.colour == RED
    assert window.lock_banner.headline.text() == "LOCKED UNTIL THE RESET"
    assert window.lock_banner.countdown.text() in {"05:12:09", "05:12:08"}


def test_condition_lock_shows_what_it_waits_for(window, stub, qtbot):
    lock = make_lock(LockKind.UNTIL_CAN_TRADE, seconds=None, rule="auth_loss_guard", reason="the broker disabled trading")
    stub.emit(status=AccountStatus.LOCKED, locks=(lock,))
    qtbot.waitUntil(window.lock_banner.isVisible)
    assert window.lock_banner.countdown.text() == "until the broker lets the account trade again"


def test_banner_hides_when_the_lock_ends_and_lists_symbol_locks(window, stub, qtbot):
    account_lock = make_lock(LockKind.COOLDOWN, seconds=30)
    symbol_lock = make_lock(LockKind.PERMANENT, seconds=None, rule="symbol_blocks", reason="RTY is blocked", symbol="RTY")
    stub.emit(status=AccountStatus.LOCKED, locks=(account_lock, symbol_lock))
    qtbot.waitUntil(window.lock_banner.isVisible)
    assert "RTY" in window.lock_banner.others.text()
    stub.emit(make_snapshot(ACCOUNT))
    qtbot.waitUntil(lambda: not window.lock_banner.isVisible())


def test_countdown_format_rounds_up_and_never_goes_negative():
    assert countdown(0.2) == "00:00:01"
    assert countdown(3661) == "01:01:01"
    assert countdown(-5) == "00:00:00"
    assert countdown(50 * 3600) == "50:00:00"
