"""The SDK's realtime client, taught to follow several accounts on one user-hub connection.

``ProjectXRealtimeClient.subscribe_user_updates`` subscribes only the one ``account_id`` it was
built with, and every restore path in the SDK (its hub ``on_open`` restore, ``force_health_reconnect``,
``update_jwt_token``) calls that method. Overriding it here makes each of those paths re-subscribe
every guarded account; the gateway (and the simulator) keep per-connection subscription sets, so
``SubscribeOrders [id]`` for several ids on one connection works, and repeats are harmless.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import traceback
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import Any

from project_x_py.models import ProjectXConfig
from project_x_py.realtime import ProjectXRealtimeClient
from project_x_py.realtime.async_hub import AsyncHubConnection
from project_x_py.realtime.subscriptions import _live_market_subscriptions

log = logging.getLogger(__name__)


def _watch_hub_tasks() -> None:
    """Every connection task a hub starts gets its failure retrieved when it ends.

    ``AsyncHubConnection.start`` replaces a dead ``_run_task`` on its next start and drops the old
    one, and the SDK's health monitor may drop a whole connection: a task that died of a bad frame
    was then reported as "Task exception was never retrieved". The guard's watchdog sees the hub
    down by itself; here the ending is only noted (debug). Patched once, on the SDK's class."""
    start = AsyncHubConnection.start
    if getattr(start, "_deskguard_watched", False):
        return

    async def start_and_watch(self: AsyncHubConnection) -> None:
        await start(self)
        task = self._run_task
        if task is not None:
            task.add_done_callback(_note_hub_task_end)

    # mypy knows no attributes on a function: the marker sits on our own wrapper, so a second call
    # (or a re-import of this module) finds the class patched and leaves it alone.
    start_and_watch._deskguard_watched = True  # type: ignore[attr-defined]  # see above
    # mypy forbids assigning to a method; replacing this one is the point (the one SDK patch).
    AsyncHubConnection.start = start_and_watch  # type: ignore[method-assign]  # see above


def _note_hub_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("hub connection task %s ended: %s", task.get_name(), type(task.exception()).__name__)


_watch_hub_tasks()

_quiet_hook_installed = False


def _quiet_socket_loop_finalizer() -> None:
    """pysignalr's websocket loop is an async generator that, when a closed hub is garbage-collected,
    raises "async generator ignored GeneratorExit" in its ``except ConnectionClosed`` clause. Python
    prints that as "Exception ignored in …" with a traceback on every exit of the app, although
    nothing is lost (the hub is closed already). Exactly that case goes to the debug log; every
    other unraisable exception reaches the previous hook unchanged."""
    global _quiet_hook_installed
    if _quiet_hook_installed:
        return
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if is_closed_socket_loop(unraisable):
            log.debug("a closed hub's socket loop was finalized (pysignalr: %s)", unraisable.exc_value)
            return
        previous(unraisable)

    sys.unraisablehook = hook
    _quiet_hook_installed = True


def is_closed_socket_loop(unraisable: sys.UnraisableHookArgs) -> bool:
    exc, tb = unraisable.exc_value, unraisable.exc_traceback
    return (isinstance(exc, RuntimeError) and "async generator ignored GeneratorExit" in str(exc)
            and tb is not None and any("pysignalr" in frame.filename for frame in traceback.extract_tb(tb)))


_quiet_socket_loop_finalizer()

USER_TOPICS = ("SubscribeOrders", "SubscribePositions", "SubscribeTrades")
#: The SDK's names of the user hub's events (account, position, order and trade updates).
USER_EVENTS = ("account_update", "position_update", "order_update", "trade_execution")


