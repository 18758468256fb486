"""The tray icon, the lock banner and the NOT GUARDING banner follow the guardian's status events
at once, before any snapshot shows the change."""

from __future__ import annotations

import pytest
from ui_stubs import ACCOUNT, make_lock

from deskguard.engine.decisions import LockKind
from deskguard.engine.state import AccountStatus
from deskguard.ui.tray import TrayController

pytestmark = pytest.mark.ui

OK, WARNING, ENFORCING, LOCKED, NOT_GUARDING = (
    AccountStatus.OK, AccountStatus.WARNING, AccountStatus.ENFORCING, AccountStatus.LOCKED, AccountStatus.NOT_GUARDING)


@pytest.fixture
def tray(window, vm):
    return TrayController(vm, window)


def test_a_breach_moves_the_tray_and_the_lock_banner_by_its_events(tray, window, vm, stub, qtbot):
    qtbot.waitUntil(lambda: tray.icon_name == "tray-ok.svg")
    emitted = vm.snapshots_emitted
    with qtbot.waitSignal(vm.statusChanged) as got:
        stub.change_status(OK, ENFORCING)
    assert got.args[0].new == ENFORCING
    assert tray.status == ENFORCING and tray.icon_name == "tray-enforcing.svg"
    assert window.lock_banner.isHidden()

    lock = make_lock(LockKind.COOLDOWN, seconds=120, rule="cooldown_after_loss", reason="a loss of 150.00 on one trade")
    stub.change_status(ENFORCING, LOCKED, lock=lock)
    assert tray.icon_name == "tray-locked.svg" and "LOCKED" in tray.tooltip
    assert window.lock_banner.isVisible() and window.lock_banner.lock == lock
    assert "a loss of 150.00 on one trade" in window.lock_banner.reason.text()

    stub.change_status(LOCKED, OK)
    assert tray.icon_name == "tray-ok.svg" and window.lock_banner.isHidden()
    assert vm.snapshots_emitted == emitted  # the events alone did all this: no snapshot came


def test_a_warning_event_turns_the_tray_amber(tray, vm, stub, qtbot):
    qtbot.waitUntil(lambda: tray.icon_name == "tray-ok.svg")
    stub.change_status(OK, WARNING, why="past the warning level of 003 Daily loss limit")
    assert tray.status == WARNING and tray.icon_name == "tray-warning.svg"
    assert vm.status(ACCOUNT) == WARNING


def test_a_not_guarding_event_raises_the_banner_and_its_end_clears_it(tray, window, stub, qtbot):
    qtbot.waitUntil(lambda: tray.icon_name == "tray-ok.svg")
    assert window.not_guarding_banner.isHidden()
    stub.change_status(OK, NOT_GUARDING, why="waiting for a fresh read of the account")
    assert tray.icon_name == "tray-not_guarding.svg"
    assert window.not_guarding_banner.isVisible()
    assert window.not_guarding_banner.title.text() == "NOT GUARDING"
    assert "is not being guarded" in window.not_guarding_banner.detail.text()
    stub.change_status(NOT_GUARDING, OK)
    assert tray.icon_name == "tray-ok.svg" and window.not_guarding_banner.isHidden()


def test_a_later_snapshot_wins_over_an_earlier_event(tray, stub, qtbot):
    stub.change_status(OK, ENFORCING)
    assert tray.icon_name == "tray-enforcing.svg"
    stub.emit(status=OK)  # what the guardian sends once the enforcement is over
    qtbot.waitUntil(lambda: tray.icon_name == "tray-ok.svg")
