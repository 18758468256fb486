"""The P&L chart: limit lines at the configured values, moving when the settings change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ui_stubs import ACCOUNT, make_snapshot

from deskguard.engine.rules import Figure
from deskguard.engine.schema import Unit
from deskguard.guardian.snapshot import NoticeLevel
from deskguard.ui.widgets.pnl_chart import limit_levels, trailing_floor_balance

pytestmark = pytest.mark.ui


def curve_y(curve) -> list[float]:
    ys = curve.getData()[1]
    return [] if ys is None else list(ys)


def test_limit_lines_sit_at_the_configured_values(window, stub, qtbot):
    lines = window.chart.line_values()
    # Defaults: daily loss 500 warned at 80 %, profit target and trailing drawdown off.
    assert lines == {"loss_limit": -500.0, "loss_warning": -400.0, "profit_target": None, "trailing_floor": None}
    assert window.chart.zone_region()[1] == pytest.approx(-500.0)


def test_lines_move_when_the_settings_change(window, stub, qtbot):
    stub.settings = (stub.settings.with_rule("daily_realized_loss", max_loss=300.0, warn_at=0.5)
                     .with_rule("daily_realized_profit", enabled=True, target=750.0))
    stub.emit()  # the view-model notices the new settings object on its next flush
    qtbot.waitUntil(lambda: window.chart.line_values()["loss_limit"] == -300.0)
    assert window.chart.line_values() == {"loss_limit": -300.0, "loss_warning": -150.0, "profit_target": 750.0,
                                          "trailing_floor": None}
    assert window.chart.zone_region()[1] == pytest.approx(-300.0)
    # and the y-range keeps every line in view
    (_, _), (lo, hi) = window.chart.plot.viewRange()
    assert lo < -300.0 and hi > 750.0


def test_trailing_floor_is_drawn_as_pnl_from_the_days_start_balance(window, stub, qtbot):
    stub.settings = stub.settings.with_rule("trailing_drawdown", enabled=True, max_drawdown=2000.0, buffer=200.0)
    figure = Figure(300.0, 1800.0, Unit.USD, "floor 48,500.00; drawdown 300.00 of 1,800.00")
    stub.emit(balance=50_200.0, realized_day=-300.0, figures={"trailing_drawdown": figure})
    # The day began at 50,500; the floor at 48,500 is 2,000 below it.
    qtbot.waitUntil(lambda: window.chart.line_values()["trailing_floor"] == -2000.0)
    assert window.chart.zone_region()[1] == pytest.approx(-500.0)  # the loss limit is reached first


def test_curves_follow_the_day_and_enforcement_is_marked(window, stub, qtbot):
    start = make_snapshot().at
    for i, pnl in enumerate((0.0, -120.0, -260.0, -520.0)):
        stub.emit(at=start + timedelta(minutes=i), realized_day=pnl)
    stub.notice(NoticeLevel.ENFORCEMENT, "flattened: daily loss limit", rule="daily_realized_loss",
                at=start + timedelta(minutes=3))
    qtbot.waitUntil(lambda: len(curve_y(window.chart.realized_curve)) >= 4)
    ys = curve_y(window.chart.realized_curve)
    assert ys[-1] == -520.0
    xs, marker_ys = window.chart.markers.getData()
    assert len(xs) == 1 and marker_ys[0] == pytest.approx(-520.0)


def test_levels_without_settings_or_figures():
    assert limit_levels(None, None).zone_top is None
    assert trailing_floor_balance(make_snapshot(ACCOUNT)) is None
