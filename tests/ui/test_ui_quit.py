"""Closing and quitting: window-only mode quits on close; during a lock, quitting asks first."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox
from ui_stubs import make_lock

from deskguard.engine.decisions import LockKind
from deskguard.engine.state import AccountStatus

pytestmark = pytest.mark.ui


@pytest.fixture
def quits(window):
    seen: list[bool] = []
    window.quitConfirmed.connect(lambda: seen.append(True))
    return seen


def test_without_a_tray_closing_the_window_quits(window, quits):
    assert window.keep_running_in_tray is False
    window.close()
    assert quits == [True]


def test_quitting_during_a_lock_asks_and_says_the_lock_stays(window, stub, quits, qtbot):
    stub.emit(status=AccountStatus.LOCKED, locks=(make_lock(LockKind.UNTIL_RESET, seconds=4 * 3600, rule="daily_realized_loss"),))
    qtbot.waitUntil(window.lock_banner.isVisible)
    window.close()
    box = window.quit_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert not quits  # nothing happens until the trader answers
    assert "the lock stays" in box.text() and "003 Daily loss limit" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not box.isVisible())
    assert not quits and window.isVisible()

    window.request_quit()
    box = window.quit_box
    quit_anyway = next(b for b in box.buttons() if b.text() == "Quit anyway")
    quit_anyway.click()
    assert quits == [True]
