"""The P&L chart is built after the window's first paint, and is told what it missed meanwhile."""

from __future__ import annotations

import pytest
from ui_stubs import StubGuardian

from deskguard.guardian.snapshot import NoticeLevel

pytestmark = pytest.mark.ui


def test_placeholder_paints_first_then_the_chart_takes_its_place(qtbot, aio, vm):
    from deskguard.ui.main_window import ChartPlaceholder, MainWindow

    stub = StubGuardian()
    win = MainWindow(vm)
    qtbot.addWidget(win)
    assert not win.chart_built and isinstance(win.chart_slot, ChartPlaceholder)
    vm.attach(stub)
    stub.emit(realized_day=-120.0)
    stub.notice(NoticeLevel.ENFORCEMENT, "flattened: daily loss limit", rule="daily_realized_loss")
    qtbot.waitUntil(lambda: win.current_account() == stub.accounts[0])
    assert not win.chart_built  # nothing shown yet: no chart
    with qtbot.waitSignal(win.chart_ready, timeout=5000):
        win.show()
    assert win.windowHandle().isExposed()  # the chart came after the first exposure (paint)
    chart = win.chart
    assert win.chart_slot is chart and win._left.widget(0) is chart
    assert ChartPlaceholder().sizeHint() == chart.sizeHint()  # the swap does not move the layout
    assert chart.line_values()["loss_limit"] == -500.0  # the settings it missed
    assert chart.snapshot is not None and chart.snapshot.realized_day == -120.0  # the day it missed
    assert len(chart.enforcements) == 1  # and the enforcement
    win.quitting = True
    win.close()


def test_reaching_the_chart_early_builds_it(qtbot, aio, vm):
    from deskguard.ui.main_window import MainWindow

    win = MainWindow(vm)
    qtbot.addWidget(win)
    chart = win.chart
    assert win.chart_built and win.chart is chart
