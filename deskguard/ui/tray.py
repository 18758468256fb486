"""The tray icon: the state at a glance, P&L and time left in the tooltip, and notifications.

Without a system tray (some desktops, offscreen, bare Xvfb) the controller still computes the state,
icon and tooltip (the window icon follows the state), but the app runs window-only: closing the
window quits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from ..engine.distance import tightest
from ..engine.state import AccountStatus
from ..guardian import ConnectionHealth
from ..guardian.snapshot import AccountSnapshot, Notice, NoticeLevel
from .display import STATUS_LABEL, is_guarding, lock_summary, money, worst
from .icons import icon_file_name, status_icon
from .viewmodel import GuardianViewModel

NOTIFY_LEVELS = {
    NoticeLevel.WARNING: QSystemTrayIcon.MessageIcon.Warning,
    NoticeLevel.ENFORCEMENT: QSystemTrayIcon.MessageIcon.Critical,
    NoticeLevel.LOCK_ENDED: QSystemTrayIcon.MessageIcon.Information,
    NoticeLevel.ALERT: QSystemTrayIcon.MessageIcon.Critical,
}
_TITLES = {
    NoticeLevel.WARNING: "DeskGuard warning",
    NoticeLevel.ENFORCEMENT: "DeskGuard enforced a rule",
    NoticeLevel.LOCK_ENDED: "DeskGuard: lock ended",
    NoticeLevel.ALERT: "DeskGuard ALERT",
}
_URGENCY = (NoticeLevel.ALERT, NoticeLevel.ENFORCEMENT, NoticeLevel.WARNING, NoticeLevel.LOCK_ENDED)
NOTIFY_GAP_S = 2.0  # notifications closer than this are merged into one


def overall_status(snapshots: Iterable[AccountSnapshot], health: ConnectionHealth | None) -> AccountStatus:
    """The worst state over every guarded account; NOT GUARDING whenever the user hub is down."""
    return worst_status([s.status for s in snapshots], health)


def worst_status(statuses: Iterable[AccountStatus], health: ConnectionHealth | None) -> AccountStatus:
    """The worst of the accounts' statuses; NOT GUARDING whenever the user hub is down."""
    if not is_guarding(health):
        return AccountStatus.NOT_GUARDING
    return worst(list(statuses))


def tooltip_text(snapshots: Iterable[AccountSnapshot], health: ConnectionHealth | None, now: datetime,
                 status: AccountStatus | None = None) -> str:
    snapshots = list(snapshots)
    status = status or overall_status(snapshots, health)
    lines = [f"DeskGuard — {STATUS_LABEL[status]}"]
    if not is_guarding(health):
        lines.append("Not guarding: " + (health.detail if health and health.detail else "no connection to the gateway"))
    for snap in snapshots:
        name = snap.name or str(snap.account_id)
        lines.append(f"{name}: today {money(snap.total_pnl)} (realized {money(snap.realized_day)}, open {money(snap.open_pnl)})")
        nearest = tightest(snap.distances)
        if nearest is not None:
            lines.append(f"  nearest limit: {nearest.sentence}")
        if snap.lock is not None:
            lines.append("  " + lock_summary(snap.lock, now))
    return "\n".join(lines)


class TrayController(QObject):
    showWindowRequested = Signal()
    quitRequested = Signal()

    def __init__(self, vm: GuardianViewModel, window: QWidget | None = None, *, tray_available: bool | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(window)
        self.vm = vm
        self.window = window
        self.clock = clock
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if tray_available is None else tray_available
        self.status: AccountStatus | None = None
        self.icon_name = ""
        self.tooltip = ""
        self.messages: list[tuple[str, str]] = []  # every notification shown (title, text)
        self._queued: list[Notice] = []
        self._last_message = 0.0
        self._told_still_running = False
        self.notifications_enabled = True  # [notifications] enabled in config.toml
        self.sound = False  # [notifications] sound
        self.tray: QSystemTrayIcon | None = None
        if self.available:
            self.tray = QSystemTrayIcon(self)
            menu = QMenu(window)
            menu.addAction("Show window", self.showWindowRequested.emit)
            menu.addSeparator()
            menu.addAction("Quit DeskGuard", self.quitRequested.emit)
            self._menu = menu
            self.tray.setContextMenu(menu)
            self.tray.activated.connect(self._activated)
        self._merge_timer = QTimer(self)
        self._merge_timer.setSingleShot(True)
        self._merge_timer.timeout.connect(self._flush_notices)
        self._ticker = QTimer(self)  # the tooltip's countdown moves while a lock is on
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.refresh)
        vm.snapshotChanged.connect(self.refresh)
        vm.healthChanged.connect(self.refresh)
        vm.statusChanged.connect(self.refresh)  # the icon follows each status change at once
        vm.noticeReceived.connect(self.notify)
        self.refresh()
        if self.tray is not None:
            self.tray.show()

    def refresh(self, *_: object) -> None:
        snapshots = self.vm.all_latest()
        status = worst_status(self.vm.statuses().values(), self.vm.health)
        if status != self.status:
            self.status = status
            self.icon_name = icon_file_name(status)
            icon = status_icon(status)
            if self.tray is not None:
                self.tray.setIcon(icon)
            if self.window is not None:
                self.window.setWindowIcon(icon)
        self.tooltip = tooltip_text(snapshots, self.vm.health, self.clock(), status)
        if self.tray is not None and self.tray.toolTip() != self.tooltip:
            self.tray.setToolTip(self.tooltip)
        locked = any(s.lock is not None for s in snapshots)
        if locked and not self._ticker.isActive():
            self._ticker.start()
        elif not locked and self._ticker.isActive():
            self._ticker.stop()

    # -- notifications ------------------------------------------------------------------------

    def set_notifications(self, enabled: bool, sound: bool) -> None:
        self.notifications_enabled = enabled
        self.sound = sound

    def notify(self, notice: Notice) -> None:
        if notice.level not in NOTIFY_LEVELS or not self.notifications_enabled:
            return
        self._queued.append(notice)
        wait = NOTIFY_GAP_S - (time.monotonic() - self._last_message)
        if wait <= 0:
            self._flush_notices()
        elif not self._merge_timer.isActive():
            self._merge_timer.start(int(wait * 1000))

    def _flush_notices(self) -> None:
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        first = min(queued, key=lambda n: _URGENCY.index(n.level))  # the most urgent one leads
        text = first.text
        if len(queued) > 1:
            text += f"\n(+{len(queued) - 1} more in the activity log)"
        self.show_message(_TITLES[first.level], text, NOTIFY_LEVELS[first.level])
        if self.sound:
            QApplication.beep()

    def show_message(self, title: str, text: str, icon=QSystemTrayIcon.MessageIcon.Information) -> None:
        self._last_message = time.monotonic()
        self.messages.append((title, text))
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, text, icon, 8000)

    def tell_still_running(self) -> None:
        """Once per run: the window closed but DeskGuard keeps guarding from the tray."""
        if self._told_still_running:
            return
        self._told_still_running = True
        self.show_message("DeskGuard is still guarding",
                          "The window is closed, your rules are still enforced. Use the tray icon to open it or to quit.")

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.showWindowRequested.emit()