class GuardRealtimeClient(ProjectXRealtimeClient):
    def __init__(self, jwt_token: str, account_ids: Iterable[int], config: ProjectXConfig) -> None:
        ids = [int(a) for a in account_ids]
        if not ids:
            raise ValueError("at least one account id is needed")
        super().__init__(jwt_token=jwt_token, account_id=str(ids[0]), config=config)
        self.guarded_account_ids: list[int] = ids
        # The SDK reconnects both hubs after 30 s without a market-hub message, which churns on a
        # quiet or closed market. The adapter's own watchdog decides instead.
        self.stale_feed_seconds = math.inf
        # Whether a coroutine callback is registered for a user event: asked on every user event,
        # answered again only after a callback is added or removed (inspect's answer per callback
        # cost ~0.05 ms an event, 10 events a breach).
        self._coroutine_callbacks: bool | None = None

    async def add_callback(self, event_type: str, callback: Any) -> None:
        await self._callbacks_change(super().add_callback(event_type, callback))

    async def remove_callback(self, event_type: str, callback: Any) -> None:
        await self._callbacks_change(super().remove_callback(event_type, callback))

    async def _callbacks_change(self, change: Awaitable[None]) -> None:
        """Make the change; whether a coroutine callback is registered is asked again after it."""
        self._coroutine_callbacks = None
        try:
            await change
        finally:
            self._coroutine_callbacks = None

    def _schedule_async_task(self, event_type: str, data: Any) -> None:
        """A user-hub event goes to its callbacks at once, in the order the hub sent it.

        The SDK hands every event to the event loop through ``run_coroutine_threadsafe``, built
        for a hub on another thread: a future, a task, a wake-up of the loop through its self-pipe
        and a turn at the back of the loop's queue, per event. pysignalr runs on the loop itself,
        and the guard's user callbacks are plain functions that return at once (they parse and
        queue, ``stream.HubStream.on_user_raw``): during a flatten the 15 updates of the closes
        arrived together with the closes' answers, and each update's hops went ahead of them.
        Quotes, and any user event while a coroutine callback is registered for one (whose order
        against the others the SDK's path would then decide), take the SDK's way."""
        if event_type in USER_EVENTS and self._deliver_now(event_type, data):
            return
        super()._schedule_async_task(event_type, data)

    def _deliver_now(self, event_type: str, args: Any) -> bool:
        callbacks: dict[str, list[Any]] = self.callbacks
        if self._coroutine_callbacks is None:
            self._coroutine_callbacks = any(asyncio.iscoroutinefunction(cb) for kind in USER_EVENTS
                                            for cb in callbacks.get(kind, ()))
        if self._coroutine_callbacks:
            return False
        try:
            if asyncio.get_running_loop() is not self._active_event_loop():
                return False
        except RuntimeError:  # no loop running on this thread
            return False
        handlers = callbacks.get(event_type)
        if not handlers:
            return True  # nobody listens (the SDK's path would find the same)
        self.stats["events_received"] += 1  # as the SDK's _trigger_callbacks counts
        self.stats["last_event_time"] = datetime.now()
        payload = args[0] if args else {}
        for callback in list(handlers):
            try:
                callback(payload)
            except Exception:
                log.exception("a %s callback failed", event_type)
        return True

    async def subscribe_market_data(self, contract_ids: list[str]) -> bool:
        """Quotes only. The SDK also subscribes every contract's trades and depth, which DeskGuard
        never uses and which triple the market hub's traffic (measured under a 2,000 quotes/s storm,
        the extra messages cost most of the CPU and made the SDK drop quotes). The SDK's reconnect
        path calls this method too, so restored subscriptions stay quotes-only."""
        connection: Any = self.market_connection
        if not self.market_connected or connection is None:
            return False
        try:
            await asyncio.wait_for(self.market_hub_ready.wait(), timeout=5.0)
        except TimeoutError:
            return False
        for contract_id in contract_ids:
            if contract_id not in self._subscribed_contracts:
                self._subscribed_contracts.append(contract_id)
        try:
            for contract_id in contract_ids:
                await connection.send("SubscribeContractQuotes", [contract_id])
                # The SDK's own client fails the SDK's protocol this helper takes: the protocol types the
                # hub connections `HubConnection | None`, the client holds `AsyncHubConnection`.
                _live_market_subscriptions(self).add(contract_id)  # type: ignore[arg-type]  # see above
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a socket that closed under us: the watchdog rebuilds it
            log.warning("market hub subscription failed: %s: %s", type(exc).__name__, exc)
            return False
        return True

    async def subscribe_user_updates(self) -> bool:
        """SubscribeAccounts, then Orders/Positions/Trades for every guarded account."""
        connection: Any = self.user_connection
        if not self.user_connected or connection is None:
            return False
        try:
            await asyncio.wait_for(self.user_hub_ready.wait(), timeout=5.0)
        except TimeoutError:
            return False
        try:
            await connection.send("SubscribeAccounts", [])
            for account_id in self.guarded_account_ids:
                for method in USER_TOPICS:
                    await connection.send(method, [account_id])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a socket that closed under us: the watchdog rebuilds it
            log.warning("user hub subscription failed: %s: %s", type(exc).__name__, exc)
            return False
        self._user_updates_subscribed = True
        return True
