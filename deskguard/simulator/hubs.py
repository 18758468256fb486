"""SignalR JSON hubs (``/hubs/user`` and ``/hubs/market``) as pysignalr, and so the SDK, use them.

Protocol, as pysignalr 1.3 speaks it:
- ``POST /hubs/<hub>/negotiate?access_token=JWT`` (no body, no auth header the first time) →
  ``{"connectionId": …, "availableTransports": […]}``. 401 and other statuses are fatal to the
  client's connection task (see ``docs/projectx.md``).
- ``GET ws://…/hubs/<hub>?access_token=JWT&id=<connectionId>``; the client sends
  ``{"protocol":"json","version":1}\\x1e`` and the server answers ``{}\\x1e``.
- Records end with ``\\x1e``; a frame may hold several. Types: 1 invocation, 3 completion,
  6 ping, 7 close. Client calls usually carry no ``invocationId`` (fire and forget); when they do,
  the server answers with a completion.
- pysignalr reconnects a dropped websocket with the *same* URL (same ``id`` and token) without
  negotiating again, so a connection id stays valid after its socket closes, and an expired token
  makes the reconnect fail for good (401 is not retried; 5xx is, with websockets' backoff).

Each connection has one writer task fed by a queue, so synchronous code (the book, control
methods) can publish without awaiting, and every push is logged when its write completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from deskguard.simulator.enums import Hub, MarketEvent, PayloadForm, UserEvent
from deskguard.simulator.faults import FaultPlan
from deskguard.simulator.recorder import Recorder
from deskguard.simulator.tokens import TokenIssuer

log = logging.getLogger(__name__)

RECORD_SEPARATOR = "\x1e"
PING_FRAME = '{"type":6}' + RECORD_SEPARATOR
HANDSHAKE_TIMEOUT_S = 10.0
# Close codes: 1012 "service restart" for a simulated drop, 1001 "going away" on shutdown.
DROP_CLOSE_CODE = 1012
SHUTDOWN_CLOSE_CODE = 1001

# Snapshot sent to a connection when it subscribes (the current quote, the current depth).
SnapshotSource = Callable[[MarketEvent, str], Any | None]


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":")) + RECORD_SEPARATOR


def invocation(target: str, arguments: list[Any]) -> str:
    return encode({"type": 1, "target": target, "arguments": arguments})


@dataclass(slots=True)
class Subscriptions:
    accounts: bool = False
    orders: set[int] = field(default_factory=set)
    positions: set[int] = field(default_factory=set)
    trades: set[int] = field(default_factory=set)
    quotes: set[str] = field(default_factory=set)
    market_trades: set[str] = field(default_factory=set)
    depth: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "orders": sorted(self.orders),
            "positions": sorted(self.positions),
            "trades": sorted(self.trades),
            "quotes": sorted(self.quotes),
            "marketTrades": sorted(self.market_trades),
            "depth": sorted(self.depth),
        }


# Client method name (without Subscribe/Unsubscribe) -> Subscriptions attribute.
_ACCOUNT_TOPICS = {"Orders": "orders", "Positions": "positions", "Trades": "trades"}
_CONTRACT_TOPICS = {"ContractQuotes": "quotes", "ContractTrades": "market_trades", "ContractMarketDepth": "depth"}
_USER_EVENT_TOPIC = {UserEvent.ORDER: "orders", UserEvent.POSITION: "positions", UserEvent.TRADE: "trades"}
_MARKET_EVENT_TOPIC = {MarketEvent.QUOTE: "quotes", MarketEvent.TRADE: "market_trades", MarketEvent.DEPTH: "depth"}


@dataclass(frozen=True, slots=True)
class _Outgoing:
    frame: str
    target: str | None = None  # logged as a push when set
    arguments: list[Any] | None = None


@dataclass(frozen=True, slots=True)
class _CloseRequest:
    code: int
    abrupt: bool = False


class HubConnection:
    def __init__(self, hub: Hub, connection_id: str, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.hub = hub
        self.connection_id = connection_id
        self.ws = ws
        self.subscriptions = Subscriptions()
        self._request = request
        self._queue: asyncio.Queue[_Outgoing | _CloseRequest] = asyncio.Queue()
        self.closed = asyncio.Event()

    def send(self, frame: str, target: str | None = None, arguments: list[Any] | None = None) -> None:
        self._queue.put_nowait(_Outgoing(frame, target, arguments))

    def close(self, code: int, abrupt: bool = False) -> None:
        self._queue.put_nowait(_CloseRequest(code, abrupt))

    async def write_loop(self, recorder: Recorder) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _CloseRequest):
                    if item.abrupt and self._request.transport is not None:
                        # Like a network failure: no close frame, the TCP connection just ends.
                        self._request.transport.abort()
                    else:
                        await self.ws.close(code=item.code)
                    return
                await self.ws.send_str(item.frame)
                if item.target is not None:
                    recorder.push(self.hub.value, self.connection_id, item.target, item.arguments or [])
        except (ConnectionError, RuntimeError) as exc:
            log.debug("hub %s connection %s writer stopped: %s", self.hub, self.connection_id, exc)


class SignalRHubs:
    def __init__(
        self,
        tokens: TokenIssuer,
        faults: FaultPlan,
        recorder: Recorder,
        snapshot: SnapshotSource,
        keepalive_s: float = 15.0,
    ) -> None:
        self._tokens = tokens
        self._faults = faults
        self._recorder = recorder
        self._snapshot = snapshot
        self._keepalive_s = keepalive_s
        self._negotiated: set[str] = set()
        self._connections: dict[Hub, dict[int, HubConnection]] = {Hub.USER: {}, Hub.MARKET: {}}
        self._socket_serial = itertools.count(1)
        self._shutting_down = False  # refuse (re)connects while the server stops
        self.payload_forms: dict[Hub, PayloadForm] = {Hub.USER: PayloadForm.BARE, Hub.MARKET: PayloadForm.BARE}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/hubs/{hub:user|market}/negotiate", self._negotiate)
        app.router.add_get("/hubs/{hub:user|market}", self._websocket)
        self._shutting_down = False  # a fresh server accepts connections again

    # ----------------------------------------------------------------- publishing

    def publish_user(self, target: UserEvent, account_id: int, payload: dict[str, Any]) -> None:
        if Hub.USER in self._faults.silent_hubs:
            return
        topic = _USER_EVENT_TOPIC.get(target)
        recipients = [
            c
            for c in self._connections[Hub.USER].values()
            if (c.subscriptions.accounts if topic is None else account_id in getattr(c.subscriptions, topic))
        ]
        if recipients:
            arguments = [self.frame_payload(Hub.USER, payload)]
            frame = invocation(target.value, arguments)
            for connection in recipients:
                connection.send(frame, target.value, arguments)

    def publish_market(self, target: MarketEvent, contract_id: str, payload: Any) -> None:
        if Hub.MARKET in self._faults.silent_hubs:
            return
        topic = _MARKET_EVENT_TOPIC[target]
        recipients = [
            c for c in self._connections[Hub.MARKET].values() if contract_id in getattr(c.subscriptions, topic)
        ]
        if recipients:
            arguments = [contract_id, self.frame_payload(Hub.MARKET, payload)]
            frame = invocation(target.value, arguments)
            for connection in recipients:
                connection.send(frame, target.value, arguments)

    def send_raw(self, hub: Hub, frame: str, label: str) -> int:
        """Write ``frame`` as is to every connection of ``hub`` (fault injection); returns how many.
        Silence does not apply: an injected message is always sent."""
        connections = list(self._connections[hub].values())
        for connection in connections:
            connection.send(frame, label, [frame])
        return len(connections)

    def frame_payload(self, hub: Hub, payload: Any) -> Any:
        if self.payload_forms[hub] is PayloadForm.WRAPPED:
            return {"action": 1, "data": payload}
        return payload

    # ----------------------------------------------------------------- inspection and faults

    def connection_count(self, hub: Hub | None = None) -> int:
        hubs = [hub] if hub else list(Hub)
        return sum(len(self._connections[h]) for h in hubs)

    def subscribed_contracts(self) -> set[str]:
        ids: set[str] = set()
        for connection in self._connections[Hub.MARKET].values():
            s = connection.subscriptions
            ids |= s.quotes | s.market_trades | s.depth
        return ids

    def describe(self) -> dict[str, Any]:
        return {
            hub.value: [
                {"connectionId": c.connection_id, "subscriptions": c.subscriptions.to_dict()}
                for c in self._connections[hub].values()
            ]
            for hub in Hub
        }

    def drop(self, hub: Hub | None = None, *, abrupt: bool = False) -> int:
        """Close every connection (of one hub, or both); returns how many were closed."""
        connections = [c for h in ([hub] if hub else list(Hub)) for c in self._connections[h].values()]
        for connection in connections:
            connection.close(DROP_CLOSE_CODE, abrupt=abrupt)
        return len(connections)

    async def close_all(self, timeout_s: float = 3.0) -> None:
        self._shutting_down = True
        connections = [c for h in Hub for c in self._connections[h].values()]
        for connection in connections:
            connection.close(SHUTDOWN_CLOSE_CODE)
        if connections:
            await asyncio.wait([asyncio.ensure_future(c.closed.wait()) for c in connections], timeout=timeout_s)

    # ----------------------------------------------------------------- HTTP handlers

    async def _negotiate(self, request: web.Request) -> web.StreamResponse:
        hub = Hub(request.match_info["hub"])
        if self._faults.hubs_refused() or self._shutting_down:
            self._recorder.hub_event(hub, "refused", None, {"stage": "negotiate", "status": 503})
            return web.json_response({"error": "Service unavailable (simulated)"}, status=503)
        if self._tokens.validate(_token_of(request)) is None:
            self._recorder.hub_event(hub, "refused", None, {"stage": "negotiate", "status": 401})
            return web.Response(status=401)
        connection_id = secrets.token_urlsafe(16)
        self._negotiated.add(connection_id)
        self._recorder.hub_event(hub, "negotiate", connection_id)
        return web.json_response(
            {
                "negotiateVersion": 0,
                "connectionId": connection_id,
                "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}],
            }
        )

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        hub = Hub(request.match_info["hub"])
        connection_id = request.query.get("id", "")
        if self._faults.hubs_refused() or self._shutting_down:
            self._recorder.hub_event(hub, "refused", connection_id, {"stage": "connect", "status": 503})
            return web.Response(status=503)
        if self._tokens.validate(_token_of(request)) is None:
            self._recorder.hub_event(hub, "refused", connection_id, {"stage": "connect", "status": 401})
            return web.Response(status=401)
        if connection_id not in self._negotiated:
            self._recorder.hub_event(hub, "refused", connection_id, {"stage": "connect", "status": 404})
            return web.Response(status=404, text="No Connection with that ID")
        ws = web.WebSocketResponse(autoping=True, timeout=2.0, max_msg_size=2**20)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="Only the WebSockets transport is supported")
        await ws.prepare(request)
        connection = HubConnection(hub, connection_id, ws, request)
        try:
            leftover = await self._handshake(ws)
            if leftover is None:
                return ws
            key = next(self._socket_serial)
            self._connections[hub][key] = connection
            self._recorder.hub_event(hub, "connect", connection_id)
            tasks = [asyncio.create_task(connection.write_loop(self._recorder), name=f"sim-hub-writer-{hub}")]
            if self._keepalive_s > 0:
                tasks.append(asyncio.create_task(self._keepalive(connection), name=f"sim-hub-keepalive-{hub}"))
            try:
                self._handle_text(connection, leftover)
                async for message in ws:
                    if message.type is WSMsgType.TEXT:
                        self._handle_text(connection, message.data)
            finally:
                self._connections[hub].pop(key, None)
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                self._recorder.hub_event(hub, "disconnect", connection_id, {"closeCode": ws.close_code})
        finally:
            connection.closed.set()
        return ws

    async def _handshake(self, ws: web.WebSocketResponse) -> str | None:
        """Answer the client's handshake; returns any records that followed it in the same frame,
        or None when the handshake failed (the socket is then closed)."""
        try:
            message = await ws.receive(timeout=HANDSHAKE_TIMEOUT_S)
        except TimeoutError:
            await ws.close(code=1002)
            return None
        if message.type is not WSMsgType.TEXT or RECORD_SEPARATOR not in message.data:
            await ws.close(code=1002)
            return None
        first, _, rest = message.data.partition(RECORD_SEPARATOR)
        try:
            request = json.loads(first)
        except ValueError:
            request = {}
        if request.get("protocol") != "json":
            await ws.send_str(encode({"error": f"Protocol {request.get('protocol')!r} is not supported"}))
            await ws.close(code=1002)
            return None
        await ws.send_str(encode({}))
        return rest

    async def _keepalive(self, connection: HubConnection) -> None:
        while True:
            await asyncio.sleep(self._keepalive_s)
            connection.send(PING_FRAME)

    # ----------------------------------------------------------------- client messages

    def _handle_text(self, connection: HubConnection, text: str) -> None:
        for record in text.split(RECORD_SEPARATOR):
            if not record.strip():
                continue
            try:
                message = json.loads(record)
            except ValueError:
                self._recorder.hub_event(connection.hub, "bad_message", connection.connection_id, record[:200])
                continue
            if not isinstance(message, dict):
                continue
            kind = message.get("type")
            if kind == 1:
                self._handle_invocation(connection, message)
            elif kind == 6:
                connection.send(PING_FRAME)  # answer the client's keep-alive in kind
            elif kind == 7:
                connection.close(1000)

    def _handle_invocation(self, connection: HubConnection, message: dict[str, Any]) -> None:
        target = str(message.get("target", ""))
        arguments = message.get("arguments") or []
        invocation_id = message.get("invocationId")
        self._recorder.hub_event(
            connection.hub, "invoke", connection.connection_id, {"target": target, "arguments": arguments}
        )
        error = self._apply_invocation(connection, target, arguments)
        if invocation_id is not None:
            reply: dict[str, Any] = {"type": 3, "invocationId": invocation_id}
            if error:
                reply["error"] = error
            else:
                reply["result"] = None
            connection.send(encode(reply))

    def _apply_invocation(self, connection: HubConnection, target: str, arguments: list[Any]) -> str | None:
        """Update the connection's subscriptions; returns an error text for unknown methods."""
        subs = connection.subscriptions
        if target == "Heartbeat":
            return None
        if target.startswith("Subscribe"):
            topic, adding = target.removeprefix("Subscribe"), True
        elif target.startswith("Unsubscribe"):
            topic, adding = target.removeprefix("Unsubscribe"), False
        else:
            return f"Unknown hub method '{target}'"
        if connection.hub is Hub.USER and topic == "Accounts":
            subs.accounts = adding
            return None
        if connection.hub is Hub.USER and topic in _ACCOUNT_TOPICS:
            ids: set[int] = getattr(subs, _ACCOUNT_TOPICS[topic])
            for account_id in _ints(arguments):
                (ids.add if adding else ids.discard)(account_id)
            return None
        if connection.hub is Hub.MARKET and topic in _CONTRACT_TOPICS:
            contracts: set[str] = getattr(subs, _CONTRACT_TOPICS[topic])
            for contract_id in (str(a) for a in arguments):
                if adding:
                    contracts.add(contract_id)
                    self._send_snapshot(connection, topic, contract_id)
                else:
                    contracts.discard(contract_id)
            return None
        return f"Unknown hub method '{target}'"

    def _send_snapshot(self, connection: HubConnection, topic: str, contract_id: str) -> None:
        """The gateway sends the current quote (and book) right after a subscription."""
        if Hub.MARKET in self._faults.silent_hubs:
            return
        target = {"ContractQuotes": MarketEvent.QUOTE, "ContractMarketDepth": MarketEvent.DEPTH}.get(topic)
        if target is None:
            return
        payload = self._snapshot(target, contract_id)
        if payload is None:
            return
        arguments = [contract_id, self.frame_payload(Hub.MARKET, payload)]
        connection.send(invocation(target.value, arguments), target.value, arguments)


def _token_of(request: web.Request) -> str | None:
    token = request.query.get("access_token")
    if token:
        return token
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else None


def _ints(values: list[Any]) -> list[int]:
    out: list[int] = []
    for value in values:
        with contextlib.suppress(TypeError, ValueError):
            out.append(int(value))
    return out
