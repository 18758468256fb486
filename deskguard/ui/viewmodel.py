"""The one adapter between the guardian's plain-Python callbacks and Qt signals.

Quotes can arrive at thousands per second and every one may produce a snapshot; the screen needs
ten a second at most. So snapshots and health are *coalesced*: the view-model keeps only the latest
of each and emits at most one signal per account per interval, always later on the event loop,
never from inside the guardian's callback (which must return at once). Notices and status
changes are rare and each one matters (tray notification, activity log, tray icon, lock banner),
so they pass through one by one.
"""

from __future__ import annotations

import time
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal

from ..engine.settings import EngineSettings
from ..engine.state import AccountStatus
from ..guardian import ConnectionHealth
from ..guardian.snapshot import AccountSnapshot, Notice, PnlPoint, StatusChanged
from .port import GuardianPort, PendingChange, audit_rows, pending_changes

#: Minimum time between two emissions for the same account (10 repaints per second at most).
DEFAULT_INTERVAL_MS = 100


class GuardianViewModel(QObject):
    """A :class:`~deskguard.guardian.snapshot.GuardianObserver` that speaks Qt.

    Signals carry immutable snapshots; widgets may keep them. ``snapshots_emitted`` counts
    emissions (the storm test bounds it)."""

    snapshotChanged = Signal(object)  # AccountSnapshot, coalesced
    noticeReceived = Signal(object)  # Notice, every one
    statusChanged = Signal(object)  # StatusChanged, every one (before the snapshot that shows it)
    healthChanged = Signal(object)  # ConnectionHealth (a copy), coalesced
    settingsChanged = Signal(object)  # EngineSettings, when the guardian's settings object changes
    accountsChanged = Signal(list)  # list[int]
    attached = Signal(object)  # the guardian, once it is connected to this view-model

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = DEFAULT_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.guardian: GuardianPort | None = None
        self.interval_ms = interval_ms
        self._pending: dict[int, AccountSnapshot] = {}
        self._latest: dict[int, AccountSnapshot] = {}
        self._statuses: dict[int, AccountStatus] = {}  # each account's status as last told (event or snapshot)
        self._health: ConnectionHealth | None = None
        self._health_dirty = False
        self._settings: EngineSettings | None = None
        self._accounts: list[int] = []
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)
        self.snapshots_emitted = 0

    # -- wiring -------------------------------------------------------------------------------

    def attach(self, guardian: GuardianPort) -> None:
        """Observe ``guardian`` (before it starts, so the first snapshots are not missed)."""
        if self.guardian is not None:
            self.detach()
        self.guardian = guardian
        guardian.add_observer(self)
        self._health = replace(guardian.health)
        self._health_dirty = True
        self._check_settings()
        self._check_accounts()
        self.attached.emit(guardian)
        self._schedule()

    def detach(self) -> None:
        if self.guardian is not None:
            try:
                self.guardian.remove_observer(self)
            except (KeyError, ValueError):
                pass
        self.guardian = None
        self._timer.stop()
        self._pending.clear()

    def forget(self) -> None:
        """Drop every account's data (after detaching, when another guard takes over)."""
        self._pending.clear()
        self._latest.clear()
        self._statuses.clear()
        self._accounts = []
        self._settings = None
        self.accountsChanged.emit([])

    # -- GuardianObserver ---------------------------------------------------------------------

    def on_snapshot(self, snapshot: AccountSnapshot) -> None:
        self._statuses[snapshot.account_id] = snapshot.status
        self._pending[snapshot.account_id] = snapshot
        self._schedule()

    def on_notice(self, notice: Notice) -> None:
        self.noticeReceived.emit(notice)

    def on_status_changed(self, event: StatusChanged) -> None:
        self._statuses[event.account_id] = event.new
        self.statusChanged.emit(event)

    def on_health(self, health: ConnectionHealth) -> None:
        self._health = replace(health)  # the broker mutates its own object in place
        self._health_dirty = True
        self._schedule()

    # -- what widgets read --------------------------------------------------------------------

    @property
    def health(self) -> ConnectionHealth | None:
        return self._health

    def live_health(self) -> ConnectionHealth | None:
        """The guardian's own health object, read now: its last-event times move with every event,
        which the guardian need not announce."""
        live = getattr(self.guardian, "health", None)
        return live if live is not None else self._health

    @property
    def settings(self) -> EngineSettings | None:
        return self._settings

    @property
    def accounts(self) -> list[int]:
        return list(self._accounts)

    def latest(self, account_id: int) -> AccountSnapshot | None:
        return self._latest.get(account_id)

    def all_latest(self) -> list[AccountSnapshot]:
        return list(self._latest.values())

    def status(self, account_id: int) -> AccountStatus | None:
        """The account's status as last told: its latest status event or snapshot, whichever came last."""
        snap = self._latest.get(account_id)
        return self._statuses.get(account_id, snap.status if snap is not None else None)

    def statuses(self) -> dict[int, AccountStatus]:
        """Every known account's status (see :meth:`status`)."""
        out = {a: s.status for a, s in self._latest.items()}
        out.update(self._statuses)
        return out

    def pnl_history(self, account_id: int) -> list[PnlPoint]:
        return self.guardian.pnl_history(account_id) if self.guardian is not None else []

    def pending_changes(self) -> list[PendingChange]:
        return pending_changes(self.guardian) if self.guardian is not None else []

    def audit_rows(self, account_id: int | None = None, limit: int = 500) -> list:
        return audit_rows(self.guardian, account_id, limit) if self.guardian is not None else []

    def refresh_settings(self) -> None:
        """Call after the settings were changed from the UI (also noticed on the next flush)."""
        self._check_settings()

    # -- coalescing ---------------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._timer.isActive():
            return
        wait = self.interval_ms - (time.monotonic() - self._last_flush) * 1000
        self._timer.start(max(0, int(wait)))

    def _flush(self) -> None:
        self._last_flush = time.monotonic()
        self._check_settings()
        self._check_accounts()
        pending, self._pending = self._pending, {}
        for account_id, snapshot in pending.items():
            if account_id not in self._latest and account_id not in self._accounts:
                self._accounts.append(account_id)
                self.accountsChanged.emit(list(self._accounts))
            self._latest[account_id] = snapshot
            self.snapshots_emitted += 1
            self.snapshotChanged.emit(snapshot)
        if self._health_dirty and self._health is not None:
            self._health_dirty = False
            self.healthChanged.emit(self._health)

    def _check_settings(self) -> None:
        settings = getattr(self.guardian, "settings", None)
        if settings is not None and settings is not self._settings:
            self._settings = settings
            self.settingsChanged.emit(settings)

    def _check_accounts(self) -> None:
        accounts = list(getattr(self.guardian, "accounts", None) or [])
        extra = [a for a in self._accounts if a not in accounts and a in self._latest]
        merged = accounts + extra
        if merged != self._accounts:
            self._accounts = merged
            self.accountsChanged.emit(list(merged))
            if self.guardian is not None:
                for account_id in accounts:
                    if account_id not in self._latest and account_id not in self._pending:
                        try:
                            self._pending[account_id] = self.guardian.snapshot(account_id)
                        except Exception:  # not known to the guardian yet: its first snapshot will come
                            continue
                if self._pending:
                    self._schedule()
