"""``ProjectXBroker``: the ``Broker`` protocol over the unmodified project-x-py 4.4.1 SDK.

What it does, and which SDK trap each part answers (see ``docs/projectx.md``):

- It builds the SDK's ``ProjectX`` client itself with a ``ProjectXConfig`` (``TradingSuite.create``
  ignores the ``PROJECTX_*`` URL variables).
- Every request the client sends passes the broker's own ``RequestBudget`` (the gateway's 200 per
  60 s per user): enforcement first and with a reserve of its own, reads after. The SDK's
  client-side limiter is lifted (it would queue a close behind reads, inside our time-out) and so is
  its sleep-and-retry on HTTP 429 (60 s by default): a 429 comes back at once as ``RateLimited``
  and pauses the budget. Waiting for the budget never counts against a call's time-out.
- It logs in with ``Auth/loginKey`` through the client's ``_make_request`` and reads the accounts.
  Every error it raises is a ``BrokerError`` (or ``AuthenticationError``) whose text is redacted:
  the API key never appears in an exception or a log line from this module; the SDK's own log
  records are redacted and routed into normal logging (``sdk_logging``).
- It uses the SDK's realtime client directly (no suite, no managers: no duplicate events per
  instrument, no position-lock deadlock) with raw callbacks. Each callback copies and unwraps the
  payload, parses it tolerantly, drops repeats, and hands an engine event to the listener; it never
  awaits anything, so it can never deadlock the SDK.
- Several accounts share one user-hub connection (``GuardRealtimeClient``).
- A watchdog task of its own tracks each hub (the SDK's flags and its connection task), rebuilds a
  dead, refused or silent hub (a new realtime client), re-subscribes and emits a fresh ``Resync``
  per account after every (re)connect, refreshes the session token before it expires, and
  periodically reconciles positions and working orders against REST to catch a user hub that
  stays connected but stops pushing.
- Actions are single REST calls (no retries) through the SDK's client; each raises ``BrokerError``
  on HTTP errors, time-outs and ``OrderSubmissionUncertainError``, its subclass ``Refused`` on
  ``success: false`` and ``RateLimited`` on HTTP 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine.calendar import TradingCalendar
from ..engine.events import (
    Resync,
)
from ..engine.models import Account, ContractSpec, Order, OrderType, Position, Side, Trade
from . import parsing
from .base import (
    BrokerError,
    BrokerListener,
    ConnectionHealth,
    HubState,
)
from .budget import RequestBudget
from .contracts import ContractBook
from .sdk_logging import quiet_sdk_logging, redact, register_secret
from .session import Session, build_sdk_config
from .session import _retry_after as _retry_after  # re-exported: tests import it from here
from .stream import HubStream

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.topstepx.com/api"
DEFAULT_USER_HUB_URL = "https://rtc.topstepx.com/hubs/user"
DEFAULT_MARKET_HUB_URL = "https://rtc.topstepx.com/hubs/market"

ENV_API_URL = "PROJECTX_API_URL"
ENV_USER_HUB_URL = "PROJECTX_USER_HUB_URL"
ENV_MARKET_HUB_URL = "PROJECTX_MARKET_HUB_URL"

USER = "user"
MARKET = "market"

def resolve_gateway_urls(
    api_url: str | None = None,
    user_hub_url: str | None = None,
    market_hub_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[str, str, str]:
    """Explicit values (from config) win, then ``PROJECTX_*`` variables, then TopstepX."""
    env = os.environ if env is None else env

    def pick(explicit: str | None, var: str, default: str) -> str:
        for value in (explicit, env.get(var)):
            if value and value.strip():
                return value.strip().rstrip("/")
        return default

    return (
        pick(api_url, ENV_API_URL, DEFAULT_API_URL),
        pick(user_hub_url, ENV_USER_HUB_URL, DEFAULT_USER_HUB_URL),
        pick(market_hub_url, ENV_MARKET_HUB_URL, DEFAULT_MARKET_HUB_URL),
    )


def _is_auth_refusal(exc: BaseException) -> bool:
    """A hub connection refused for its token: pysignalr's ``AuthorizationError`` (negotiate 401)
    or websockets' ``InvalidStatus`` 401 (a reconnect with the old URL and token)."""
    if "Authorization" in type(exc).__name__:
        return True
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) == 401


