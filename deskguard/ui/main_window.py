"""The dashboard: what a trader looks at all day, readable from across the desk.

The P&L chart (pyqtgraph with numpy, ~0.55 s of imports from source) is built after the window's
first paint: a placeholder of the chart's size paints first, the chart replaces it on the next turn
of the event loop once the window is exposed, and ``chart_ready`` fires. What the window is told
before then (settings, the day, enforcements) is kept and handed to the chart when it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..engine.settings import EngineSettings
from ..engine.state import AccountStatus
from ..guardian import ConnectionHealth
from ..guardian.snapshot import AccountSnapshot, Notice, NoticeLevel, PnlPoint, StatusChanged
from .display import STATUS_LABEL, is_guarding, lock_summary, rule_title
from .icons import app_icon
from .port import PracticeDesk, PracticeMarket
from .viewmodel import GuardianViewModel
from .widgets.activity_log import ActivityLog
from .widgets.banners import AlertBanner, LockBanner, utc_now
from .widgets.distance_panel import DistancePanel
from .widgets.health import HealthIndicator
from .widgets.practice_ticket import DemoBadge, PracticeTicket
from .widgets.rules_panel import RulesPanel
from .widgets.summary import AccountSummary
from .widgets.tables import OrdersTable, PositionsTable

if TYPE_CHECKING:
    from .widgets.pnl_chart import PnlChart

CHART_EXPOSE_WAIT_MS = 10  # the chart waits for the window's first exposure in steps of this ...
CHART_EXPOSE_WAITS = 50  # ... at most this many times (~0.5 s), then is built anyway


class ChartPlaceholder(QWidget):
    """Holds the chart's place (the chart's own size hints) until the chart is built."""

    def sizeHint(self) -> QSize:
        return QSize(600, 499)

    def minimumSizeHint(self) -> QSize:
        return QSize(88, 87)


class MainWindow(QMainWindow):
    quitConfirmed = Signal()  # the user really wants to quit (after the lock question, if any)
    closedToTray = Signal()
    # Menu and toolbar requests; the app opens the dialogs (it knows the running guard).
    signInRequested = Signal()
    signOutRequested = Signal()
    editRulesRequested = Signal()
    settingsRequested = Signal()
    replayRequested = Signal()  # Rules → Replay history… (the Rules lab)
    chart_ready = Signal()  # the P&L chart has replaced its placeholder (see ``chart``)

    def __init__(self, vm: GuardianViewModel, *, demo: bool = False, practice: PracticeDesk | None = None,
                 market: PracticeMarket | None = None, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__()
        self.vm = vm
        self.demo = demo
        self.clock = clock
        self.keep_running_in_tray = False  # set by the app when a system tray exists
        self.startup_error: str | None = None
        self.quitting = False
        self.quit_box: QMessageBox | None = None
        self._account: int | None = None
        self._enforcements: dict[int, list[datetime]] = {}
        self.setWindowTitle("DeskGuard" + (" — DEMO" if demo else ""))
        self.setWindowIcon(app_icon())
        self.resize(1320, 860)

        self.not_guarding_banner = AlertBanner()
        self.not_flat_banner = AlertBanner()
        self.lock_banner = LockBanner(clock=clock)
        self.summary = AccountSummary()
        self.distances = DistancePanel()  # distance to each firm limit, above the chart
        self.demo_badge = DemoBadge()
        self.demo_badge.setVisible(demo)
        self._chart: PnlChart | None = None
        self._chart_waits = 0
        self._chart_scheduled = False
        self._chart_settings: EngineSettings | None = None  # what the chart is shown once built
        self._chart_day: tuple[AccountSnapshot, list[PnlPoint]] | None = None
        self._chart_enforcements: list[datetime] = []
        self.chart_slot: QWidget = ChartPlaceholder()
        self.rules = RulesPanel()
        self.positions = PositionsTable()
        self.orders = OrdersTable()
        self.activity = ActivityLog()
        self.health_indicator = HealthIndicator(live=vm.live_health)
        self.ticket: PracticeTicket | None = (
            PracticeTicket(practice, self.current_account, market=market) if demo else None)

        header = QHBoxLayout()
        header.addWidget(self.summary, 1)
        header.addWidget(self.demo_badge, 0, Qt.AlignmentFlag.AlignTop)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.positions, "Positions")
        self.tabs.addTab(self.orders, "Working orders")
        self.tabs.addTab(self.activity, "Activity")

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.chart_slot)
        self._left = left
        left.addWidget(self.tabs)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)

        right = QWidget()
        right_lay = QVBoxLayout(right)
        right_lay.setContentsMargins(0, 0, 0, 0)
        rules_title = QLabel("Rules")
        font = rules_title.font()
        font.setBold(True)
        rules_title.setFont(font)
        right_lay.addWidget(rules_title)
        right_lay.addWidget(self.rules, 1)
        if self.ticket is not None:
            right_lay.addWidget(self.ticket)
        self._right_lay = right_lay

        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(right)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        body.setSizes([780, 540])

        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(10, 8, 10, 4)
        lay.addWidget(self.not_guarding_banner)
        lay.addWidget(self.not_flat_banner)
        lay.addWidget(self.lock_banner)
        lay.addLayout(header)
        lay.addWidget(self.distances)
        lay.addWidget(body, 1)
        self.setCentralWidget(central)
        self.statusBar().addPermanentWidget(self.health_indicator)
        self._build_menus()

        vm.snapshotChanged.connect(self.on_snapshot)
        vm.noticeReceived.connect(self.on_notice)
        vm.statusChanged.connect(self.on_status_changed)
        vm.healthChanged.connect(self.on_health)
        vm.settingsChanged.connect(self.on_settings)
        vm.accountsChanged.connect(self.summary.set_accounts)
        vm.attached.connect(self.on_attached)
        self.summary.accountSelected.connect(self.select_account)
        self.refresh_not_guarding()

    # -- the P&L chart, built after the first paint -------------------------------------------

    @property
    def chart_built(self) -> bool:
        return self._chart is not None

    @property
    def chart(self) -> PnlChart:
        """The P&L chart; reaching it before it is built builds it now (wait for ``chart_ready``
        to leave the first paint alone)."""
        return self._chart if self._chart is not None else self.build_chart()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._chart is None and not self._chart_scheduled:
            self._chart_scheduled = True
            QTimer.singleShot(0, self._build_chart_after_paint)

    def _build_chart_after_paint(self) -> None:
        if self._chart is not None:
            return
        handle = self.windowHandle()
        if (handle is None or not handle.isExposed()) and self._chart_waits < CHART_EXPOSE_WAITS:
            self._chart_waits += 1
            QTimer.singleShot(CHART_EXPOSE_WAIT_MS, self._build_chart_after_paint)
            return
        # Exposed means painted once; build on the next turn so that paint reaches the screen first.
        QTimer.singleShot(0, self.build_chart)

    def build_chart(self) -> PnlChart:
        """Import and build the chart, swap it for the placeholder, replay what it missed."""
        if self._chart is not None:
            return self._chart
        from .widgets.pnl_chart import PnlChart

        chart = PnlChart()
        if self._chart_settings is not None:
            chart.set_settings(self._chart_settings)
        chart.enforcements.extend(self._chart_enforcements)
        if self._chart_day is not None:
            chart.show_day(*self._chart_day)
        self._chart_settings, self._chart_day, self._chart_enforcements = None, None, []
        self._chart = chart
        placeholder = self._left.replaceWidget(self._left.indexOf(self.chart_slot), chart)
        if placeholder is not None:
            placeholder.deleteLater()
        self.chart_slot = chart
        self.chart_ready.emit()
        return chart

    def _chart_reset(self) -> None:
        if self._chart is not None:
            self._chart.reset()
        else:
            self._chart_day, self._chart_enforcements = None, []

    # -- menus: sign-in, rules, settings ----------------------------------------------------------

    def _build_menus(self) -> None:
        bar = self.menuBar()
        account = bar.addMenu("&Account")
        self.sign_in_action = QAction("Sign &in…", self)
        self.sign_in_action.triggered.connect(self.signInRequested)
        self.sign_out_action = QAction("Sign &out", self)
        self.sign_out_action.triggered.connect(self.signOutRequested)
        self.sign_out_action.setEnabled(False)
        quit_action = QAction("&Quit DeskGuard", self)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        quit_action.triggered.connect(self.request_quit)
        account.addAction(self.sign_in_action)
        account.addAction(self.sign_out_action)
        account.addSeparator()
        account.addAction(quit_action)
        rules = bar.addMenu("&Rules")
        self.edit_rules_action = QAction("&Edit rules…", self)
        self.edit_rules_action.triggered.connect(self.editRulesRequested)
        rules.addAction(self.edit_rules_action)
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.settingsRequested)
        rules.addAction(self.settings_action)
        self.replay_action = QAction("&Replay history…", self)
        self.replay_action.setToolTip("Rules lab: what would these rules have done to your past trades?")
        self.replay_action.triggered.connect(self.replayRequested)
        rules.addAction(self.replay_action)
        self.toolbar = self.addToolBar("Main")
        self.toolbar.setObjectName("main-toolbar")
        self.toolbar.setMovable(False)
        self.toolbar.addAction(self.edit_rules_action)
        self.toolbar.addAction(self.settings_action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.sign_in_action)
        self.signed_in_label = QLabel()
        self.signed_in_label.setContentsMargins(8, 0, 8, 0)
        self.toolbar.addWidget(self.signed_in_label)

    def set_signed_in(self, username: str | None) -> None:
        """Who the guard signs in as (None: nobody, or the demo)."""
        self.sign_out_action.setEnabled(bool(username))
        if self.demo:
            self.signed_in_label.setText("Demo: built-in simulator")
        else:
            self.signed_in_label.setText(f"Signed in as {username}" if username else "Not signed in")

    def set_demo(self, demo: bool, practice: PracticeDesk | None = None, market: PracticeMarket | None = None) -> None:
        """Switch between the demo (practice ticket, DEMO badge) and a real account."""
        self.demo = demo
        self.demo_badge.setVisible(demo)
        if demo and self.ticket is None:
            self.ticket = PracticeTicket(practice, self.current_account, market=market)
            self._right_lay.addWidget(self.ticket)
        if self.ticket is not None:
            self.ticket.setVisible(demo)
            if practice is not None:
                self.ticket.set_desk(practice, market)
        self.setWindowTitle("DeskGuard" + (" — DEMO" if demo else ""))

    def forget_accounts(self) -> None:
        """Another guard takes over (sign-in, demo): the next snapshot picks the account anew."""
        self._account = None
        self._enforcements.clear()
        self._chart_reset()

    # -- accounts -----------------------------------------------------------------------------

    def current_account(self) -> int | None:
        return self._account if self._account is not None else self.summary.current_account()

    def select_account(self, account_id: int) -> None:
        if account_id == self._account:
            return
        self._account = account_id
        self.summary.select(account_id)
        self._chart_reset()
        for at in self._enforcements.get(account_id, []):
            (self._chart.enforcements if self._chart is not None else self._chart_enforcements).append(at)
        snap = self.vm.latest(account_id)
        if snap is not None:
            self._show(snap)

    # -- view-model signals -------------------------------------------------------------------

    def on_attached(self, _guardian: object) -> None:
        self.activity.add_audit_rows(self.vm.audit_rows(None))
        self.refresh_not_guarding()

    def on_snapshot(self, snap: AccountSnapshot) -> None:
        self.summary.remember_name(snap)
        if self._account is None:
            self.select_account(snap.account_id)
            return
        if snap.account_id == self._account:
            self._show(snap)
        self.refresh_not_flat()

    def _show(self, snap: AccountSnapshot) -> None:
        self.summary.show_snapshot(snap)
        self.distances.show_snapshot(snap)
        self.lock_banner.show_locks(snap.lock, tuple(lk for lk in snap.locks if lk.symbol is not None))
        self.positions.show_positions(snap.positions)
        self.orders.show_orders(snap.orders)
        self.rules.show_snapshot(snap)
        if self._chart is not None:
            self._chart.show_day(snap, self.vm.pnl_history(snap.account_id))
        else:
            self._chart_day = (snap, self.vm.pnl_history(snap.account_id))
        if self.ticket is not None:
            self.ticket.show_snapshot(snap)
        self.setWindowTitle(f"DeskGuard — {STATUS_LABEL[snap.status]}" + (" — DEMO" if self.demo else ""))
        self.refresh_not_guarding()

    def on_notice(self, notice: Notice) -> None:
        self.activity.add_notice(notice)
        if notice.level == NoticeLevel.ENFORCEMENT and notice.account_id is not None:
            self._enforcements.setdefault(notice.account_id, []).append(notice.at)
            if notice.account_id == self._account:
                if self._chart is not None:
                    self._chart.add_enforcement(notice.at)
                else:
                    self._chart_enforcements.append(notice.at)
        self.statusBar().showMessage(f"{notice.at.astimezone():%H:%M:%S} {rule_title(notice.rule)} {notice.text}".strip(), 15000)

    def on_status_changed(self, event: StatusChanged) -> None:
        """The lock banner and the NOT GUARDING banner follow the status at once (the snapshot
        showing it comes a moment later)."""
        if event.account_id != self._account:
            return
        snap = self.vm.latest(event.account_id)
        symbol_locks = tuple(lk for lk in snap.locks if lk.symbol is not None) if snap is not None else ()
        if event.new == AccountStatus.LOCKED and event.lock is not None:
            self.lock_banner.show_locks(event.lock, symbol_locks)
        elif event.old == AccountStatus.LOCKED:
            self.lock_banner.show_locks(None, symbol_locks)
        self.refresh_not_guarding()

    def on_health(self, health: ConnectionHealth) -> None:
        self.health_indicator.show_health(health)
        self.refresh_not_guarding()

    def on_settings(self, settings: EngineSettings) -> None:
        if self._chart is not None:
            self._chart.set_settings(settings)
        else:
            self._chart_settings = settings
        self.rules.set_settings(settings, self.vm.pending_changes())

    # -- alerts -------------------------------------------------------------------------------

    def show_startup_error(self, text: str) -> None:
        """Bad credentials or no gateway: the window stays up and says so in red."""
        self.startup_error = text
        self.refresh_not_guarding()

    def refresh_not_guarding(self) -> None:
        health = self.vm.health
        snap = self.vm.latest(self._account) if self._account is not None else None
        if self.startup_error:
            self.not_guarding_banner.show_alert("NOT GUARDING", self.startup_error)
        elif self.vm.guardian is None:
            self.not_guarding_banner.show_alert("NOT GUARDING",
                                                "Starting: connecting to the gateway… Your rules are not enforced yet.")
        elif not is_guarding(health):
            state = health.user_hub.value if health else "unknown"
            detail = f"User hub {state}. " + (f"{health.detail}. " if health and health.detail else "")
            self.not_guarding_banner.show_alert("NOT GUARDING",
                                                detail + "Your rules are NOT enforced until the connection is back.")
        elif self._account is not None and self.vm.status(self._account) == AccountStatus.NOT_GUARDING:
            name = (snap.name if snap is not None else "") or self._account
            self.not_guarding_banner.show_alert("NOT GUARDING", f"Account {name} is not being guarded.")
        else:
            self.not_guarding_banner.clear()

    def refresh_not_flat(self) -> None:
        alerts = [f"{s.name or s.account_id}: {s.not_flat_alert}" for s in self.vm.all_latest() if s.not_flat_alert]
        if alerts:
            self.not_flat_banner.show_alert("STILL NOT FLAT — check the broker now", "\n".join(alerts))
        else:
            self.not_flat_banner.clear()

    # -- closing and quitting -----------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.quitting:
            event.accept()
            return
        event.ignore()
        if self.keep_running_in_tray:
            self.hide()
            self.closedToTray.emit()
        else:
            self.request_quit()

    def locked_accounts(self) -> list[AccountSnapshot]:
        return [s for s in self.vm.all_latest() if s.lock is not None]

    def request_quit(self) -> None:
        """Quit, asking first when a lock is on (and saying the lock stays)."""
        locked = self.locked_accounts()
        if not locked:
            self.confirm_quit()
            return
        if self.quit_box is not None and self.quit_box.isVisible():
            self.quit_box.raise_()
            return
        now = self.clock()
        lines = "\n".join(f"• {s.name or s.account_id}: {lock_summary(s.lock, now)}" for s in locked)
        box = QMessageBox(QMessageBox.Icon.Warning, "Quit DeskGuard?",
                          "A lock is on. Quitting does not lift it: the lock stays, and it is enforced again "
                          "as soon as DeskGuard starts. While DeskGuard is closed nothing is guarded.\n\n" + lines,
                          QMessageBox.StandardButton.Cancel, self)
        quit_button = box.addButton("Quit anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self.confirm_quit() if button is quit_button else None)
        box.finished.connect(box.deleteLater)
        box.destroyed.connect(lambda: setattr(self, "quit_box", None))
        self.quit_box = box
        box.open()  # never exec(): the guardian keeps running while the question is up

    def confirm_quit(self) -> None:
        self.quitting = True
        self.quitConfirmed.emit()
