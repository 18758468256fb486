"""Demo mode: a practice-ticket trade that breaks the daily loss limit ends flat and locked.

Runs against the in-process preview guardian (deskguard.ui.preview); the same scenario against the
real guardian and the built-in simulator belongs with the demo wiring."""

from __future__ import annotations

import pytest

from deskguard.engine.state import AccountStatus
from deskguard.ui.display import RED
from deskguard.ui.main_window import MainWindow
from deskguard.ui.preview import ACCOUNT_ID, PreviewGuardian

pytestmark = pytest.mark.ui


@pytest.fixture
def demo(qtbot, aio, vm):
    guardian = PreviewGuardian(tick_s=3600, seed=7)  # prices move only when the test says so
    win = MainWindow(vm, demo=True, practice=guardian.practice)
    qtbot.addWidget(win)
    vm.attach(guardian)
    win.show()
    qtbot.waitExposed(win)
    task = aio.create_task(guardian.start())
    qtbot.waitUntil(task.done)
    qtbot.waitUntil(lambda: win.current_account() == ACCOUNT_ID)
    yield win, guardian
    stop = aio.create_task(guardian.stop())
    qtbot.waitUntil(stop.done)
    win.quitting = True


def test_a_losing_practice_trade_flattens_and_shows_the_red_lock(demo, qtbot):
    win, guardian = demo
    ticket = win.ticket
    assert win.demo_badge.isVisible()
    ticket.symbol.setCurrentText("MNQ")
    ticket.quantity.setValue(5)
    qtbot.mouseClick(ticket.buy, qtbot_button())
    qtbot.waitUntil(lambda: win.positions.rowCount() == 1)
    assert win.positions.row_texts()[0][:3] == ["MNQ", "Long", "5"]

    guardian.prices["MNQ"] -= 40.0  # 160 ticks × $0.50 × 5 = −$400 (the 300 open-loss stop fires too)
    guardian.step()
    qtbot.waitUntil(lambda: win.positions.rowCount() == 0)
    # The open-loss stop closed it at about −$400: past the warning, not yet the limit.
    assert win.summary.state.text().strip() == "WARNING"

    qtbot.mouseClick(ticket.sell, qtbot_button())
    qtbot.waitUntil(lambda: win.positions.rowCount() == 1)
    guardian.prices["MNQ"] += 35.0  # −$350 open: closed, and the day is past −$500
    guardian.step()
    qtbot.waitUntil(win.lock_banner.isVisible)
    assert win.positions.rowCount() == 0
    assert win.lock_banner.colour == RED
    assert win.lock_banner.headline.text() == "LOCKED UNTIL THE RESET"
    assert win.summary.state.text().strip() == "LOCKED"
    assert guardian.snapshot(ACCOUNT_ID).status == AccountStatus.LOCKED
    assert win.rules.row_of("daily_realized_loss")["state"] == "LOCKED"

    # A new order while locked is refused, and the ticket says so.
    qtbot.mouseClick(ticket.buy, qtbot_button())
    qtbot.waitUntil(lambda: "failed" in ticket.message.text())
    assert "locked" in ticket.message.text()


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
