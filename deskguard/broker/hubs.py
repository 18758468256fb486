"""The hub connections of one broker: the SDK's realtime client (``realtime.GuardRealtimeClient``,
user and market hub) built, connected, hooked, subscribed, moved to a new token and disposed.

This is the mechanics; *when* to rebuild, re-subscribe or re-sync is the supervisor's decision
(``supervisor.py``). Every replacement of the SDK's connection objects bumps a generation, so the
open/close hooks of an old client go quiet at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .contracts import ContractBook
from .sdk_logging import quiet_sdk_logging, redact
from .session import Session

log = logging.getLogger(__name__)

USER = "user"
MARKET = "market"
HUBS = (USER, MARKET)


def _is_auth_refusal(exc: BaseException) -> bool:
    """A hub connection refused for its token: pysignalr's ``AuthorizationError`` (negotiate 401)
    or websockets' ``InvalidStatus`` 401 (a reconnect with the old URL and token)."""
    if "Authorization" in type(exc).__name__:
        return True
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) == 401


@dataclasses.dataclass(slots=True)
class HubWatch:
    """What is known of one hub of the current realtime client."""

    down_since: float | None = None  # time.monotonic() it was first seen down
    connected_at: float | None = None  # ... of its last open
    opened: bool = False  # it opened before: a later open is the SDK reconnecting it by itself
    resubscribe: bool = False  # its subscriptions are to be sent (again) once it is up

    def new_client(self) -> None:
        self.down_since = self.connected_at = None
        self.opened = False