def _default_day_start() -> datetime:
    return TradingCalendar().day_start(datetime.now(UTC))


def _default_week_start() -> datetime:
    return TradingCalendar().week_start(datetime.now(UTC))


def _week_start_from(day_start: Callable[[], datetime]) -> Callable[[], datetime]:
    """The Sunday reset before a trading day's start, in the day start's own time zone (a reset
    at 17:00 New York time gives Sunday 17:00 New York time)."""

    def week_start() -> datetime:
        start = day_start()
        back = (start.weekday() - 6) % 7  # Sunday is 6
        week = start - timedelta(days=back)  # wall-clock arithmetic: right across a DST change
        return week.astimezone(UTC).astimezone(week.tzinfo) if week.tzinfo is not None else week

    return week_start


class ProjectXBroker:
    """The ``Broker`` protocol over project-x-py.

    Args:
        username: the ProjectX user name.
        api_key: the ProjectX API key (never logged, never in an exception's text).
        api_url, user_hub_url, market_hub_url: the gateway; ``None`` falls back to the
            ``PROJECTX_API_URL`` / ``PROJECTX_USER_HUB_URL`` / ``PROJECTX_MARKET_HUB_URL``
            variables, then TopstepX. ``http://`` is accepted for 127.0.0.1/localhost only (the
            SDK's rule); give hub URLs as ``http(s)://…/hubs/user``.
        day_start: returns the start of the current trading day (aware). Default: 17:00
            America/Chicago, like ``TradingCalendar``.
        week_start: returns the start of the current trading week (aware): Resync reads trades
            from it. Default: the Sunday reset before ``day_start()`` (17:00 America/Chicago when
            ``day_start`` is not given either), like ``TradingCalendar.week_start``.
        requests_per_minute: the request budget (per 60 s) when ``request_budget`` is not given.
        request_budget: the broker's ``RequestBudget`` (default: ``requests_per_minute`` per
            60 s, ``History/*`` 50 per 30 s, 20 % kept for enforcement). Waiting for it does not
            count against ``request_timeout``.
        request_timeout: bound on every REST call the adapter makes, in seconds.
        hub_connect_timeout: bound on connecting both hubs.
        watchdog_interval: how often the watchdog looks at the hubs (it also wakes on hub events).
        reconnect_grace: how long a hub may stay disconnected while the SDK reconnects it itself
            before the watchdog rebuilds it.
        market_silence: seconds without a quote (while quotes are subscribed) after which the
            market hub counts as silent and is rebuilt; each rebuild that does not bring a steady
            flow back doubles the wait (up to 16x), so a closed market causes no churn. 0 disables.
        reconcile_interval: every so often (seconds; 0 disables) positions and working orders are
            read over REST and compared with what the user hub said; a difference that persists
            ``reconcile_confirm`` seconds means the hub stopped pushing: it is rebuilt and resynced.
        token_refresh_margin: refresh the session token this long before it expires (at most a
            quarter of the token's lifetime).
        max_rebuild_backoff: the longest wait between two failed hub rebuilds.
        sdk_log_level: level of the SDK's (and pysignalr's) loggers.
    """

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        api_url: str | None = None,
        user_hub_url: str | None = None,
        market_hub_url: str | None = None,
        day_start: Callable[[], datetime] | None = None,
        week_start: Callable[[], datetime] | None = None,
        requests_per_minute: int = 200,
        request_budget: RequestBudget | None = None,
        request_timeout: float = 10.0,
        hub_connect_timeout: float = 10.0,
        watchdog_interval: float = 0.5,
        reconnect_grace: float = 3.0,
        market_silence: float = 60.0,
        reconcile_interval: float = 60.0,
        reconcile_confirm: float = 1.5,
        token_refresh_margin: float = 1800.0,
        max_rebuild_backoff: float = 10.0,
        sdk_log_level: int = logging.WARNING,
    ) -> None:
        if not username or not isinstance(username, str):
            raise ValueError("a ProjectX user name is required")
        if not api_key or not isinstance(api_key, str):
            raise ValueError("a ProjectX API key is required")
        register_secret(api_key)
        self.api_url, self.user_hub_url, self.market_hub_url = resolve_gateway_urls(
            api_url, user_hub_url, market_hub_url
        )
        config = build_sdk_config(self.api_url, self.user_hub_url, self.market_hub_url, request_timeout)
        quiet_sdk_logging(sdk_log_level)  # the import above installed the SDK's stdout handlers
        self._day_start = day_start or _default_day_start
        self._week_start = week_start or (_week_start_from(day_start) if day_start else _default_week_start)
        #: One budget per broker, i.e. per user: the gateway counts per user.
        self.budget = request_budget or RequestBudget(limit=max(1, int(requests_per_minute)), window=60.0)
        self._session = Session(username, api_key, config, budget=self.budget, request_timeout=request_timeout,
                                token_refresh_margin=token_refresh_margin, sdk_log_level=sdk_log_level)
        self._hub_connect_timeout = float(hub_connect_timeout)
        self._watchdog_interval = float(watchdog_interval)
        self._reconnect_grace = float(reconnect_grace)
        self._market_silence = float(market_silence)
        self._reconcile_interval = float(reconcile_interval)
        self._reconcile_confirm = float(reconcile_confirm)
        self._max_rebuild_backoff = float(max_rebuild_backoff)
        self._sdk_log_level = sdk_log_level

        self.health = ConnectionHealth()
        self._accounts: dict[int, Account] = {}

        # Set by start().
        self._started = False
        self._stopping = False
        self._contracts = ContractBook()
        self._stream = HubStream(self.health, self._contracts, on_quote=self._note_quote)
        self._skipped = parsing.SkipLog(log)

        # Realtime client and watchdog state.
        self._rt: Any = None  # GuardRealtimeClient
        self._rt_generation = 0
        self._hooked: weakref.WeakSet[Any] = weakref.WeakSet()
        self._watchdog_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._down_since: dict[str, float | None] = {USER: None, MARKET: None}
        self._connected_at: dict[str, float | None] = {USER: None, MARKET: None}
        self._quotes_since_open: dict[str, int] = {}
        self._silence_factor = 1.0
        self._rebuild_backoff = 0.5
        self._next_rebuild_at = 0.0
        self._silence_triggered = False
        self._relogin_before_rebuild = False
        self._opened: set[str] = set()
        self._resubscribe: set[str] = set()
        self._resync_due: set[int] = set()
        self._next_resync_at = 0.0
        self._resync_backoff = 0.5
        self._next_reconcile_at = math.inf
        self._last_health: tuple[Any, ...] | None = None

    # ------------------------------------------------------------------ connect

    async def connect(self) -> list[Account]:
        """Authenticate and list the active accounts."""
        await self._session.open()
        await self._session.login()
        accounts = await self._search_accounts(only_active=True)
        self._accounts = {a.id: a for a in accounts}
        self._session.select_sdk_account(accounts)
        return accounts

    async def _search_accounts(self, only_active: bool) -> list[Account]:
        reply = await self._session.post(
            "/Account/search", {"onlyActiveAccounts": only_active}, what="Account/search", mutating=False
        )
        accounts: list[Account] = []
        raw = reply.get("accounts")
        for item in raw if isinstance(raw, list) else []:
            for payload in parsing.unwrap(item):
                try:
                    accounts.append(parsing.parse_account(payload))
                except parsing.PayloadError as exc:
                    self._skipped.warn("rest-account", "skipped an account in Account/search: %s", exc)
        return accounts

    # ------------------------------------------------------------------ REST plumbing

    # ------------------------------------------------------------------ start / stop

    async def start(self, account_ids: list[int], symbols: list[str], listener: BrokerListener) -> None:
        if self._started:
            raise BrokerError("already started")
        if not account_ids:
            raise BrokerError("no accounts to guard")
        if not self._session.is_open:
            await self.connect()
        quiet_sdk_logging(self._sdk_log_level)
        ids = list(dict.fromkeys(int(a) for a in account_ids))
        unknown = [a for a in ids if self._accounts and a not in self._accounts]
        if unknown:
            raise BrokerError(f"account(s) {unknown} are not among the active accounts {sorted(self._accounts)}")
        self._stream.guard(ids, listener)
        self._stopping = False
        self._started = True
        try:
            for symbol in dict.fromkeys(s.strip() for s in symbols if s and s.strip()):
                spec = await self._resolve(symbol)
                if spec is not None:
                    self._contracts.quote(spec.contract_id)
            self._notify_health(force=True)
            await self._build_realtime()
            # The first Resync goes out even when the hubs are down: REST may still work.
            self._resync_due = set(ids)
            await self._run_resyncs()
            self._next_reconcile_at = time.monotonic() + self._reconcile_interval if self._reconcile_interval > 0 else math.inf
            now = time.monotonic()
            (user, user_why, _), (market, market_why, _) = self._assess(USER, now), self._assess(MARKET, now)
            self._set_health(user, market, "; ".join(f"{h} hub: {w}" for h, w in ((USER, user_why), (MARKET, market_why)) if w))
            self._watchdog_task = asyncio.create_task(self._watchdog(), name="deskguard-broker-watchdog")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Disconnect the hubs, end the watchdog, close the HTTP client. Safe to call twice."""
        self._stopping = True
        self._stream.stop()
        task, self._watchdog_task = self._watchdog_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        rt, self._rt = self._rt, None
        if rt is not None:
            await self._dispose_realtime(rt)
        await self._session.close()
        self._started = False
        if self.health.user_hub != HubState.DISCONNECTED or self.health.market_hub != HubState.DISCONNECTED:
            self.health.user_hub = HubState.DISCONNECTED
            self.health.market_hub = HubState.DISCONNECTED
            self.health.detail = "stopped"
            self._notify_health()

    # ------------------------------------------------------------------ contracts

    async def _resolve(self, symbol: str) -> ContractSpec | None:
        """A symbol ("MNQ") or contract id to its front-month contract, through the SDK's
        ``get_instrument`` (which picks the front month and caches). Unknown symbols are skipped."""
        instrument = await self._session.instrument(symbol)
        if instrument is None:
            return None
        return self._contracts.add(symbol, instrument)

    async def contract_specs(self, contract_ids: list[str]) -> list[ContractSpec]:
        """Tick metadata, from the start-up cache or (once) from ``Contract/searchById``."""
        out: list[ContractSpec] = []
        for contract_id in contract_ids:
            spec = self._contracts.specs.get(contract_id)
            if spec is None:
                spec = await self._resolve(contract_id)
            if spec is not None:
                out.append(spec)
        return out

    async def watch_contract(self, contract_id: str) -> None:
        if contract_id in self._contracts.quoted:
            return
        if contract_id not in self._contracts.specs:
            with contextlib.suppress(BrokerError):
                await self._resolve(contract_id)
        self._contracts.quote(contract_id)
        rt = self._rt
        if rt is not None and rt.market_connected:
            ok = await rt.subscribe_market_data([contract_id])
            if not ok:
                self._resubscribe.add(MARKET)
                self._wake.set()

    # ------------------------------------------------------------------ reading

    async def open_positions(self, account_id: int) -> list[Position]:
        positions = await self._search_open(account_id, "Position", "positions", parsing.parse_position)
        return [p for p in positions if p.size > 0]

    async def open_orders(self, account_id: int) -> list[Order]:
        return await self._search_open(account_id, "Order", "orders", parsing.parse_order)

    async def _search_open(self, account_id: int, area: str, key: str, parse: Any) -> list[Any]:
        """``<area>/searchOpen`` for one account, parsed tolerantly: a malformed item is skipped."""
        endpoint = f"{area}/searchOpen"
        reply = await self._session.post(f"/{endpoint}", {"accountId": account_id},
                                 what=f"{endpoint} account {account_id}", mutating=False)
        out: list[Any] = []
        for payload in self._items(reply, key):
            try:
                item = parse(payload)
            except parsing.PayloadError as exc:
                self._skipped.warn(f"rest-{area.lower()}", "skipped an item in %s: %s", endpoint, exc)
                continue
            if item.account_id == account_id:
                out.append(item)
        return out

    async def _trades_since(self, account_id: int, start: datetime) -> list[Trade]:
        end = datetime.now(UTC) + timedelta(minutes=10)
        reply = await self._session.post(
            "/Trade/search",
            {"accountId": account_id, "startTimestamp": start.isoformat(), "endTimestamp": end.isoformat()},
            what=f"Trade/search account {account_id}",
            mutating=False,
        )
        out: list[Trade] = []
        for payload in self._items(reply, "trades"):
            try:
                trade = parsing.parse_trade(payload)
            except parsing.PayloadError as exc:
                self._skipped.warn("rest-trade", "skipped a trade in Trade/search: %s", exc)
                continue
            if trade.account_id == account_id:
                out.append(trade)
        out.sort(key=lambda t: (t.time, t.id))
        return out

    async def _account(self, account_id: int, active: list[Account] | None = None) -> Account:
        """The account from ``Account/search`` (``active``: an answer already read)."""
        for only_active in (True, False):
            if only_active and active is not None:
                accounts = active
            else:
                accounts = await self._search_accounts(only_active)
            for account in accounts:
                if account.id == account_id:
                    self._accounts[account_id] = account
                    return account
        raise BrokerError(f"Account/search: account {account_id} not found")

    @staticmethod
    def _items(reply: dict[str, Any], key: str) -> list[dict[str, Any]]:
        raw = reply.get(key)
        out: list[dict[str, Any]] = []
        for item in raw if isinstance(raw, list) else []:
            out.extend(parsing.unwrap(item))
        return out

    def request_resync(self, account_id: int) -> None:
        """Have the account read again and its Resync delivered through the listener. Hub events
        that arrive during the read are held and replayed after it, so a read that started before
        an update never overrides it (a Resync returned to a caller and queued later would)."""
        if account_id in self._stream.account_ids:
            self._resync_due.add(account_id)
            self._wake.set()

    async def resync(self, account_id: int) -> Resync:
        """Read the account, its open positions, working orders and the trading week's trades
        (from the Sunday reset, so weekly figures include days the app did not run).

        This only reads; the Resync events the adapter emits itself (after connect and every
        reconnect) also become its de-duplication baseline."""
        return await self._read_resync(account_id, None)

    async def _read_resync(self, account_id: int, active: list[Account] | None) -> Resync:
        start = self._week_start()
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        account, positions, orders, trades = await asyncio.gather(
            self._account(account_id, active),
            self.open_positions(account_id),
            self.open_orders(account_id),
            self._trades_since(account_id, start),
        )
        return Resync(account=account, positions=tuple(positions), orders=tuple(orders), trades=tuple(trades),
                      trades_since=start)

    # ------------------------------------------------------------------ actions

    async def close_position(self, account_id: int, contract_id: str) -> None:
        await self._session.post(
            "/Position/closeContract",
            {"accountId": account_id, "contractId": contract_id},
            what=f"Position/closeContract account {account_id} contract {contract_id}",
            mutating=True,
        )

    async def partial_close(self, account_id: int, contract_id: str, size: int) -> None:
        if int(size) <= 0:
            raise BrokerError(f"Position/partialCloseContract account {account_id} contract {contract_id}: "
                              f"size {size} is not positive")
        await self._session.post(
            "/Position/partialCloseContract",
            {"accountId": account_id, "contractId": contract_id, "size": int(size)},
            what=f"Position/partialCloseContract account {account_id} contract {contract_id} size {size}",
            mutating=True,
        )

    async def cancel_order(self, account_id: int, order_id: int) -> None:
        await self._session.post(
            "/Order/cancel",
            {"accountId": account_id, "orderId": int(order_id)},
            what=f"Order/cancel account {account_id} order {order_id}",
            mutating=True,
        )

    async def place_stop(self, account_id: int, contract_id: str, side: int, size: int, stop_price: float) -> int:
        what = f"Order/place stop account {account_id} contract {contract_id} side {int(side)} size {size} stop {stop_price}"
        if int(size) <= 0:
            raise BrokerError(f"{what}: size is not positive")
        if int(side) not in (Side.BUY, Side.SELL):
            raise BrokerError(f"{what}: side must be 0 (buy) or 1 (sell)")
        reply = await self._session.post(
            "/Order/place",
            {
                "accountId": account_id,
                "contractId": contract_id,
                "type": int(OrderType.STOP),
                "side": int(side),
                "size": int(size),
                "stopPrice": self._contracts.on_tick(contract_id, stop_price),
            },
            what=what,
            mutating=True,
        )
        order_id = parsing.opt_int(reply, "orderId")
        if order_id is None:
            raise BrokerError(f"{what}: the reply carries no orderId")
        return order_id

    async def modify_stop(self, account_id: int, order_id: int, stop_price: float) -> None:
        await self._session.post(
            "/Order/modify",
            {"accountId": account_id, "orderId": int(order_id), "stopPrice": self._contracts.on_tick(None, stop_price)},
            what=f"Order/modify account {account_id} order {order_id} stop {stop_price}",
            mutating=True,
        )

    # ------------------------------------------------------------------ realtime client

    async def _build_realtime(self) -> bool:
        """A fresh realtime client with our callbacks and hooks, connected and subscribed."""
        from .realtime import GuardRealtimeClient

        client = self._session.client()
        self._rt_generation += 1
        generation = self._rt_generation
        rt = GuardRealtimeClient(client.session_token, self._stream.account_ids, self._session.config)
        quiet_sdk_logging(self._sdk_log_level)
        self._rt = rt
        self._down_since = {USER: None, MARKET: None}
        self._connected_at = {USER: None, MARKET: None}
        self._quotes_since_open = {}
        self._opened = set()
        for event_type, callback in self._hub_callbacks().items():
            await rt.add_callback(event_type, callback)
        try:
            await rt.setup_connections()
        except Exception as exc:
            log.warning("hub set-up failed: %s", redact(str(exc)))
            return False
        self._hook(rt, generation)
        connected = await self._connect_hubs(rt)
        self._hook(rt, generation)
        # Subscriptions for whatever came up; a hub that comes up later is subscribed on open.
        self._resubscribe = {USER, MARKET}
        await self._resubscribe_open_hubs(rt)
        if connected:
            log.info("hubs connected (user %s, market %s)", self.user_hub_url, self.market_hub_url)
        else:
            log.warning("hubs not (all) connected: user %s, market %s", rt.user_connected, rt.market_connected)
        return connected

    async def _connect_hubs(self, rt: Any) -> bool:
        """``rt.connect()``, but given up as soon as a hub's connection task has ended (a refused
        negotiate kills it at once, while the SDK would still wait its fixed 10 s) or after
        ``hub_connect_timeout``."""
        task = asyncio.create_task(rt.connect(), name="deskguard-broker-hub-connect")
        deadline = time.monotonic() + self._hub_connect_timeout
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.05)
                if task.done():
                    break
                if self._hub_task_ended(rt) or time.monotonic() > deadline:
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
    def _hub_task_ended(rt: Any) -> bool:
        for conn in (rt.user_connection, rt.market_connection):
            run = getattr(conn, "_run_task", None)
            if run is not None and run.done():
                return True
        return False

    def _hook(self, rt: Any, generation: int) -> None:
        """Our own open/close handlers on the SDK's hub connections (new objects after a token
        update): each (re)open means re-subscribe and Resync; each close wakes the watchdog."""
        for hub in (USER, MARKET):
            conn = rt.user_connection if hub == USER else rt.market_connection
            if conn is None or conn in self._hooked:
                continue
            with contextlib.suppress(TypeError):
                self._hooked.add(conn)
            conn.on_open(lambda hub=hub, generation=generation: self._on_hub_open(hub, generation))
            conn.on_close(lambda hub=hub, generation=generation: self._on_hub_close(hub, generation))

    def _on_hub_open(self, hub: str, generation: int) -> None:
        if generation != self._rt_generation or self._stopping:
            return
        if hub in self._opened:
            self.health.reconnects += 1  # the SDK (pysignalr) reconnected this hub by itself
        self._opened.add(hub)
        self._connected_at[hub] = time.monotonic()
        self._quotes_since_open = {}
        self._resubscribe.add(hub)
        self._resync_due.update(self._stream.account_ids)
        self._wake.set()

    def _on_hub_close(self, hub: str, generation: int) -> None:
        if generation != self._rt_generation or self._stopping:
            return
        self._wake.set()

    async def _resubscribe_open_hubs(self, rt: Any) -> None:
        if USER in self._resubscribe and rt.user_connected and await rt.subscribe_user_updates():
            self._resubscribe.discard(USER)
        if MARKET in self._resubscribe and rt.market_connected and (
                not self._contracts.quoted or await rt.subscribe_market_data(list(self._contracts.quoted))):
            self._resubscribe.discard(MARKET)

    async def _dispose_realtime(self, rt: Any) -> None:
        """Disconnect and clean up a realtime client, retrieving its dead tasks' exceptions."""
        self._retrieve_task_errors(rt)
        try:
            async with asyncio.timeout(5.0):
                await rt.cleanup()
        except (TimeoutError, Exception) as exc:
            log.debug("realtime clean-up: %s: %s", type(exc).__name__, exc)
        self._retrieve_task_errors(rt)

    def _retrieve_task_errors(self, rt: Any) -> None:
        """Mark dead hub tasks' exceptions retrieved (no "Task exception was never retrieved");
        a hub refused with 401 means the session token is no longer good: log in again first."""
        for conn in (getattr(rt, "user_connection", None), getattr(rt, "market_connection", None)):
            task = getattr(conn, "_run_task", None)
            if task is not None and task.done() and not task.cancelled():
                exc = task.exception()
                if exc is not None and _is_auth_refusal(exc):
                    self._relogin_before_rebuild = True

    # ------------------------------------------------------------------ hub callbacks (never await)

    def _hub_callbacks(self) -> dict[str, Callable[[Any], None]]:
        """The realtime client's callbacks, looked up on this object when each client is built
        (``bench/storm.py`` wraps ``_on_quote_raw`` to count what reaches the guard)."""
        return {
            "account_update": lambda data: self._on_user_raw("account", data),
            "position_update": lambda data: self._on_user_raw("position", data),
            "order_update": lambda data: self._on_user_raw("order", data),
            "trade_execution": lambda data: self._on_user_raw("trade", data),
            "quote_update": self._on_quote_raw,
        }

    def _on_user_raw(self, kind: str, data: Any) -> None:
        self._stream.on_user_raw(kind, data)

    def _on_quote_raw(self, data: Any) -> None:
        self._stream.on_quote_raw(data)

    def _note_quote(self, contract_id: str) -> None:
        self._quotes_since_open[contract_id] = self._quotes_since_open.get(contract_id, 0) + 1
        if self._quotes_since_open[contract_id] >= 3:
            self._silence_factor = 1.0  # a steady flow again

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
            try:
                active: list[Account] | None = await self._search_accounts(only_active=True)
            except BrokerError:
                active = None  # each account's read tries again
            results = await asyncio.gather(*(self._read_resync(a, active) for a in due), return_exceptions=True)
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
                self._next_resync_at = time.monotonic() + self._resync_backoff
                self._resync_backoff = min(self._resync_backoff * 2, self._max_rebuild_backoff)
            else:
                self._resync_backoff = 0.5

    # ------------------------------------------------------------------ watchdog

    async def _watchdog(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._watchdog_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broker watchdog step failed")
                await asyncio.sleep(self._watchdog_interval)

    async def _tick(self) -> None:
        now = time.monotonic()
        self._silence_triggered = False
        rt = self._rt
        if rt is not None:
            self._hook(rt, self._rt_generation)
        (user, user_why, user_dead), (market, market_why, market_dead) = self._assess(USER, now), self._assess(MARKET, now)
        detail = "; ".join(f"{h} hub: {w}" for h, w in ((USER, user_why), (MARKET, market_why)) if w)
        self._set_health(user, market, detail)

        if (rt is None or user_dead or market_dead) and now >= self._next_rebuild_at:
            await self._rebuild(detail or "no realtime client")
            return
        if rt is None:
            return
        if self._resubscribe:
            await self._resubscribe_open_hubs(rt)
        if self._resync_due and rt.user_connected and not self._resubscribe & {USER} and now >= self._next_resync_at:
            await self._run_resyncs()
        await self._refresh_token_if_due(rt)
        if now >= self._next_reconcile_at and rt.user_connected and not self._resync_due:
            await self._reconcile()

    def _assess(self, hub: str, now: float) -> tuple[HubState, str, bool]:
        """(state, why, dead) for one hub. Dead means: rebuild it now."""
        rt = self._rt
        if rt is None:
            return HubState.DISCONNECTED, "no connection", True
        conn = rt.user_connection if hub == USER else rt.market_connection
        connected = bool(rt.user_connected if hub == USER else rt.market_connected)
        task = getattr(conn, "_run_task", None)
        if conn is None or task is None:
            return HubState.DISCONNECTED, "not started", True
        if task.done():
            self._retrieve_task_errors(rt)
            return HubState.DISCONNECTED, "connection task ended", True
        if not connected:
            since = self._down_since.get(hub)
            if since is None:
                self._down_since[hub] = since = now
            down_for = now - since
            if down_for > self._reconnect_grace:
                return HubState.DISCONNECTED, f"down for over {self._reconnect_grace:g}s", True
            return HubState.DISCONNECTED, "reconnecting", False
        self._down_since[hub] = None
        if hub == MARKET and self._market_silence > 0 and self._contracts.quoted:
            last = self.health.last_market_event or 0.0
            since_open = self._connected_at.get(MARKET) or 0.0
            quiet_for = now - max(last, since_open)
            limit = self._market_silence * self._silence_factor
            if since_open and quiet_for > limit:
                self._silence_triggered = True
                return HubState.CONNECTED, f"no quotes for over {limit:g}s", True
        return HubState.CONNECTED, "", False

    async def _rebuild(self, reason: str) -> None:
        """Replace the realtime client (both hubs) and mark every account for a Resync."""
        log.warning("rebuilding the hub connections: %s", reason)
        self.health.reconnects += 1
        if self._silence_triggered:
            self._silence_triggered = False
            self._silence_factor = min(self._silence_factor * 2, 16.0)
        self._set_health(HubState.CONNECTING, HubState.CONNECTING, f"reconnecting ({reason})")
        old, self._rt = self._rt, None
        if old is not None:
            self._rt_generation += 1  # silence the old client's hooks at once
            await self._dispose_realtime(old)
        if self._relogin_before_rebuild:
            self._relogin_before_rebuild = False
            await self._session.relogin_quietly()
        await self._refresh_token_if_due(None)
        try:
            connected = await self._build_realtime()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("hub rebuild failed: %s: %s", type(exc).__name__, redact(str(exc)))
            connected = False
        now = time.monotonic()
        self._resync_due.update(self._stream.account_ids)
        if connected:
            self._rebuild_backoff = 0.5
            self._next_rebuild_at = now + self._reconnect_grace
        else:
            self._next_rebuild_at = now + self._rebuild_backoff
            self._rebuild_backoff = min(self._rebuild_backoff * 2, self._max_rebuild_backoff)
            if self._rt is not None:
                self._retrieve_task_errors(self._rt)
        self._wake.set()

    async def _refresh_token_if_due(self, rt: Any) -> None:
        """Refresh the session token before it expires; move the hubs to the newest token."""
        await self._session.refresh_if_due()
        token = self._session.token
        if rt is not None and token and rt.jwt_token != token:
            await self._move_hubs_to_token(rt, token)

    async def _move_hubs_to_token(self, rt: Any, token: str) -> None:
        """``update_jwt_token`` (disconnect, reconnect with the new token, re-subscribe); if it
        fails, a full rebuild with the new token."""
        log.info("moving the hubs to a new session token")
        self._rt_generation += 1  # the old connection objects' hooks go quiet
        generation = self._rt_generation
        # SDK trap: disconnect() leaves user_hub_ready/market_hub_ready set, so the connect()
        # inside update_jwt_token stops waiting at once and reports failure (then "recovers" with
        # the old token). Clearing them first makes it wait for the real open.
        rt.user_hub_ready.clear()
        rt.market_hub_ready.clear()
        ok = False
        try:
            async with asyncio.timeout(self._hub_connect_timeout + 15.0):
                ok = bool(await rt.update_jwt_token(token, timeout=self._hub_connect_timeout + 5.0))
        except TimeoutError:
            ok = False
        except Exception as exc:
            log.warning("hub token update failed: %s", redact(str(exc)))
        if self._rt is not rt:
            return
        if not ok or rt.jwt_token != token:
            await self._rebuild("the hubs did not take the new session token")
            return
        self._hook(rt, generation)
        now = time.monotonic()
        self._connected_at = {USER: now, MARKET: now}
        self._opened = {USER, MARKET}
        self._resubscribe = {USER, MARKET}
        self._resync_due.update(self._stream.account_ids)
        self.health.reconnects += 1
        self._wake.set()

    async def _reconcile(self) -> None:
        """Compare REST with what the user hub told us; a lasting difference means a silent hub."""
        self._next_reconcile_at = time.monotonic() + self._reconcile_interval
        mismatched = await self._mismatched_accounts(self._stream.account_ids)
        if not mismatched:
            return
        await asyncio.sleep(self._reconcile_confirm)
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
                positions, orders = await asyncio.gather(self.open_positions(account_id), self.open_orders(account_id))
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
