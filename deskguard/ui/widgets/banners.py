"""Full-width banners: the lock with its live countdown, and alerts that must not be missed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...engine.decisions import Lock
from ..display import RED, lock_color, lock_headline, lock_time_left, rule_title


def utc_now() -> datetime:
    return datetime.now(UTC)


def _big(label: QLabel, scale: float, bold: bool = True) -> None:
    font = QFont(label.font())
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    label.setFont(font)


class _ColouredBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._colour = ""

    def _paint(self, background: str, foreground: str) -> None:
        if self._colour == background:
            return
        self._colour = background
        self.setStyleSheet(
            f"{type(self).__name__} {{ background: {background}; border-radius: 4px; }}"
            f" QLabel {{ color: {foreground}; background: transparent; }}"
        )

    @property
    def colour(self) -> str:
        return self._colour


class LockBanner(_ColouredBanner):
    """Reason, rule and a live ``hh:mm:ss`` countdown; amber for cooldowns, red otherwise.

    Hidden when there is no account-wide lock. Symbol locks are listed on a second line."""

    def __init__(self, parent: QWidget | None = None, *, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(parent)
        self.clock = clock
        self.lock: Lock | None = None
        self.symbol_locks: tuple[Lock, ...] = ()
        self.headline = QLabel()
        self.countdown = QLabel()
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.others = QLabel()
        self.others.setWordWrap(True)
        _big(self.headline, 1.5)
        _big(self.countdown, 2.2)
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.countdown.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        text = QVBoxLayout()
        text.addWidget(self.headline)
        text.addWidget(self.reason)
        text.addWidget(self.others)
        row = QHBoxLayout(self)
        row.setContentsMargins(14, 8, 14, 8)
        row.addLayout(text, 1)
        row.addWidget(self.countdown)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        self.setVisible(False)

    def show_locks(self, lock: Lock | None, symbol_locks: tuple[Lock, ...] = ()) -> None:
        symbol_locks = tuple(lk for lk in symbol_locks if lk.symbol is not None)
        if lock == self.lock and symbol_locks == self.symbol_locks:
            return
        self.lock, self.symbol_locks = lock, symbol_locks
        shown = lock or (symbol_locks[0] if symbol_locks else None)
        if shown is None:
            self._ticker.stop()
            self.setVisible(False)
            return
        self._paint(lock_color(shown), "#1b1b1b" if lock_color(shown) != RED else "#ffffff")
        scope = f" — {shown.symbol} only" if lock is None else ""
        self.headline.setText(f"{lock_headline(shown)}{scope}")
        self.reason.setText(f"{rule_title(shown.rule)}: {shown.reason}")
        rest = symbol_locks if lock is not None else symbol_locks[1:]
        self.others.setText("Also locked: " + ", ".join(f"{lk.symbol} ({rule_title(lk.rule)})" for lk in rest) if rest else "")
        self.others.setVisible(bool(rest))
        self._tick()
        self._ticker.start()
        self.setVisible(True)

    def shown_lock(self) -> Lock | None:
        return self.lock or (self.symbol_locks[0] if self.symbol_locks else None)

    def _tick(self) -> None:
        shown = self.shown_lock()
        if shown is not None:
            self.countdown.setText(lock_time_left(shown, self.clock()))
            self.countdown.setWordWrap(shown.until is None)


class AlertBanner(_ColouredBanner):
    """A full-width red strip for what must never be missed (not guarding, still not flat)."""

    def __init__(self, parent: QWidget | None = None, *, colour: str = RED) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        _big(self.title, 1.8)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 10)
        lay.addWidget(self.title)
        lay.addWidget(self.detail)
        self._paint(colour, "#ffffff")
        self.setVisible(False)

    def show_alert(self, title: str, detail: str = "") -> None:
        self.title.setText(title)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        self.setVisible(True)

    def clear(self) -> None:
        self.setVisible(False)