class HubConnections:
    """Args:
    session: the gateway session (its token and SDK config).
    contracts: the quoted contracts, subscribed on the market hub.
    connect_timeout: bound on connecting both hubs (``hub_connect_timeout``).
    sdk_log_level: level of the SDK's loggers (re-applied as its modules load).
    on_open, on_close: called with the hub's name when a hub of the current client opens
        (each reconnect too) or closes; from the SDK's handlers, so they must not await.
    """

    def __init__(
        self,
        session: Session,
        contracts: ContractBook,
        *,
        connect_timeout: float,
        sdk_log_level: int,
        on_open: Callable[[str], None],
        on_close: Callable[[str], None],
    ) -> None:
        self._session = session
        self._contracts = contracts
        self._connect_timeout = connect_timeout
        self._sdk_log_level = sdk_log_level
        self._on_open = on_open
        self._on_close = on_close
        self.rt: Any = None  # the current GuardRealtimeClient
        self.watch = {USER: HubWatch(), MARKET: HubWatch()}
        #: A hub was refused for its token (HTTP 401): log in again before the next build.
        self.token_refused = False
        self._generation = 0
        self._hooked: weakref.WeakSet[Any] = weakref.WeakSet()

    @property
    def user_connected(self) -> bool:
        return self.rt is not None and bool(self.rt.user_connected)

    # ------------------------------------------------------------------ build and dispose

    async def build(self, account_ids: list[int], callbacks: Mapping[str, Callable[[Any], None]]) -> bool:
        """A fresh realtime client with these callbacks and our hooks, connected and subscribed;
        True if both hubs came up."""
        from .realtime import GuardRealtimeClient  # the SDK import costs ~0.5 s: only when used

        client = self._session.client()
        self._generation += 1
        generation = self._generation
        rt = GuardRealtimeClient(client.session_token, account_ids, self._session.config)
        quiet_sdk_logging(self._sdk_log_level)
        self.rt = rt
        for watch in self.watch.values():
            watch.new_client()
        for event_type, callback in callbacks.items():
            await rt.add_callback(event_type, callback)
        try:
            await rt.setup_connections()
        except Exception as exc:
            log.warning("hub set-up failed: %s", redact(str(exc)))
            return False
        self._hook(rt, generation)
        connected = await self._connect(rt)
        self._hook(rt, generation)
        # Subscriptions for whatever came up; a hub that comes up later is subscribed on open.
        for watch in self.watch.values():
            watch.resubscribe = True
        await self.resubscribe_open_hubs()
        config = self._session.config
        if connected:
            log.info("hubs connected (user %s, market %s)", config.user_hub_url, config.market_hub_url)
        else:
            log.warning("hubs not (all) connected: user %s, market %s", rt.user_connected, rt.market_connected)
        return connected

    async def _connect(self, rt: Any) -> bool:
        """``rt.connect()``, but given up as soon as a hub's connection task has ended (a refused
        negotiate kills it at once, while the SDK would still wait its fixed 10 s) or after
        ``connect_timeout``."""
        task = asyncio.create_task(rt.connect(), name="deskguard-broker-hub-connect")
        deadline = time.monotonic() + self._connect_timeout
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.05)
                if task.done():
                    break
                if self._a_task_ended(rt) or time.monotonic() > deadline:
                    task.cancel()
                    break
        finally:
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if task.cancelled() or task.exception() is not None:
            return False
        return bool(task.result())

    @staticmethod
    def _a_task_ended(rt: Any) -> bool:
        for conn in (rt.user_connection, rt.market_connection):
            run = getattr(conn, "_run_task", None)
            if run is not None and run.done():
                return True
        return False

    async def dispose(self) -> None:
        """Disconnect and clean up the current client (its hooks go quiet first), retrieving its
        dead tasks' exceptions. Safe when there is none."""
        rt, self.rt = self.rt, None
        if rt is None:
            return
        self._generation += 1
        self.retrieve_task_errors(rt)
        try:
            async with asyncio.timeout(5.0):
                await rt.cleanup()
        except (TimeoutError, Exception) as exc:
            log.debug("realtime clean-up: %s: %s", type(exc).__name__, exc)
        self.retrieve_task_errors(rt)

    def retrieve_task_errors(self, rt: Any = None) -> None:
        """Mark dead hub tasks' exceptions retrieved (no "Task exception was never retrieved");
        a hub refused with 401 sets ``token_refused``."""
        rt = self.rt if rt is None else rt
        for conn in (getattr(rt, "user_connection", None), getattr(rt, "market_connection", None)):
            task = getattr(conn, "_run_task", None)
            if task is not None and task.done() and not task.cancelled():
                exc = task.exception()
                if exc is not None and _is_auth_refusal(exc):
                    self.token_refused = True

    def failure(self, hub: str) -> str | None:
        """Why a hub of the current client cannot come back by itself (rebuild it), or None."""
        rt = self.rt
        if rt is None:
            return "no connection"
        conn = rt.user_connection if hub == USER else rt.market_connection
        task = getattr(conn, "_run_task", None)
        if conn is None or task is None:
            return "not started"
        if task.done():
            self.retrieve_task_errors(rt)
            return "connection task ended"
        return None

    def connected(self, hub: str) -> bool:
        rt = self.rt
        return rt is not None and bool(rt.user_connected if hub == USER else rt.market_connected)

    # ------------------------------------------------------------------ hooks

    def hook(self) -> None:
        """Hook the current client's connection objects (new ones appear after a token update)."""
        if self.rt is not None:
            self._hook(self.rt, self._generation)

    def _hook(self, rt: Any, generation: int) -> None:
        for hub in HUBS:
            conn = rt.user_connection if hub == USER else rt.market_connection
            if conn is None or conn in self._hooked:
                continue
            with contextlib.suppress(TypeError):
                self._hooked.add(conn)
            conn.on_open(lambda hub=hub, generation=generation: self._opened(hub, generation))
            conn.on_close(lambda hub=hub, generation=generation: self._closed(hub, generation))

    def _opened(self, hub: str, generation: int) -> None:
        if generation == self._generation:
            self._on_open(hub)

    def _closed(self, hub: str, generation: int) -> None:
        if generation == self._generation:
            self._on_close(hub)

    # ------------------------------------------------------------------ subscriptions and token

    async def resubscribe_open_hubs(self) -> None:
        """Send the subscriptions of each hub marked ``resubscribe`` that is up."""
        rt = self.rt
        if rt is None:
            return
        user, market = self.watch[USER], self.watch[MARKET]
        if user.resubscribe and rt.user_connected and await rt.subscribe_user_updates():
            user.resubscribe = False
        if market.resubscribe and rt.market_connected and (
                not self._contracts.quoted or await rt.subscribe_market_data(list(self._contracts.quoted))):
            market.resubscribe = False

    async def subscribe_quotes(self, contract_id: str) -> bool:
        """Subscribe a contract's quotes now if the market hub is up; False if that failed (the
        market hub is then marked for re-subscription)."""
        rt = self.rt
        if rt is not None and rt.market_connected:
            ok = await rt.subscribe_market_data([contract_id])
            if not ok:
                self.watch[MARKET].resubscribe = True
                return False
        return True

    def uses_other_token(self, token: str) -> bool:
        """The current client still uses another token than ``token``."""
        return self.rt is not None and self.rt.jwt_token != token

    async def move_to_token(self, token: str) -> bool | None:
        """``update_jwt_token`` (disconnect, reconnect with the new token, re-subscribe). True if
        the hubs took it, False if not (rebuild them), None if the client was replaced meanwhile."""
        rt = self.rt
        log.info("moving the hubs to a new session token")
        self._generation += 1  # the old connection objects' hooks go quiet
        generation = self._generation
        # SDK trap: disconnect() leaves user_hub_ready/market_hub_ready set, so the connect()
        # inside update_jwt_token stops waiting at once and reports failure (then "recovers" with
        # the old token). Clearing them first makes it wait for the real open.
        rt.user_hub_ready.clear()
        rt.market_hub_ready.clear()
        ok = False
        try:
            async with asyncio.timeout(self._connect_timeout + 15.0):
                ok = bool(await rt.update_jwt_token(token, timeout=self._connect_timeout + 5.0))
        except TimeoutError:
            ok = False
        except Exception as exc:
            log.warning("hub token update failed: %s", redact(str(exc)))
        if self.rt is not rt:
            return None
        if not ok or rt.jwt_token != token:
            return False
        self._hook(rt, generation)
        now = time.monotonic()
        for watch in self.watch.values():
            watch.connected_at = now
            watch.opened = True
            watch.resubscribe = True
        return True
