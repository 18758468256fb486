"""The tray icon follows the guardian's state; tooltip with P&L and time left; notifications."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QSystemTrayIcon
from ui_stubs import make_lock, make_snapshot

from deskguard.broker.base import HubState
from deskguard.engine.decisions import LockKind
from deskguard.engine.state import AccountStatus
from deskguard.guardian.snapshot import NoticeLevel
from deskguard.ui.icons import icon_file_name, status_icon, svg_bytes
from deskguard.ui.tray import TrayController, overall_status, tooltip_text

pytestmark = pytest.mark.ui


@pytest.fixture
def tray(window, vm):
    return TrayController(vm, window)


def test_every_state_has_its_own_svg_icon_shipped_in_the_package(qapp):
    names = {status: icon_file_name(status) for status in AccountStatus}
    assert names == {
        AccountStatus.OK: "tray-ok.svg", AccountStatus.WARNING: "tray-warning.svg",
        AccountStatus.ENFORCING: "tray-enforcing.svg", AccountStatus.LOCKED: "tray-locked.svg",
        AccountStatus.NOT_GUARDING: "tray-not_guarding.svg",
    }
    assert len({svg_bytes(n) for n in names.values()}) == len(names)  # all different drawings
    for status in AccountStatus:
        assert not status_icon(status).isNull()
        assert status_icon(status).pixmap(22, 22).width() == 22


def test_no_tray_offscreen_means_window_only(tray, window):
    assert QSystemTrayIcon.isSystemTrayAvailable() is False
    assert tray.available is False and tray.tray is None
    assert window.keep_running_in_tray is False


def test_icon_follows_the_guardian_state(tray, window, stub, qtbot):
    qtbot.waitUntil(lambda: tray.status == AccountStatus.OK)
    assert tray.icon_name == "tray-ok.svg"
    stub.emit(status=AccountStatus.WARNING, warnings=("daily_realized_loss",))
    qtbot.waitUntil(lambda: tray.icon_name == "tray-warning.svg")
    stub.emit(status=AccountStatus.LOCKED, locks=(make_lock(LockKind.UNTIL_RESET, seconds=3600, rule="daily_realized_loss"),))
    qtbot.waitUntil(lambda: tray.icon_name == "tray-locked.svg")
    stub.set_health(HubState.DISCONNECTED, detail="user hub closed")
    qtbot.waitUntil(lambda: tray.icon_name == "tray-not_guarding.svg")
    stub.set_health(HubState.CONNECTED)
    stub.emit(status=AccountStatus.ENFORCING, enforcing=True)
    qtbot.waitUntil(lambda: tray.icon_name == "tray-enforcing.svg")


def test_tooltip_shows_pnl_and_time_left_on_the_lock(tray, stub, qtbot):
    lock = make_lock(LockKind.COOLDOWN, seconds=15 * 60, rule="losing_streak", reason="3 losers in a row")
    stub.emit(status=AccountStatus.LOCKED, realized_day=-230.5, open_pnl=0.0, locks=(lock,))
    qtbot.waitUntil(lambda: "LOCKED" in tray.tooltip)
    assert "today −$230.50" in tray.tooltip
    assert "016 Losing streak" in tray.tooltip and "left" in tray.tooltip
    assert "00:14:5" in tray.tooltip or "00:15:00" in tray.tooltip


def test_worst_account_wins_and_no_health_is_not_guarding():
    ok = make_snapshot(1)
    locked = make_snapshot(2, status=AccountStatus.LOCKED)
    from deskguard.broker.base import ConnectionHealth

    healthy = ConnectionHealth(HubState.CONNECTED, HubState.CONNECTED)
    assert overall_status([ok, locked], healthy) == AccountStatus.LOCKED
    assert overall_status([ok], None) == AccountStatus.NOT_GUARDING
    text = tooltip_text([ok], ConnectionHealth(HubState.DISCONNECTED, HubState.CONNECTED, detail="socket closed"), ok.at)
    assert "NOT GUARDING" in text and "socket closed" in text


def test_warning_enforcement_and_lock_end_notify_and_bursts_are_merged(tray, stub, qtbot):
    stub.notice(NoticeLevel.INFO, "bought 1 MNQ")
    stub.notice(NoticeLevel.WARNING, "day's P&L -410.00 is past 80% of the daily loss limit", rule="daily_realized_loss")
    assert tray.messages == [("DeskGuard warning", "day's P&L -410.00 is past 80% of the daily loss limit")]
    stub.notice(NoticeLevel.ENFORCEMENT, "flattened", rule="daily_realized_loss")
    stub.notice(NoticeLevel.ENFORCEMENT, "locked until the reset", rule="daily_realized_loss")
    qtbot.waitUntil(lambda: len(tray.messages) == 2, timeout=4000)
    title, text = tray.messages[1]
    assert title == "DeskGuard enforced a rule" and "flattened" in text and "+1 more" in text
    tray.tell_still_running()
    tray.tell_still_running()
    assert sum(1 for t, _ in tray.messages if t == "DeskGuard is still guarding") == 1


def test_tray_available_closes_to_tray_with_a_one_time_notice(qtbot, aio, vm, stub):
    from deskguard.ui.main_window import MainWindow

    win = MainWindow(vm)
    qtbot.addWidget(win)
    tray = TrayController(vm, win, tray_available=True)  # a real QSystemTrayIcon, offscreen
    win.keep_running_in_tray = tray.available
    win.closedToTray.connect(tray.tell_still_running)
    quits = []
    win.quitConfirmed.connect(lambda: quits.append(True))
    vm.attach(stub)
    win.show()
    qtbot.waitExposed(win)
    win.close()
    assert win.isHidden() and not quits
    assert tray.messages[-1][0] == "DeskGuard is still guarding"
    win.show()
    win.close()
    assert sum(1 for t, _ in tray.messages if t == "DeskGuard is still guarding") == 1
    win.request_quit()  # what the tray's Quit does (no lock: no question)
    assert quits == [True]
    tray.tray.hide()
