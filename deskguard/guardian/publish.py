"""What the guardian tells its observers (the window's view-model, the headless log, the notifier):
notices, each account's status changes, snapshots and the day's P&L curve.

Everything here runs on the event loop and returns at once: observers are plain callbacks, and an
observer's bug is logged, never raised into the guard. When to publish (snapshots are coalesced and
yield to events waiting to be decided) is the event loop's business and stays in ``core.py``; what
a snapshot or a status shows is decided here.

``Publisher`` holds a reference to its guardian on purpose: a status or a snapshot is read from the
guardian's engine, enforcer and live connection health, and from the small sets the hot path
updates in place (accounts re-synced since the last reconnect, locks not yet stored, not-flat
alerts). Passing each separately would hide nothing and add work to the hot path.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..engine.instruments import symbol_of
from ..engine.rules.safety_net import safety_net_price
from ..engine.state import AccountStatus, compose_status
from . import texts
from .snapshot import AccountSnapshot, GuardianObserver, Notice, NoticeLevel, PnlPoint, PositionView, StatusChanged

if TYPE_CHECKING:
    from .core import Guardian

log = logging.getLogger("deskguard.guardian")

PNL_POINT_EVERY_S = 2.0  # a point at least this often while nothing realized changes
PNL_POINTS_KEPT = 50_000  # per account: a day of points at the busiest


class Publisher:
    def __init__(self, guardian: Guardian) -> None:
        self.guardian = guardian
        self.observers: list[GuardianObserver] = []
        self.status: dict[int, AccountStatus] = {}  # each guarded account's status as last announced
        self._pnl: dict[int, deque[PnlPoint]] = {}
        self._last_point: dict[int, float] = {}

    def guard(self, accounts: Iterable[int]) -> None:
        """These accounts are guarded from now on: NOT GUARDING until their first fresh read."""
        self.status = dict.fromkeys(accounts, AccountStatus.NOT_GUARDING)

    # ----- observers and notices ---------------------------------------------------------------

    def emit(self, method: str, arg: Any) -> None:
        for obs in list(self.observers):
            callback = getattr(obs, method, None)
            if callback is None:
                continue  # an optional callback (on_status_changed) this observer does without
            try:
                callback(arg)
            except Exception:  # an observer's bug must never stop the guard
                log.exception("observer %r failed in %s", obs, method)

    def notice(self, level: NoticeLevel, account_id: int | None, rule: str | None, text: str,
               event: str | None = None) -> None:
        """Tell the observers, and write it to the audit log."""
        g = self.guardian
        self.emit("on_notice", Notice(g.clock.now(), level, account_id, rule, text, event))
        g._db_submit(g.store.audit, account_id, rule, level.value, text)

    # ----- an account's status -----------------------------------------------------------------

    def compose_status(self, account_id: int) -> AccountStatus:
        """The account's status now: engine.state.compose_status, given what only the guardian knows."""
        g = self.guardian
        return compose_status(g.engine.state(account_id),
                              guarding=g.health.guarding and account_id in g._resynced,
                              enforcing=g.enforcer.in_flight(account_id),
                              stored=lambda lock: lock not in g._uncommitted)

    def check_status(self, account_id: int) -> None:
        """Called wherever what the status depends on may have changed: a change from the status
        last announced is one StatusChanged to the observers and one audit row."""
        g = self.guardian
        old = self.status.get(account_id)
        if old is None or not g.running:
            return  # not a guarded account (yet), or the guard is stopping
        new = self.compose_status(account_id)
        if new == old:
            return
        state = g.engine.state(account_id)
        connected = g.health.guarding
        self.status[account_id] = new
        lock = state.account_lock if new == AccountStatus.LOCKED else None
        storing = next((k for k in state.locks if k.symbol is None and k in g._uncommitted), None)
        warned = tuple(sorted({rule for rule, _ in state.warned}))
        why = texts.status_why(new, connected=connected, detail=g.health.detail, lock=lock, storing=storing,
                               warned=warned)
        rule = lock.rule if lock else storing.rule if storing and new == AccountStatus.ENFORCING else (
            warned[0] if warned and new == AccountStatus.WARNING else None)
        event = StatusChanged(account_id, old, new, why, g.clock.now(), rule, lock)
        log.info("account %s: %s → %s (%s)", account_id, old.value, new.value, why)
        self.emit("on_status_changed", event)
        info = state.account or g.account_info.get(account_id)
        name = info.name if info else str(account_id)
        g._db_submit(g.store.audit, account_id, rule, "status", texts.status_changed(name, old, new, why))

    # ----- snapshots and the P&L curve ---------------------------------------------------------

    def publish(self, account_id: int) -> None:
        """One snapshot of the account to the observers, and a point of its P&L curve."""
        snap = self.snapshot(account_id)
        self._add_pnl_point(snap)
        self.emit("on_snapshot", snap)

    def _add_pnl_point(self, snap: AccountSnapshot) -> None:
        points = self._pnl.setdefault(snap.account_id, deque(maxlen=PNL_POINTS_KEPT))
        if points and points[0].at < (snap.day_start or points[0].at):
            points.clear()  # a new trading day starts a new curve
        now = time.monotonic()
        changed = not points or points[-1].realized != snap.realized_day
        if changed or now - self._last_point.get(snap.account_id, 0.0) >= PNL_POINT_EVERY_S:
            self._last_point[snap.account_id] = now
            points.append(PnlPoint(snap.at, snap.realized_day, snap.total_pnl))

    def pnl_history(self, account_id: int) -> list[PnlPoint]:
        return list(self._pnl.get(account_id, ()))

    def snapshot(self, account_id: int) -> AccountSnapshot:
        g = self.guardian
        engine = g.engine
        state = engine.state(account_id)
        now = g.clock.now()
        pricing = engine.pricing
        views = []
        total, stale_any = 0.0, False
        for pos in state.positions.values():
            value, stale = pricing.unrealized(pos, now)
            price, _ = pricing.price(pos.contract_id, now)
            total += value
            stale_any = stale_any or stale
            views.append(PositionView(pos, symbol_of(pos.contract_id), price, value, stale, bool(state.protective_stops(pos)),
                                      safety_net_price(state, pos)))
        enforcing = g.enforcer.in_flight(account_id)
        self.check_status(account_id)  # a change is announced before the snapshot that shows it
        status = self.status.get(account_id) or self.compose_status(account_id)
        locks = tuple(lock for lock in state.locks if lock not in g._uncommitted)
        info = state.account or g.account_info.get(account_id)
        return AccountSnapshot(
            account_id=account_id,
            name=info.name if info else str(account_id),
            at=now,
            status=status,
            balance=state.balance,
            realized_day=state.realized_day,
            open_pnl=total,
            open_pnl_stale=stale_any,
            realized_week=state.realized_week,
            locks=locks,
            positions=tuple(views),
            orders=tuple(state.orders.values()),
            figures=engine.figures(account_id),
            warnings=tuple(f"{r}:{s}" for r, s in sorted(state.warned)),
            day_start=state.day_start,
            next_reset=state.next_reset,
            enforcing=enforcing,
            not_flat_alert=g._alerts.get(account_id),
            trailing_floor=self._trailing_floor(state),
            distances=tuple(engine.distances(account_id)),
        )

    def _trailing_floor(self, state: Any) -> float | None:
        rule = self.guardian.engine.rule("trailing_drawdown", state.account_id)
        if rule is None or state.high_water_mark is None:
            return None
        return rule.floor(state.high_water_mark)  # type: ignore[attr-defined]  # the trailing_drawdown rule has floor()
