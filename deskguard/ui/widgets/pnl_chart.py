"""The day's P&L against its limits (pyqtgraph).

Realized and total (realized + open) P&L over the trading day; horizontal lines at the daily loss
limit, its warning level, the profit target and the trailing-drawdown floor (as P&L relative to the
day's starting balance); the zone beyond the limit shaded; a marker wherever enforcement happened.
Lines follow the settings: a changed limit moves its line on the next settings signal.

The x-axis follows the session's activity (from a little before the first P&L change, at most the
last few hours) rather than the whole trading day, where a session would be a sliver at the right
edge; "Whole day" shows the day. Limit labels are nudged apart vertically when lines sit close
together, so they never overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from ...engine.settings import EngineSettings
from ...guardian.snapshot import AccountSnapshot, PnlPoint
from ..display import AMBER, LOSS_COLOR, PROFIT_COLOR, money

REALIZED_COLOR = "#1e88e5"
TOTAL_COLOR = "#8e24aa"
FLOOR_COLOR = "#6d4c41"
MIN_SPAN_S = 3600.0  # the whole-day view shows at least an hour, so the first minutes do not fill it
ACTIVITY_MIN_SPAN_S = 15 * 60.0  # the session view: at least a quarter of an hour
ACTIVITY_MAX_SPAN_S = 4 * 3600.0  # ... and at most the last four hours
ACTIVITY_PAD = 0.1  # a tenth of the span before the first event and after the last (at least a minute)
LABEL_GAP_PX = 2.0

_FLOOR_IN_TEXT = re.compile(r"floor\s+(-?[\d,]+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class LimitLevels:
    """Where the chart's horizontal lines sit, in day's P&L (None: the line is hidden)."""

    loss_limit: float | None = None
    loss_warning: float | None = None
    profit_target: float | None = None
    trailing_floor: float | None = None

    @property
    def zone_top(self) -> float | None:
        """The top of the shaded zone: the first of the loss limit and the floor to be reached."""
        tops = [v for v in (self.loss_limit, self.trailing_floor) if v is not None]
        return max(tops) if tops else None


def trailing_floor_balance(snap: AccountSnapshot | None) -> float | None:
    """The trailing-drawdown floor as a balance, from the rule's figure ("floor 48,000.00; …")."""
    if snap is None:
        return None
    explicit = getattr(snap, "trailing_floor", None)  # if the guardian ever publishes it directly
    if explicit is not None:
        return float(explicit)
    figure = snap.figures.get("trailing_drawdown")
    if figure is None:
        return None
    match = _FLOOR_IN_TEXT.search(figure.text)
    return float(match.group(1).replace(",", "")) if match else None


def limit_levels(settings: EngineSettings | None, snap: AccountSnapshot | None) -> LimitLevels:
    if settings is None:
        return LimitLevels()
    # The account's own rules (a firm profile may switch on 014 for it alone).
    rules = settings.for_account(snap.account_id, snap.name).rules if snap is not None else settings.rules
    loss = rules["daily_realized_loss"]
    profit = rules["daily_realized_profit"]
    trailing = rules["trailing_drawdown"]
    floor = None
    if trailing.enabled and snap is not None and snap.balance is not None:
        floor_balance = trailing_floor_balance(snap)
        if floor_balance is not None:
            start_balance = snap.balance - snap.realized_day  # the balance the trading day began with
            floor = floor_balance - start_balance  # the total-P&L curve crossing it is a breach
    return LimitLevels(
        loss_limit=-loss.max_loss if loss.enabled else None,
        loss_warning=-loss.warn_at * loss.max_loss if loss.enabled else None,
        profit_target=profit.target if profit.enabled else None,
        trailing_floor=floor,
    )


def _ts(at: datetime) -> float:
    return at.timestamp()


class PnlChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("left", "P&L today (USD)")
        item = self.plot.getPlotItem()
        self.legend = item.addLegend(offset=(10, 10))
        self.zone = pg.LinearRegionItem(values=(-1e6, 0), orientation="horizontal", movable=False,
                                        brush=pg.mkBrush(QColor(LOSS_COLOR).red(), QColor(LOSS_COLOR).green(),
                                                         QColor(LOSS_COLOR).blue(), 40),
                                        pen=pg.mkPen(None))
        self.zone.setZValue(-10)
        self.zone.setVisible(False)
        self.plot.addItem(self.zone, ignoreBounds=True)
        self.realized_curve = self.plot.plot([], [], pen=pg.mkPen(REALIZED_COLOR, width=2.5), name="Realized")
        self.total_curve = self.plot.plot([], [], pen=pg.mkPen(TOTAL_COLOR, width=1.5, style=Qt.PenStyle.DashLine),
                                          name="Total (with open)")
        self.markers = pg.ScatterPlotItem(symbol="t", size=14, brush=pg.mkBrush(LOSS_COLOR), pen=pg.mkPen(None),
                                          name="Enforcement")
        self.plot.addItem(self.markers)  # named: the legend lists it
        self.lines: dict[str, pg.InfiniteLine] = {}
        self.labels: dict[str, pg.TextItem] = {}
        for key, colour, style, title in (
            ("loss_limit", LOSS_COLOR, Qt.PenStyle.SolidLine, "Daily loss limit"),
            ("loss_warning", AMBER, Qt.PenStyle.DashLine, "Warning"),
            ("profit_target", PROFIT_COLOR, Qt.PenStyle.SolidLine, "Profit target"),
            ("trailing_floor", FLOOR_COLOR, Qt.PenStyle.DotLine, "Trailing floor"),
        ):
            line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(colour, width=2, style=style))
            line.title = title
            line.setVisible(False)
            self.plot.addItem(line, ignoreBounds=True)
            self.lines[key] = line
            # Labels are items of their own (not the line's): they are placed together, apart.
            label = pg.TextItem(title, color=colour, anchor=(0, 0))
            label.setVisible(False)
            self.plot.addItem(label, ignoreBounds=True)
            self.labels[key] = label
        zero = pg.InfiniteLine(pos=0, angle=0, movable=False, pen=pg.mkPen(color=(128, 128, 128, 110), width=1))
        self.plot.addItem(zero, ignoreBounds=True)
        self.whole_day_box = QCheckBox("Whole day")
        self.whole_day_box.setToolTip("Show the whole trading day instead of the session's activity")
        self.whole_day_box.toggled.connect(self.set_whole_day)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addStretch(1)
        top.addWidget(self.whole_day_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(top)
        lay.addWidget(self.plot)
        self.whole_day = False
        view = self.plot.getViewBox()
        view.sigRangeChanged.connect(self._place_labels)
        view.sigResized.connect(self._place_labels)

        self.settings: EngineSettings | None = None
        self.levels = LimitLevels()
        self.snapshot: AccountSnapshot | None = None
        self.history: list[PnlPoint] = []
        self.enforcements: list[datetime] = []
        self.render_count = 0
        self._apply_palette()

    # -- inputs -------------------------------------------------------------------------------

    def set_settings(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._render()

    def reset(self) -> None:
        """Another account was selected: forget this one's curve and markers."""
        self.snapshot, self.history, self.enforcements = None, [], []
        self._render()

    def show_day(self, snap: AccountSnapshot, history: list[PnlPoint]) -> None:
        self.snapshot, self.history = snap, history
        self._render()

    def add_enforcement(self, at: datetime) -> None:
        self.enforcements.append(at)
        self._render()

    def set_whole_day(self, whole_day: bool) -> None:
        """Show the whole trading day (True) or follow the session's activity (False)."""
        self.whole_day = whole_day
        if self.whole_day_box.isChecked() != whole_day:
            self.whole_day_box.setChecked(whole_day)
        self._render()

    # -- drawing ------------------------------------------------------------------------------

    def _points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        snap = self.snapshot
        day_start = snap.day_start if snap is not None else None
        pts = [p for p in self.history if day_start is None or p.at >= day_start]
        xs = [_ts(p.at) for p in pts]
        realized = [p.realized for p in pts]
        total = [p.total for p in pts]
        if snap is not None and (not xs or _ts(snap.at) > xs[-1]):
            xs.append(_ts(snap.at))  # the live point: the line reaches "now" between history samples
            realized.append(snap.realized_day)
            total.append(snap.total_pnl)
        return np.asarray(xs, dtype=float), np.asarray(realized, dtype=float), np.asarray(total, dtype=float)

    def _render(self) -> None:
        self.render_count += 1
        self.levels = levels = limit_levels(self.settings, self.snapshot)
        xs, realized, total = self._points()
        self.realized_curve.setData(xs, realized)
        self.total_curve.setData(xs, total)

        for key, line in self.lines.items():
            value = getattr(levels, key)
            line.setVisible(value is not None)
            self.labels[key].setVisible(value is not None)
            if value is not None:
                line.setValue(value)
                self.labels[key].setText(f"{line.title} {money(value)}")
        top = levels.zone_top
        self.zone.setVisible(top is not None)
        if top is not None:
            self.zone.setRegion((top - 1e7, top))

        if self.enforcements and len(xs):
            ex = np.asarray([_ts(t) for t in self.enforcements], dtype=float)
            self.markers.setData(ex, np.interp(ex, xs, total))
        else:
            self.markers.setData([], [])
        self._set_ranges(xs, realized, total, levels)
        self._place_labels()

    def _activity_start(self, xs: np.ndarray, realized: np.ndarray, total: np.ndarray) -> float | None:
        """When the session's activity began: the first P&L change, or the first enforcement."""
        moved = np.flatnonzero((np.abs(realized) > 1e-9) | (np.abs(total) > 1e-9))
        starts = []
        if len(moved):
            first = int(moved[0])
            starts.append(float(xs[first - 1] if first > 0 else xs[first]))
        starts += [_ts(t) for t in self.enforcements]
        return min(starts) if starts else None

    def _set_ranges(self, xs: np.ndarray, realized: np.ndarray, total: np.ndarray, levels: LimitLevels) -> None:
        snap = self.snapshot
        if not self.whole_day and snap is not None:
            latest = max(float(xs[-1]) if len(xs) else _ts(snap.at), _ts(snap.at))
            start = self._activity_start(xs, realized, total)
            first = latest if start is None else start
            span = max(latest - first, ACTIVITY_MIN_SPAN_S * (1 - 2 * ACTIVITY_PAD))
            pad = max(60.0, span * ACTIVITY_PAD)
            left = max(first - pad, latest - ACTIVITY_MAX_SPAN_S)
            if snap.day_start is not None:
                left = max(left, _ts(snap.day_start))
            right = max(latest + pad, left + ACTIVITY_MIN_SPAN_S)
            self.plot.setXRange(left, right, padding=0)
        elif snap is not None and snap.day_start is not None:
            left = _ts(snap.day_start)
            latest = max(xs[-1] if len(xs) else left, _ts(snap.at))
            right = max(left + MIN_SPAN_S, latest + (latest - left) * 0.05)
            if snap.next_reset is not None:
                right = min(right, _ts(snap.next_reset))
            self.plot.setXRange(left, right, padding=0)
        elif len(xs):
            self.plot.setXRange(xs[0], max(xs[-1], xs[0] + MIN_SPAN_S), padding=0)
        values = [0.0]
        if len(xs):
            values += [float(realized.min()), float(realized.max()), float(total.min()), float(total.max())]
        values += [v for v in (levels.loss_limit, levels.profit_target, levels.trailing_floor) if v is not None]
        lo, hi = min(values), max(values)
        pad = max(10.0, (hi - lo) * 0.08)
        self.plot.setYRange(lo - pad, hi + pad, padding=0)

    def _place_labels(self, *_: object) -> None:
        """Each visible limit label just above its line at the left edge; labels whose lines sit
        closer than a label's height are pushed down one under the other, never overlapping."""
        view = self.plot.getViewBox()
        (x_lo, x_hi), (y_lo, y_hi) = view.viewRange()
        height = view.height()
        if height <= 0 or y_hi <= y_lo:
            return
        px_per_unit = height / (y_hi - y_lo)
        shown = sorted(((self.lines[k].value(), k) for k, lb in self.labels.items() if lb.isVisible()), reverse=True)
        x = x_lo + (x_hi - x_lo) * 0.01
        bottom_px = None
        for value, key in shown:
            label = self.labels[key]
            h = label.boundingRect().height()
            top_px = (y_hi - float(value)) * px_per_unit - h  # just above the line
            if bottom_px is not None:
                top_px = max(top_px, bottom_px + LABEL_GAP_PX)
            bottom_px = top_px + h
            label.setPos(x, y_hi - top_px / px_per_unit)

    # -- theme --------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        pal = self.palette()
        self.plot.setBackground(pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.Text)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        self.legend.setLabelTextColor(text)

    # -- for tests and screen readers ---------------------------------------------------------

    def line_values(self) -> dict[str, float | None]:
        """Where each limit line is drawn (None when hidden), read back from the plot items."""
        return {key: (float(line.value()) if line.isVisible() else None) for key, line in self.lines.items()}

    def label_rects(self) -> dict[str, object]:
        """Where each visible limit label is drawn, in scene (pixel) coordinates."""
        return {key: label.sceneBoundingRect() for key, label in self.labels.items() if label.isVisible()}

    def x_range(self) -> tuple[float, float]:
        (left, right), _ = self.plot.getViewBox().viewRange()
        return float(left), float(right)

    def zone_region(self) -> tuple[float, float] | None:
        return tuple(self.zone.getRegion()) if self.zone.isVisible() else None
