"""``ProjectXBroker``: the ``Broker`` protocol (``base.py``) over the unmodified project-x-py 4.4.1 SDK.

This module is the façade: configuration, the lifecycle (``connect``, ``start``, ``stop``) and one
method per protocol call. Actions (close, partial close, cancel, place and modify a stop) are written
out here, each a single REST call with no retry. The work is done by parts that own their state
(see ``docs/projectx.md`` for the SDK traps each one answers):

- ``session.py`` — the REST session: login, the session token and where it is refreshed, the
  ``RequestBudget`` every request pays (enforcement first; the ``enforcement_priority``
  context), each POST and the mapping of SDK errors to ``BrokerError`` / ``Refused`` /
  ``RateLimited`` (HTTP 429, at once) / ``AuthenticationError``. The API key never appears in an
  exception or a log line; the SDK's own records are redacted by ``sdk_logging``.
- ``reads.py`` — REST reads parsed tolerantly (accounts, open positions and orders, trades) and
  the ``Resync`` snapshot.
- ``stream.py`` — the hub stream: raw SDK callbacks, tolerant parsing, de-duplication, events
  held during a re-read and replayed, delivery to the listener. Callbacks never await.
- ``supervisor.py`` — the watchdog: hub health, rebuilding a dead, refused or silent hub,
  re-subscribing, the re-sync after every (re)connect, moving the hubs to a refreshed token, and
  the periodic REST reconcile that catches a user hub that stays connected but stops pushing.
- ``hubs.py`` — the mechanics of the hub connections the supervisor drives: build, connect,
  hook, subscribe, move to a new token, dispose.
- ``realtime.py`` — the SDK's realtime client taught to follow several accounts on one user hub.
- ``contracts.py`` — contract specs, symbol ids and the quoted contracts.

The SDK is used below its conveniences on purpose: its ``ProjectX`` client is built with our own
``ProjectXConfig`` (``TradingSuite.create`` ignores the ``PROJECTX_*`` URL variables), and its
realtime client directly with raw callbacks — no suite, no managers, hence no duplicate events per
instrument and no position-lock deadlock.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine.calendar import TradingCalendar
from ..engine.events import Resync
from ..engine.models import Account, ContractSpec, Order, OrderType, Position, Side
from . import parsing
from .base import BrokerError, BrokerListener, ConnectionHealth
from .budget import RequestBudget
from .contracts import ContractBook
from .reads import RestReads
from .sdk_logging import quiet_sdk_logging, register_secret
from .session import Session, build_sdk_config
from .session import _retry_after as _retry_after  # re-exported: tests import it from here
from .stream import HubStream
from .supervisor import MarketSilence, Supervisor, Timing

DEFAULT_API_URL = "https://api.topstepx.com/api"
DEFAULT_USER_HUB_URL = "https://rtc.topstepx.com/hubs/user"
DEFAULT_MARKET_HUB_URL = "https://rtc.topstepx.com/hubs/market"

ENV_API_URL = "PROJECTX_API_URL"
ENV_USER_HUB_URL = "PROJECTX_USER_HUB_URL"
ENV_MARKET_HUB_URL = "PROJECTX_MARKET_HUB_URL"


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
        self._sdk_log_level = sdk_log_level
        #: One budget per broker, i.e. per user: the gateway counts per user.
        self.budget = request_budget or RequestBudget(limit=max(1, int(requests_per_minute)), window=60.0)
        self.health = ConnectionHealth()
        self._started = False
        self._session = Session(username, api_key, config, budget=self.budget, request_timeout=request_timeout,
                                token_refresh_margin=token_refresh_margin, sdk_log_level=sdk_log_level)
        week_start = week_start or (_week_start_from(day_start) if day_start else _default_week_start)
        self._reads = RestReads(self._session, week_start)
        self._contracts = ContractBook()
        silence = MarketSilence(market_silence)
        self._stream = HubStream(self.health, self._contracts, on_quote=silence.note)
        timing = Timing(
            hub_connect_timeout=float(hub_connect_timeout),
            watchdog_interval=float(watchdog_interval),
            reconnect_grace=float(reconnect_grace),
            reconcile_interval=float(reconcile_interval),
            reconcile_confirm=float(reconcile_confirm),
            max_rebuild_backoff=float(max_rebuild_backoff),
        )
        self._supervisor = Supervisor(self._session, self._stream, self._contracts, self._reads, self.health,
                                      silence, timing, sdk_log_level)

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> list[Account]:
        """Authenticate and list the active accounts."""
        await self._session.open()
        await self._session.login()
        accounts = await self._reads.search_accounts(only_active=True)
        self._reads.accounts = {a.id: a for a in accounts}
        self._session.select_sdk_account(accounts)
        return accounts

    async def start(self, account_ids: list[int], symbols: list[str], listener: BrokerListener) -> None:
        if self._started:
            raise BrokerError("already started")
        if not account_ids:
            raise BrokerError("no accounts to guard")
        if not self._session.is_open:
            await self.connect()
        quiet_sdk_logging(self._sdk_log_level)
        ids = list(dict.fromkeys(int(a) for a in account_ids))
        known = self._reads.accounts
        unknown = [a for a in ids if known and a not in known]
        if unknown:
            raise BrokerError(f"account(s) {unknown} are not among the active accounts {sorted(known)}")
        self._stream.guard(ids, listener)
        self._started = True
        try:
            for symbol in dict.fromkeys(s.strip() for s in symbols if s and s.strip()):
                spec = await self._resolve(symbol)
                if spec is not None:
                    self._contracts.quote(spec.contract_id)
            await self._supervisor.start(self._hub_callbacks())
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Disconnect the hubs, end the watchdog, close the HTTP client. Safe to call twice."""
        self._stream.stop()
        await self._supervisor.stop()
        await self._session.close()
        self._started = False
        self._supervisor.report_stopped()

    def _hub_callbacks(self) -> dict[str, Callable[[Any], None]]:
        """The realtime client's callbacks (into the stream), looked up on this object when the
        hubs start: ``bench/storm.py`` wraps ``_on_quote_raw`` to count what reaches the guard."""
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
        await self._supervisor.subscribe_quotes(contract_id)

    # ------------------------------------------------------------------ reading

    async def open_positions(self, account_id: int) -> list[Position]:
        return await self._reads.open_positions(account_id)

    async def open_orders(self, account_id: int) -> list[Order]:
        return await self._reads.open_orders(account_id)

    async def raw_trades(self, account_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """``Trade/search`` records over a past range, unparsed (the Rules lab's replay reads them)."""
        return await self._reads.raw_trades(account_id, start, end)

    async def minute_bars(self, contract_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """``History/retrieveBars`` one-minute bars of a contract over a past range, unparsed."""
        return await self._reads.minute_bars(contract_id, start, end)

    def request_resync(self, account_id: int) -> None:
        """Have the account read again and its Resync delivered through the listener. Hub events
        that arrive during the read are held and replayed after it, so a read that started before
        an update never overrides it (a Resync returned to a caller and queued later would)."""
        self._supervisor.request_resync(account_id)

    async def resync(self, account_id: int) -> Resync:
        """Read the account, its open positions, working orders and the trading week's trades
        (from the Sunday reset, so weekly figures include days the app did not run).

        This only reads; the Resync events the adapter emits itself (after connect and every
        reconnect) also become its de-duplication baseline."""
        return await self._reads.resync(account_id)

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

    async def place_stop(self, account_id: int, contract_id: str, side: int, size: int, stop_price: float,
                         tag: str | None = None) -> int:
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
                **({"customTag": tag} if tag else {}),
            },
            what=what,
            mutating=True,
        )
        order_id = parsing.opt_int(reply, "orderId")
        if order_id is None:
            raise BrokerError(f"{what}: the reply carries no orderId")
        return order_id

    async def modify_stop(self, account_id: int, order_id: int, stop_price: float, size: int | None = None) -> None:
        await self._session.post(
            "/Order/modify",
            {"accountId": account_id, "orderId": int(order_id), "stopPrice": self._contracts.on_tick(None, stop_price),
             **({"size": int(size)} if size else {})},
            what=f"Order/modify account {account_id} order {order_id} stop {stop_price}",
            mutating=True,
        )
