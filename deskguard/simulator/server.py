"""``Simulator``: the gateway (REST + hubs), its market and book, control methods and faults.

Control methods are plain synchronous methods; call them on the simulator's event loop thread
(from async tests or aiohttp handlers). Other processes use ``SimulatorControl`` over HTTP, which
needs the run's ``control_token`` (found on its own for a simulator of the same user: see
``control_token.py``).

At about 600 lines this is one cohesive thing: the simulator's one control surface. It wires the
parts together (``book``, ``market``, ``rest``, ``hubs``, ``faults``, ``tokens``) and runs what joins
them (the market walk, delayed pushes); each control method delegates to the part that does the
work, so a test never has to know which part to ask.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from deskguard.simulator import control_token
from deskguard.simulator.book import Book
from deskguard.simulator.book_records import Account, ActionResult, default_accounts
from deskguard.simulator.budget import GATEWAY_REQUEST_BUDGET, RateLimiter, RequestBudget
from deskguard.simulator.contracts import Contract, ContractCatalog
from deskguard.simulator.control import ControlApi
from deskguard.simulator.enums import (
    WORKING_STATUSES,
    Hub,
    MalformedKind,
    MarketEvent,
    OrderSide,
    OrderType,
    PayloadForm,
    UserEvent,
)
from deskguard.simulator.faults import FaultPlan
from deskguard.simulator.history import History
from deskguard.simulator.hubs import SignalRHubs, encode, invocation
from deskguard.simulator.market import Market
from deskguard.simulator.recorder import DEFAULT_LOG_LIMIT, HubEventRecord, PushRecord, Recorder, RequestRecord
from deskguard.simulator.rest import GatewayApi
from deskguard.simulator.sdk import GatewayUrls
from deskguard.simulator.tokens import DEFAULT_TOKEN_LIFETIME_S, TokenIssuer

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_USER_TARGETS = frozenset(e.value for e in UserEvent)


class UnknownContractError(KeyError):
    """A control call named a contract the simulator does not list."""


class Simulator:
    """A ProjectX-Gateway-compatible server on 127.0.0.1 for the unmodified project-x-py SDK.

    Args:
        seed: seeds every contract's random walk (and the bars derived from it).
        accounts: the accounts to serve (default: three $50,000 accounts, ids 1001-1003).
        credentials: ``(userName, apiKey)`` to require; by default any userName with an apiKey of
            more than 10 characters logs in.
        payload_form: how user-hub payloads are framed (bare, or ``{"action": 1, "data": …}``).
        market_payload_form: the same for market-hub payloads. project-x-py 4.4.1 drops wrapped
            quotes (its quote parser does not unwrap), so the default is bare.
        walk_interval_s: seconds between random-walk steps of every active contract.
        walk_paused: start with the walk paused (prices move only through ``set_price``).
        idle_quote_interval_s: while a contract's price stands still (walk paused), re-send its
            quote this often so the SDK's 30 s stale-feed watchdog stays quiet; None disables.
        keepalive_s: SignalR keep-alive ping interval on every hub connection (0 disables).
        token_lifetime_s: lifetime of issued session tokens.
        fees: round-turn fee per contract by common symbol, overriding the defaults
            ($0.74 micros, $2.80 others); half of it is charged on each fill.
        today: the date that decides front months (default: today in UTC).
        request_budget: the gateway's per-user request allowance, enforced with HTTP 429 and
            ``Retry-After`` (default: the documented 200 per 60 s, History 50 per 30 s); None
            switches enforcement off (benchmarks that fire thousands of requests).
        network_delay_s: one-way network latency to model (benchmarks): each REST request is
            carried out this long after it was sent and answered this long after that (a round trip
            of twice this); each hub push leaves this long after its event, in order. 0: loopback.
        control_token: the ``X-Control-Token`` every ``/control`` request must carry (default:
            a fresh random one per simulator).
        publish_control_token: write the token where this user's other processes find it
            (``control_token.py``), so ``SimulatorControl(base_url)`` needs no token argument.
        history_days: how many trading days of seeded past (trades per account, one-minute bars)
            ``Trade/search`` and ``History/retrieveBars`` serve before the current week (default 0:
            none, as a fresh gateway account; the demo asks for ``DEMO_HISTORY_DAYS``); deterministic
            per seed (``history.py``).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        accounts: Sequence[Account] | None = None,
        credentials: tuple[str, str] | None = None,
        payload_form: PayloadForm | str = PayloadForm.BARE,
        market_payload_form: PayloadForm | str = PayloadForm.BARE,
        walk_interval_s: float = 0.5,
        walk_paused: bool = False,
        idle_quote_interval_s: float | None = 5.0,
        keepalive_s: float = 15.0,
        token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
        fees: dict[str, float] | None = None,
        today: date | None = None,
        log_limit: int = DEFAULT_LOG_LIMIT,
        request_budget: RequestBudget | None = GATEWAY_REQUEST_BUDGET,
        control_token: str | None = None,
        publish_control_token: bool = True,
        network_delay_s: float = 0.0,
        history_days: int = 0,
    ) -> None:
        self.seed = seed
        self.control_token = control_token or secrets.token_urlsafe(32)
        self.publish_control_token = publish_control_token
        self.control_token_path: str | None = None
        self.limiter = RateLimiter(request_budget)
        self.catalog = ContractCatalog(today or datetime.now(UTC).date(), fees)
        self.market = Market(seed)
        self.recorder = Recorder(log_limit)
        self.faults = FaultPlan()
        self.tokens = TokenIssuer(token_lifetime_s)
        self.hubs = SignalRHubs(self.tokens, self.faults, self.recorder, self._snapshot, keepalive_s)
        self.hubs.payload_forms[Hub.USER] = PayloadForm(payload_form)
        self.hubs.payload_forms[Hub.MARKET] = PayloadForm(market_payload_form)
        self.book = Book(
            accounts if accounts is not None else default_accounts(), self.market.price, self._publish_user
        )
        #: The seeded past served by Trade/search and History/retrieveBars (see history.py).
        self.history = History(seed, self.catalog.resolve, history_days)
        self.api = GatewayApi(
            book=self.book,
            catalog=self.catalog,
            market=self.market,
            tokens=self.tokens,
            faults=self.faults,
            recorder=self.recorder,
            credentials=credentials,
            limiter=self.limiter,
            history=self.history,
        )
        self.walk_interval_s = walk_interval_s
        self.walk_paused = walk_paused
        self.idle_quote_interval_s = idle_quote_interval_s
        self._last_market_push: dict[str, float] = {}
        self._runner: web.AppRunner | None = None
        self._walk_task: asyncio.Task[None] | None = None
        self._port: int | None = None
        self.network_delay_s = network_delay_s
        self.api.network_delay_s = network_delay_s
        self._delayed: collections.deque[tuple[float, Callable[..., None], tuple[Any, ...]]] = collections.deque()
        self._delayed_timer: asyncio.TimerHandle | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = LOOPBACK, port: int = 0) -> int:
        """Listen on 127.0.0.1 (``port`` 0 picks a free port); returns the bound port."""
        if host not in (LOOPBACK, "localhost"):
            raise ValueError(f"The simulator binds 127.0.0.1 only, not {host!r}")
        if self._runner is not None:
            raise RuntimeError("The simulator is already running")
        app = web.Application()
        self.api.add_routes(app)
        self.hubs.add_routes(app)
        ControlApi(self).add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        control_token.register(self.base_url, self.control_token)
        if self.publish_control_token:
            published = control_token.publish(self._port, self.control_token)
            self.control_token_path = str(published) if published else None
        self._walk_task = asyncio.create_task(self._walk_loop(), name="simulator-walk")
        return self._port

    async def stop(self) -> None:
        if self._walk_task is not None:
            self._walk_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._walk_task
            self._walk_task = None
        if self._delayed_timer is not None:
            self._delayed_timer.cancel()
            self._delayed_timer = None
        self._delayed.clear()
        if self._runner is not None:
            await self.hubs.close_all()
            await self._runner.cleanup()
            self._runner = None
            control_token.unregister(self.base_url, self.control_token)
            if self.control_token_path is not None:
                control_token.withdraw(self.port, self.control_token)
                self.control_token_path = None

    async def __aenter__(self) -> Simulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("The simulator has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def urls(self) -> GatewayUrls:
        return GatewayUrls(self.base_url)

    @property
    def api_url(self) -> str:
        return self.urls.api_url

    @property
    def user_hub_url(self) -> str:
        return self.urls.user_hub_url

    @property
    def market_hub_url(self) -> str:
        return self.urls.market_hub_url

    def control_instructions(self) -> str:
        """How to drive this simulator's control API from a shell: its token and a curl line."""
        lines = [
            f"Control API token (header {control_token.HEADER}; POSTs need Content-Type: application/json):",
            f"  TOKEN={self.control_token}",
        ]
        if self.control_token_path:
            lines.append(f"  (also in {self.control_token_path}, readable by you only)")
        lines.append(
            f"  curl -s -XPOST -H 'Content-Type: application/json' -H \"{control_token.HEADER}: $TOKEN\" "
            f"{self.base_url}/control/price -d '{{\"contract\":\"MNQ\",\"price\":20000}}'"
        )
        return "\n".join(lines)

    # ----------------------------------------------------------------- lookups and state

    def contract(self, contract: str | Contract) -> Contract:
        """A contract from its id, name, common symbol ("MNQ") or root ("ENQ")."""
        if isinstance(contract, Contract):
            return contract
        found = self.catalog.resolve(contract)
        if found is None:
            raise UnknownContractError(contract)
        return found

    def price(self, contract: str | Contract) -> float:
        return self.market.price(self.contract(contract))

    def state(self, only: Iterable[str] | None = None) -> dict[str, Any]:
        """Everything a test or the practice ticket may want to look at, in gateway field names.

        ``only`` names the sections wanted (a long-running driver polling positions need not copy
        every order and trade of the day each time); ``openOrders`` is the working orders alone."""
        sections: dict[str, Callable[[], Any]] = {
            "accounts": lambda: [a.to_api() for a in self.book.accounts.values()],
            "positions": lambda: [p.to_api() for p in self.book.positions()],
            "orders": lambda: [o.to_api() for o in self.book.orders()],
            "openOrders": lambda: [o.to_api() for o in self.book.orders() if o.status in WORKING_STATUSES],
            "trades": lambda: [t.to_api() for t in self.book.trades()],
            "prices": self.market.known_prices,
            "walkPaused": lambda: self.walk_paused,
            "payloadForms": lambda: {h.value: f.value for h, f in self.hubs.payload_forms.items()},
            "tokenLifetimeS": lambda: self.tokens.lifetime_s,
            "requestBudget": lambda: None if self.limiter.budget is None else self.limiter.budget.to_api(),
            "faults": self.faults.describe,
            "hubs": self.hubs.describe,
        }
        wanted = [name for name in sections if name != "openOrders"] if only is None else list(only)
        unknown = [name for name in wanted if name not in sections]
        if unknown:
            raise ValueError(f"unknown state section(s): {', '.join(unknown)}")
        return {name: sections[name]() for name in wanted}

    def requests(self, endpoint: str | None = None, since: int = 0) -> list[RequestRecord]:
        """REST calls received, oldest first (``endpoint`` like "Position/closeContract")."""
        return self.recorder.find_requests(endpoint, since)

    def pushes(self, hub: Hub | str | None = None, target: str | None = None, since: int = 0) -> list[PushRecord]:
        return self.recorder.find_pushes(Hub(hub).value if hub else None, target, since)

    def hub_events(self, hub: Hub | str | None = None, kind: str | None = None, since: int = 0) -> list[HubEventRecord]:
        return self.recorder.find_hub_events(Hub(hub).value if hub else None, kind, since)

    def clear_logs(self) -> None:
        self.recorder.clear()

    def hub_connection_count(self, hub: Hub | str | None = None) -> int:
        return self.hubs.connection_count(Hub(hub) if hub else None)

    # ----------------------------------------------------------------- acting as the trader

    def place_order(
        self,
        account_id: int,
        contract: str | Contract,
        side: OrderSide | int | str,
        size: int = 1,
        order_type: OrderType | int | str = OrderType.MARKET,
        *,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_price: float | None = None,
        custom_tag: str | None = None,
    ) -> ActionResult:
        """Place an order as if from the TopstepX web screen (the SDK sees only hub events).
        ``side`` and ``order_type`` take enums, numbers or names ("sell", "stop_limit")."""
        return self.book.place_order(
            account_id,
            self.contract(contract),
            OrderType.parse(order_type),
            OrderSide.parse(side),
            size,
            limit_price=limit_price,
            stop_price=stop_price,
            trail_price=trail_price,
            custom_tag=custom_tag,
        )

    def close_position(self, account_id: int, contract: str | Contract) -> ActionResult:
        return self.book.close_position(account_id, self.contract(contract))

    def partial_close_position(self, account_id: int, contract: str | Contract, size: int) -> ActionResult:
        return self.book.partial_close_position(account_id, self.contract(contract), size)

    def cancel_order(self, account_id: int, order_id: int) -> ActionResult:
        return self.book.cancel_order(account_id, order_id)

    def modify_order(
        self,
        account_id: int,
        order_id: int,
        *,
        size: int | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_price: float | None = None,
    ) -> ActionResult:
        return self.book.modify_order(
            account_id, order_id, size=size, limit_price=limit_price, stop_price=stop_price, trail_price=trail_price
        )

    def set_account(self, account_id: int, *, can_trade: bool | None = None, balance: float | None = None) -> None:
        """Change ``canTrade`` and/or the balance; pushes a GatewayUserAccount."""
        if not self.book.set_account(account_id, can_trade=can_trade, balance=balance):
            raise KeyError(f"Account {account_id} not found")

    # ----------------------------------------------------------------- the market

    def set_price(self, contract: str | Contract, price: float) -> float:
        """Set the last price exactly (rounded to the tick grid): pushes a quote, matches orders."""
        return self._move(self.contract(contract), price)

    def step_walk(self, contract: str | Contract, steps: int = 1) -> float:
        """Advance one contract's random walk by ``steps`` steps, even while the walk is paused."""
        resolved = self.contract(contract)
        price = self.market.price(resolved)
        for _ in range(steps):
            price = self._move(resolved, None)
        return price

    def pause_walk(self) -> None:
        self.walk_paused = True

    def resume_walk(self) -> None:
        self.walk_paused = False

    def set_payload_form(self, form: PayloadForm | str, hub: Hub | str | None = None) -> None:
        """Frame hub payloads bare or wrapped (``{"action": 1, "data": …}``), per hub or both."""
        for h in [Hub(hub)] if hub else list(Hub):
            self.hubs.payload_forms[h] = PayloadForm(form)

    # ----------------------------------------------------------------- faults

    def drop_hub_connections(
        self, hub: Hub | str | None = None, *, refuse_s: float = 0.0, abrupt: bool = False
    ) -> int:
        """Close every hub connection (of one hub or both); with ``refuse_s``, negotiate and
        reconnects answer 503 for that long. ``abrupt`` cuts TCP without a close frame."""
        if refuse_s > 0:
            self.faults.refuse_hubs_for(refuse_s)
        return self.hubs.drop(Hub(hub) if hub else None, abrupt=abrupt)

    def refuse_hub_connections(self, seconds: float) -> None:
        """Answer hub negotiate and websocket connects with 503 for ``seconds`` (no drop)."""
        self.faults.refuse_hubs_for(seconds)

    def fail_next(self, endpoint: str, count: int = 1, status: int = 500, account_id: int | None = None) -> None:
        """The next ``count`` calls to ``endpoint`` ("Position/closeContract", or "*") answer
        HTTP ``status`` without being carried out (200 answers ``success: false``); with
        ``account_id``, only that account's calls count and fail."""
        self.faults.fail_next(endpoint, count, status, account_id)

    def refuse_closes(self, account_id: int, refuse: bool = True, error_code: int | None = None) -> None:
        """Until ``refuse_closes(account_id, False)`` (or ``clear_faults``), that account's
        ``Position/closeContract`` and ``Position/partialCloseContract`` answer HTTP 200
        ``success: false`` with ``error_code`` (default 5, ClosePositionError.ORDER_REJECTED)
        and close nothing; other accounts' closes go through."""
        self.faults.refuse_closes(account_id, refuse, error_code)

    def set_request_budget(self, budget: RequestBudget | None) -> None:
        """Change the per-user request budget at run time (None: no limit)."""
        self.limiter.budget = budget

    def delay_next(self, endpoint: str, count: int = 1, seconds: float = 1.0) -> None:
        self.faults.delay_next(endpoint, count, seconds)

    def set_hub_silent(self, hub: Hub | str, silent: bool = True) -> None:
        """Stop (or resume) every push on one hub while its connections stay up and answer pings."""
        self.faults.set_silent(Hub(hub), silent)

    def set_token_lifetime(self, seconds: float) -> None:
        """Lifetime of tokens issued from now on (logins and Auth/validate)."""
        self.tokens.lifetime_s = seconds

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far: REST answers 401, hub (re)connects 401."""
        self.tokens.revoke_all()

    def clear_faults(self) -> None:
        self.faults.clear()

    def send_malformed(self, hub: Hub | str, kind: MalformedKind | str) -> int:
        """Write a broken message to every connection of ``hub``; returns how many got it."""
        hub, kind = Hub(hub), MalformedKind(kind)
        if kind is MalformedKind.INVALID_JSON:
            return self.hubs.send_raw(hub, '{"type":1,"target":"Gateway' + "\x1e", "<invalid json>")
        if kind is MalformedKind.UNKNOWN_TARGET:
            return self.hubs.send_raw(hub, invocation("GatewaySimulatorNovelty", [{"id": 1}]), "<unknown target>")
        if kind is MalformedKind.CLOSE_WITH_ERROR:
            sent = self.hubs.send_raw(
                hub, encode({"type": 7, "error": "Simulated server error", "allowReconnect": True}), "<close error>"
            )
            self.hubs.drop(hub)
            return sent
        frame = self._odd_event(hub, extra_fields=kind is MalformedKind.UNKNOWN_FIELDS)
        return self.hubs.send_raw(hub, frame, f"<{kind.value}>")

    def replay_user_pushes(
        self, count: int = 1, *, target: UserEvent | str | None = None, reverse: bool = False, extra_fields: bool = False
    ) -> int:
        """Send the last ``count`` user-hub events again (``target`` only, if given): duplicates of
        what the gateway already sent; ``reverse`` sends them newest first (out of order);
        ``extra_fields`` adds unheard-of fields to each payload. Returns how many messages were
        written (one per event and user-hub connection)."""
        wanted = UserEvent(target).value if target else None
        picked: list[tuple[str, list[Any]]] = []
        seen: set[str] = set()
        for push in reversed(self.recorder.pushes):
            if len(picked) >= count:
                break
            if push.hub != Hub.USER.value or push.target not in _USER_TARGETS or wanted not in (None, push.target):
                continue
            key = json.dumps([push.target, push.arguments], sort_keys=True, default=str)
            if key in seen:  # one record per connection: the same event
                continue
            seen.add(key)
            picked.append((push.target, copy.deepcopy(push.arguments)))
        if not reverse:
            picked.reverse()  # oldest first, as they were sent
        sent = 0
        for event_target, arguments in picked:
            if extra_fields and arguments and isinstance(arguments[0], dict):
                payload = arguments[0]
                body = payload["data"] if isinstance(payload.get("data"), dict) else payload
                body.update({"simulatorReplay": {"nested": [1, 2, 3]}, "riskTier": "experimental"})
            sent += self.hubs.send_raw(Hub.USER, invocation(event_target, arguments), f"<replay {event_target}>")
        return sent

    def _odd_event(self, hub: Hub, *, extra_fields: bool) -> str:
        """A real event target whose payload has unknown extra fields, or lacks required ones."""
        framed = self.hubs.frame_payload  # the injected event honours the hub's payload form
        extras = {"simulatorNovelty": {"nested": [1, 2, 3]}, "riskTier": "experimental"}
        if hub is Hub.USER:
            account = next(iter(self.book.accounts.values()))
            if extra_fields:
                return invocation(UserEvent.ACCOUNT.value, [framed(hub, {**account.to_api(), **extras})])
            return invocation(UserEvent.POSITION.value, [framed(hub, {"id": 1, "accountId": account.id})])
        subscribed = sorted(self.hubs.subscribed_contracts())
        contract = self.contract(subscribed[0]) if subscribed else self.contract("ES")
        if extra_fields:
            payload = {**self.market.quote(contract), **extras}
        else:
            payload = {"lastPrice": self.market.price(contract)}  # no "symbol": the SDK skips it
        return invocation(MarketEvent.QUOTE.value, [contract.id, framed(hub, payload)])

    # ----------------------------------------------------------------- internals

    def _publish_user(self, target: UserEvent, account_id: int, payload: dict[str, Any]) -> None:
        self._push(self.hubs.publish_user, target, account_id, payload)

    def _push(self, publish: Callable[..., None], *args: Any) -> None:
        """Publish now, or ``network_delay_s`` later, in the order the events happened."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the simulator's loop (no hub connection to push to anyway)
            loop = None
        if self.network_delay_s <= 0 or loop is None:
            publish(*args)
            return
        self._delayed.append((loop.time() + self.network_delay_s, publish, args))
        if self._delayed_timer is None:
            self._delayed_timer = loop.call_at(self._delayed[0][0], self._push_due)

    def _push_due(self) -> None:
        loop = asyncio.get_running_loop()
        self._delayed_timer = None
        while self._delayed and self._delayed[0][0] <= loop.time():
            _, publish, args = self._delayed.popleft()
            try:
                publish(*args)
            except Exception:  # one bad push must not stop the ones behind it
                log.exception("simulator delayed push failed")
        if self._delayed:
            self._delayed_timer = loop.call_at(self._delayed[0][0], self._push_due)

    def _snapshot(self, target: MarketEvent, contract_id: str) -> Any | None:
        contract = self.catalog.by_id(contract_id)
        if contract is None:
            return None
        if target is MarketEvent.QUOTE:
            return self.market.quote(contract)
        if target is MarketEvent.DEPTH:
            return self.market.depth(contract)
        return None

    def _move(self, contract: Contract, price: float | None) -> float:
        """Set (or, with None, walk) the price, push it to the market hub, then match orders."""
        before = self.market.price(contract)
        if price is None:
            new_price = self.market.step(contract)
        else:
            new_price = self.market.set_price(contract, price)
        self._push_market(contract, buyer_initiated=new_price >= before)
        self.book.on_price(contract, new_price)
        return new_price

    def _push_market(self, contract: Contract, *, buyer_initiated: bool = True) -> None:
        self._last_market_push[contract.id] = time.monotonic()
        publish = self.hubs.publish_market
        self._push(publish, MarketEvent.QUOTE, contract.id, self.market.quote(contract))
        self._push(publish, MarketEvent.TRADE, contract.id, self.market.market_trade(contract, 1, buyer_initiated))
        self._push(publish, MarketEvent.DEPTH, contract.id, self.market.depth(contract))

    def _active_contracts(self) -> list[Contract]:
        ids = self.hubs.subscribed_contracts() | self.book.contracts_in_use()
        return [c for c in (self.catalog.by_id(i) for i in sorted(ids)) if c is not None]

    async def _walk_loop(self) -> None:
        while True:
            await asyncio.sleep(self.walk_interval_s)
            try:
                self._walk_once()
            except Exception:  # a bug in one step must not stop the market for the session
                log.exception("simulator walk step failed")

    def _walk_once(self) -> None:
        now = time.monotonic()
        for contract in self._active_contracts():
            if not self.walk_paused:
                self._move(contract, None)
            elif (
                self.idle_quote_interval_s is not None
                and now - self._last_market_push.get(contract.id, 0.0) >= self.idle_quote_interval_s
            ):
                self._last_market_push[contract.id] = now
                self._push(self.hubs.publish_market, MarketEvent.QUOTE, contract.id, self.market.quote(contract))


async def serve(port: int = 0, seed: int = 0, **options: Any) -> None:
    """Run a simulator on 127.0.0.1:``port`` until cancelled, logging where it listens and how to
    drive its control API (the run's token and a curl line)."""
    simulator = Simulator(seed=seed, **options)
    bound = await simulator.start(port=port)
    log.info(
        "ProjectX simulator listening on %s (api %s, user hub %s, market hub %s, control %s/control)",
        simulator.base_url,
        simulator.api_url,
        simulator.user_hub_url,
        simulator.market_hub_url,
        simulator.base_url,
    )
    log.info("%s", simulator.control_instructions())
    log.debug("simulator port %d, seed %d", bound, seed)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
