"""The P&L chart follows the session, not the whole day, and its limit labels never overlap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ui_stubs import make_snapshot

from deskguard.ui.widgets.pnl_chart import ACTIVITY_MAX_SPAN_S

pytestmark = pytest.mark.ui


def _trade_a_few_minutes(stub, qtbot, window):
    start = make_snapshot().at
    for i, pnl in enumerate((0.0, 0.0, -120.0, -260.0, -520.0)):
        stub.emit(at=start + timedelta(minutes=i), realized_day=pnl)
    qtbot.waitUntil(lambda: window.chart.snapshot is not None and window.chart.snapshot.realized_day == -520.0)
    return start, window.chart.snapshot


def test_the_x_range_follows_the_sessions_activity_and_whole_day_shows_the_day(window, stub, qtbot):
    start, snap = _trade_a_few_minutes(stub, qtbot, window)
    left, right = window.chart.x_range()
    first_move = (start + timedelta(minutes=1)).timestamp()  # the last flat point before the first loss
    last = (start + timedelta(minutes=4)).timestamp()
    assert first_move - 5 * 60 <= left < first_move  # a little room before the first event
    assert right > last  # and after the last
    assert right - left <= 30 * 60  # a few minutes of trading fill the chart, not a sliver of the day
    assert left > snap.day_start.timestamp() + 3600

    window.chart.whole_day_box.setChecked(True)
    left, right = window.chart.x_range()
    assert left == pytest.approx(snap.day_start.timestamp())
    assert right > last

    window.chart.whole_day_box.setChecked(False)
    assert window.chart.x_range()[0] > snap.day_start.timestamp() + 3600


def test_a_long_session_shows_at_most_the_last_hours(window, stub, qtbot):
    start = make_snapshot().at - timedelta(hours=2)
    stub.emit(at=start, realized_day=-50.0)  # an early trade, long before the latest
    latest = stub.emit(at=start + timedelta(hours=7), realized_day=-80.0)
    qtbot.waitUntil(lambda: window.chart.snapshot is not None and window.chart.snapshot.at == latest.at)
    left, right = window.chart.x_range()
    assert right - left <= ACTIVITY_MAX_SPAN_S + 15 * 60
    assert left >= latest.at.timestamp() - ACTIVITY_MAX_SPAN_S - 1


def test_limit_labels_never_overlap_when_the_lines_are_close(window, stub, qtbot):
    stub.settings = stub.settings.with_rule("daily_realized_loss", max_loss=500.0, warn_at=0.97)
    stub.emit(realized_day=-100.0)
    qtbot.waitUntil(lambda: window.chart.line_values()["loss_warning"] == pytest.approx(-485.0))
    qtbot.wait(50)
    rects = window.chart.label_rects()
    assert set(rects) == {"loss_limit", "loss_warning"}
    limit, warning = rects["loss_limit"], rects["loss_warning"]
    assert not limit.intersects(warning), (limit, warning)
    # Each label stays by its own line: the upper line's label above, the other just below it.
    view = window.chart.plot.getViewBox()
    warning_line = view.mapViewToScene(_point(0, -485.0)).y()
    limit_line = view.mapViewToScene(_point(0, -500.0)).y()
    assert limit_line - warning_line < warning.height()  # close enough that labels would collide
    assert abs(warning.bottom() - warning_line) <= 2
    assert limit.top() >= warning.bottom() and limit.top() - limit_line <= limit.height()


def test_far_apart_labels_sit_just_above_their_lines(window, stub, qtbot):
    stub.settings = stub.settings.with_rule("daily_realized_loss", max_loss=500.0, warn_at=0.5)
    stub.emit(realized_day=-100.0)
    qtbot.waitUntil(lambda: window.chart.line_values()["loss_warning"] == pytest.approx(-250.0))
    qtbot.wait(50)
    view = window.chart.plot.getViewBox()
    for key, value in (("loss_limit", -500.0), ("loss_warning", -250.0)):
        rect = window.chart.label_rects()[key]
        line_y = view.mapViewToScene(_point(0, value)).y()
        assert abs(rect.bottom() - line_y) <= 2, key


def _point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)
