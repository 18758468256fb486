"""The supervisor: keeps both hub connections alive and the guardian's picture of each account whole.

Where to look:

- The watchdog task: ``Supervisor._watchdog`` runs ``_tick`` every ``watchdog_interval`` and
  whenever a hub opens or closes. ``_assess`` judges each hub (the SDK's flags, its connection
  task, market silence); the result is published as ``ConnectionHealth`` (``_set_health``).
- Rebuild: a dead, refused or silent hub is replaced in ``_rebuild`` (a new realtime client for
  both hubs, with back-off); a hub refused for its token (HTTP 401) means a new login first. How
  a client is built, connected, hooked and disposed is ``hubs.py``.
- The re-sync after every (re)connect: each hub (re)open marks every account due
  (``_on_hub_open``), and so do a rebuild and ``request_resync``; ``_run_resyncs`` reads one
  Resync per due account while the stream holds that account's hub events, then the stream emits
  it and replays them (``HubStream.hold`` / ``release``). A failed read is retried with back-off.
- The session token is refreshed by ``Session.refresh_if_due``, called from each tick; the hubs
  follow the new token in ``_follow_token`` (``HubConnections.move_to_token``, else a rebuild).
- Reconcile: a user hub that stays connected but stops pushing is caught by ``_reconcile`` (REST
  compared with what the hub said, confirmed once, then a rebuild).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..engine.events import Resync
from .base import BrokerError, ConnectionHealth, HubState
from .contracts import ContractBook
from .hubs import MARKET, USER, HubConnections
from .reads import RestReads
from .sdk_logging import redact
from .session import Session
from .stream import HubStream

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    """The supervisor's settings, in seconds (``ProjectXBroker``'s arguments of the same names)."""

    hub_connect_timeout: float = 10.0
    watchdog_interval: float = 0.5
    reconnect_grace: float = 3.0
    reconcile_interval: float = 60.0
    reconcile_confirm: float = 1.5
    max_rebuild_backoff: float = 10.0


class Backoff:
    """When to try again after a failure: 0.5 s, then twice as long each time, up to ``maximum``."""

    FIRST = 0.5

    def __init__(self, maximum: float) -> None:
        self.maximum = maximum
        self.delay = self.FIRST
        self.next_at = 0.0  # time.monotonic()

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def failed(self, now: float) -> None:
        self.next_at = now + self.delay
        self.delay = min(self.delay * 2, self.maximum)

    def reset(self) -> None:
        self.delay = self.FIRST


class MarketSilence:
    """After ``seconds`` without a quote (while quotes are subscribed) the market hub counts as
    silent and is rebuilt. Each rebuild that does not bring a steady flow back (3 quotes of one
    contract since the hub opened) doubles the wait, up to 16x, so a closed market causes no churn.
    0 disables."""

    STEADY = 3
    MAX_FACTOR = 16.0

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.factor = 1.0
        self.tripped = False  # the last assessment found the market hub silent
        self._since_open: dict[str, int] = {}

    @property
    def limit(self) -> float:
        return self.seconds * self.factor

    def note(self, contract_id: str) -> None:
        """A well-formed quote arrived (the stream calls this; O(1))."""
        n = self._since_open.get(contract_id, 0) + 1
        self._since_open[contract_id] = n
        if n >= self.STEADY:
            self.factor = 1.0  # a steady flow again

    def hub_opened(self) -> None:
        self._since_open = {}

    def rebuilt(self) -> None:
        """A rebuild is under way: if silence caused it, wait longer next time."""
        if self.tripped:
            self.tripped = False
            self.factor = min(self.factor * 2, self.MAX_FACTOR)


class Supervisor:
    """The watchdog of one broker's hubs (``HubConnections``), and the re-reads it schedules.

    Args:
        session: the gateway session (the token the hubs use; re-login; token refresh).
        stream: where hub callbacks go and Resyncs are delivered; its ``account_ids`` are guarded.
        contracts: the quoted contracts (subscribed on the market hub).
        reads: the REST reads (Resyncs, reconcile).
        health: the broker's ``ConnectionHealth``, kept up to date and published on change.
        silence: the market-silence watch the stream feeds.
        timing: intervals, grace periods and bounds.
        sdk_log_level: level of the SDK's loggers (re-applied as its modules load).
    """

    def __init__(
        self,
        session: Session,
        stream: HubStream,
        contracts: ContractBook,
        reads: RestReads,
        health: ConnectionHealth,
        silence: MarketSilence,
        timing: Timing,
        sdk_log_level: int,
    ) -> None:
        self._session = session
        self._stream = stream
        self._contracts = contracts
        self._reads = reads
        self.health = health
        self.silence = silence
        self._timing = timing
        self._callbacks: dict[str, Callable[[Any], None]] = {}
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_health: tuple[Any, ...] | None = None
        self._hubs = HubConnections(session, contracts, connect_timeout=timing.hub_connect_timeout,
                                    sdk_log_level=sdk_log_level, on_open=self._on_hub_open, on_close=self._on_hub_close)
        self._rebuilds = Backoff(timing.max_rebuild_backoff)
        # Re-reads.
        self._resync_due: set[int] = set()
        self._resyncs = Backoff(timing.max_rebuild_backoff)
        self._next_reconcile_at = math.inf

    # ------------------------------------------------------------------ start / stop

    async def start(self, callbacks: Mapping[str, Callable[[Any], None]]) -> None:
        """Connect the hubs with these callbacks (event type -> callable), emit a first Resync per
        account (even with the hubs down: REST may still work) and start the watchdog."""
        self._callbacks = dict(callbacks)
        self._stopping = False
        self._notify_health(force=True)
        await self._build()
        self._resync_due = set(self._stream.account_ids)
        await self._run_resyncs()
        interval = self._timing.reconcile_interval
        self._next_reconcile_at = time.monotonic() + interval if interval > 0 else math.inf
        self._judge(time.monotonic())
        self._task = asyncio.create_task(self._watchdog(), name="deskguard-broker-watchdog")

    async def stop(self) -> None:
        """End the watchdog and disconnect the hubs. Safe to call twice."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._hubs.dispose()

    def report_stopped(self) -> None:
        h = self.health
        if h.user_hub != HubState.DISCONNECTED or h.market_hub != HubState.DISCONNECTED:
            h.user_hub = HubState.DISCONNECTED
            h.market_hub = HubState.DISCONNECTED
            h.detail = "stopped"
            self._notify_health()

    def request_resync(self, account_id: int) -> None:
        if account_id in self._stream.account_ids:
            self._resync_due.add(account_id)
            self._wake.set()

    async def subscribe_quotes(self, contract_id: str) -> None:
        """Subscribe a contract's quotes now if the market hub is up (else on its next open)."""
        if not await self._hubs.subscribe_quotes(contract_id):
            self._wake.set()

    # ------------------------------------------------------------------ the hubs

    async def _build(self) -> bool:
        """A new realtime client for both hubs (``HubConnections.build``)."""
        self.silence.hub_opened()
        return await self._hubs.build(self._stream.account_ids, self._callbacks)

    def _on_hub_open(self, hub: str) -> None:
        """A hub of the current client (re)opened: re-subscribe it and re-sync every account."""
        if self._stopping:
            return
        watch = self._hubs.watch[hub]
        if watch.opened:
            self.health.reconnects += 1  # the SDK (pysignalr) reconnected this hub by itself
        watch.opened = True
        watch.connected_at = time.monotonic()
        self.silence.hub_opened()
        watch.resubscribe = True
        self._resync_due.update(self._stream.account_ids)
        self._wake.set()

    def _on_hub_close(self, hub: str) -> None:
        if not self._stopping:
            self._wake.set()

    # ------------------------------------------------------------------ resync

    async def _run_resyncs(self) -> None:
        """Emit a Resync for every account due; events arriving meanwhile are held, then replayed
        on top of the snapshot. Failures stay due and are retried with back-off."""
        due = [a for a in self._stream.account_ids if a in self._resync_due]
        if not due:
            return
        self._resync_due.difference_update(due)
        self._stream.hold(due)
        results: list[Resync | BaseException] = []
        try:
            results = await self._reads.resyncs(due)
        finally:
            failed: list[int] = []
            for i, account_id in enumerate(due):
                result = results[i] if i < len(results) else None
                self._stream.release(account_id, result if isinstance(result, Resync) else None)
                if not isinstance(result, Resync):
                    failed.append(account_id)
                    if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                        log.warning("resync of account %s failed: %s", account_id, self._session.redact(str(result)))
            if failed:
                self._resync_due.update(failed)
                self._resyncs.failed(time.monotonic())
            else:
                self._resyncs.reset()

    # ------------------------------------------------------------------ watchdog

    async def _watchdog(self) -> None:
        interval = self._timing.watchdog_interval
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broker watchdog step failed")
                await asyncio.sleep(interval)

    async def _tick(self) -> None:
        now = time.monotonic()
        self.silence.tripped = False
        hubs = self._hubs
        hubs.hook()
        detail, dead = self._judge(now)
        if (hubs.rt is None or dead) and self._rebuilds.due(now):
            await self._rebuild(detail or "no realtime client")
            return
        if hubs.rt is None:
            return
        if any(watch.resubscribe for watch in hubs.watch.values()):
            await hubs.resubscribe_open_hubs()
        if self._resync_due and hubs.user_connected and not hubs.watch[USER].resubscribe and self._resyncs.due(now):
            await self._run_resyncs()
        await self._follow_token()
        if now >= self._next_reconcile_at and hubs.user_connected and not self._resync_due:
            await self._reconcile()

    def _judge(self, now: float) -> tuple[str, bool]:
        """Assess both hubs and publish the health: (detail, whether a hub must be rebuilt now)."""
        (user, user_why, user_dead), (market, market_why, market_dead) = self._assess(USER, now), self._assess(MARKET, now)
        detail = "; ".join(f"{h} hub: {w}" for h, w in ((USER, user_why), (MARKET, market_why)) if w)
        self._set_health(user, market, detail)
        return detail, user_dead or market_dead

    def _assess(self, hub: str, now: float) -> tuple[HubState, str, bool]:
        """(state, why, dead) for one hub. Dead means: rebuild it now."""
        failure = self._hubs.failure(hub)
        if failure is not None:
            return HubState.DISCONNECTED, failure, True
        watch = self._hubs.watch[hub]
        if not self._hubs.connected(hub):
            if watch.down_since is None:
                watch.down_since = now
            grace = self._timing.reconnect_grace
            if now - watch.down_since > grace:
                return HubState.DISCONNECTED, f"down for over {grace:g}s", True
            return HubState.DISCONNECTED, "reconnecting", False
        watch.down_since = None
        if hub == MARKET and self.silence.seconds > 0 and self._contracts.quoted:
            last = self.health.last_market_event or 0.0
            since_open = watch.connected_at or 0.0
            quiet_for = now - max(last, since_open)
            limit = self.silence.limit
            if since_open and quiet_for > limit:
                self.silence.tripped = True
                return HubState.CONNECTED, f"no quotes for over {limit:g}s", True
        return HubState.CONNECTED, "", False

    async def _rebuild(self, reason: str) -> None:
        """Replace the realtime client (both hubs) and mark every account for a Resync."""
        log.warning("rebuilding the hub connections: %s", reason)
        self.health.reconnects += 1
        self.silence.rebuilt()
        self._set_health(HubState.CONNECTING, HubState.CONNECTING, f"reconnecting ({reason})")
        await self._hubs.dispose()  # the old client's hooks go quiet at once
        if self._hubs.token_refused:
            self._hubs.token_refused = False
            await self._session.relogin_quietly()
        await self._session.refresh_if_due()
        try:
            connected = await self._build()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("hub rebuild failed: %s: %s", type(exc).__name__, redact(str(exc)))
            connected = False
        now = time.monotonic()
        self._resync_due.update(self._stream.account_ids)
        if connected:
            self._rebuilds.reset()
            self._rebuilds.next_at = now + self._timing.reconnect_grace
        else:
            self._rebuilds.failed(now)
            self._hubs.retrieve_task_errors()
        self._wake.set()

    # ------------------------------------------------------------------ token

    async def _follow_token(self) -> None:
        """Refresh the session token when it is due; move the hubs to the newest token (a full
        rebuild if they do not take it)."""
        await self._session.refresh_if_due()
        token = self._session.token
        if not token or not self._hubs.uses_other_token(token):
            return
        moved = await self._hubs.move_to_token(token)
        if moved is None:
            return  # the client was replaced meanwhile
        if not moved:
            await self._rebuild("the hubs did not take the new session token")
            return
        self._resync_due.update(self._stream.account_ids)
        self.health.reconnects += 1
        self._wake.set()

    # ------------------------------------------------------------------ reconcile

    async def _reconcile(self) -> None:
        """Compare REST with what the user hub told us; a lasting difference means a silent hub."""
        self._next_reconcile_at = time.monotonic() + self._timing.reconcile_interval
        mismatched = await self._mismatched_accounts(self._stream.account_ids)
        if not mismatched:
            return
        await asyncio.sleep(self._timing.reconcile_confirm)
        if self._resync_due or self._stream.holding:
            return  # something reconnected meanwhile: its Resync settles it
        mismatched = await self._mismatched_accounts(mismatched)
        if mismatched:
            log.warning("the user hub missed changes on account(s) %s: rebuilding it", mismatched)
            await self._rebuild(f"user hub missed changes on account(s) {mismatched}")

    async def _mismatched_accounts(self, account_ids: list[int]) -> list[int]:
        out: list[int] = []
        for account_id in account_ids:
            try:
                positions, orders = await self._reads.open_positions_and_orders(account_id)
            except BrokerError as exc:
                log.debug("reconcile read failed: %s", exc)
                continue
            rest_positions = {p.contract_id: (p.type, p.size) for p in positions}
            rest_orders = {o.id for o in orders if o.is_working}
            if (rest_positions, rest_orders) != self._stream.hub_view(account_id):
                out.append(account_id)
        return out

    # ------------------------------------------------------------------ health

    def _set_health(self, user: HubState, market: HubState, detail: str) -> None:
        self.health.user_hub = user
        self.health.market_hub = market
        self.health.detail = detail
        self._notify_health()

    def _notify_health(self, force: bool = False) -> None:
        h = self.health
        key = (h.user_hub, h.market_hub, h.detail, h.reconnects)
        if not force and key == self._last_health:
            return
        self._last_health = key
        self._stream.emit_health(dataclasses.replace(h))
