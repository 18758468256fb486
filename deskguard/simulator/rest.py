"""The gateway's REST API under ``/api``: JSON in, JSON out, ``success``/``errorCode``/``errorMessage``.

Every call is recorded first (with the user it counts for), then the request budget applies (HTTP
429 with ``Retry-After`` past it, see ``budget.py``), then faults (delay, then failure), then the
bearer token is checked (401 without a valid one, except ``Auth/loginKey`` and ``Status/ping``).
Routes are matched case-insensitively, as ASP.NET does.

Failures take the gateway's documented shapes: HTTP 401 (empty body) for a missing, expired or
revoked token, and otherwise HTTP 200 ``{"success": false, "errorCode": <int>, "errorMessage":
"..."}`` — a request body that is not a JSON object, a missing or mistyped field, an unknown
contract or order, a refused order or close. Only an unknown endpoint answers 404, and only
injected faults answer other statuses. Which documented example each endpoint's reply follows is
in ``fidelity.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from deskguard.simulator.book import Book
from deskguard.simulator.book_records import ActionResult
from deskguard.simulator.budget import RateLimiter, retry_after_header
from deskguard.simulator.contracts import Contract, ContractCatalog
from deskguard.simulator.enums import (
    ClosePositionError,
    GenericError,
    LoginError,
    OrderSide,
    OrderType,
    PlaceOrderError,
)
from deskguard.simulator.faults import FaultPlan, normalize_endpoint
from deskguard.simulator.history import History
from deskguard.simulator.market import MAX_BARS, Market, utc_now
from deskguard.simulator.recorder import Recorder
from deskguard.simulator.tokens import TokenClaims, TokenIssuer

MIN_API_KEY_LENGTH = 11  # the SDK's own check: "over 10 characters"
Reply = dict[str, Any]


class InvalidRequest(Exception):
    """A request field is missing or of the wrong type; answered as success false."""


def ok(**fields: Any) -> Reply:
    return {"success": True, "errorCode": 0, "errorMessage": None, **fields}


def failure(code: int, message: str, **fields: Any) -> Reply:
    return {"success": False, "errorCode": int(code), "errorMessage": message, **fields}


class GatewayApi:
    def __init__(
        self,
        *,
        book: Book,
        catalog: ContractCatalog,
        market: Market,
        tokens: TokenIssuer,
        faults: FaultPlan,
        recorder: Recorder,
        credentials: tuple[str, str] | None,
        limiter: RateLimiter | None = None,
        history: History | None = None,
    ) -> None:
        self._book = book
        self._history = history
        self._catalog = catalog
        self._market = market
        self._tokens = tokens
        self._faults = faults
        self._recorder = recorder
        self.credentials = credentials
        self.limiter = limiter if limiter is not None else RateLimiter(None)
        #: One-way network latency to model: a request is carried out this long after it was sent
        #: and its reply arrives this long after that (a round trip of twice this). 0: loopback.
        self.network_delay_s = 0.0
        handlers: dict[str, Callable[[dict[str, Any], TokenClaims | None], Reply]] = {
            "Auth/loginKey": self.login_key,
            "Auth/validate": self.validate,
            "Auth/logout": self.logout,
            "Status/ping": self.ping,
            "Account/search": self.account_search,
            "Contract/search": self.contract_search,
            "Contract/searchById": self.contract_search_by_id,
            "Contract/available": self.contract_available,
            "Position/searchOpen": self.position_search_open,
            "Position/closeContract": self.position_close,
            "Position/partialCloseContract": self.position_partial_close,
            "Order/searchOpen": self.order_search_open,
            "Order/search": self.order_search,
            "Order/searchById": self.order_search_by_id,
            "Order/place": self.order_place,
            "Order/cancel": self.order_cancel,
            "Order/modify": self.order_modify,
            "Trade/search": self.trade_search,
            "History/retrieveBars": self.retrieve_bars,
        }
        self._handlers = {normalize_endpoint(k): v for k, v in handlers.items()}
        self._public = {normalize_endpoint("Auth/loginKey"), normalize_endpoint("Status/ping")}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{endpoint:.+}", self.handle)

    @property
    def endpoints(self) -> list[str]:
        """Every endpoint served, normalized (``position/closecontract``)."""
        return sorted(self._handlers)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        raw = await request.text()
        if self.network_delay_s > 0:
            await asyncio.sleep(self.network_delay_s)  # the request on its way to the gateway
        response = await self._handle(request, endpoint, raw)
        if self.network_delay_s > 0:
            await asyncio.sleep(self.network_delay_s)  # the reply on its way back
        return response

    async def _handle(self, request: web.Request, endpoint: str, raw: str) -> web.StreamResponse:
        body: Any
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = raw
        record = self._recorder.request(request.method, endpoint, body)
        record.user = self._user_of(request, endpoint, body)
        if record.user is not None:
            wait_s = self.limiter.admit(record.user, endpoint)
            if wait_s is not None:
                # The gateway's edge refuses before anything else: nothing is carried out.
                record.fault, record.status = "rate limited", 429
                return web.Response(status=429, headers={"Retry-After": retry_after_header(wait_s)})
        fault = self._faults.take(endpoint, _account_of(body))
        notes: list[str] = []
        if fault.delay_s > 0:
            notes.append(f"delayed {fault.delay_s}s")
            await asyncio.sleep(fault.delay_s)
        if fault.fail_status is not None:
            # The call is not carried out: a failed close leaves the position open.
            notes.append(f"failed {fault.fail_status}")
            reply = failure(GenericError.INJECTED_FAULT, f"Simulated failure (HTTP {fault.fail_status})")
            response = web.json_response(reply, status=fault.fail_status)
        else:
            response = self._dispatch(request, endpoint, body, notes)
        record.fault = ", ".join(notes) or None
        record.status = response.status
        return response

    def _dispatch(self, request: web.Request, endpoint: str, body: Any, notes: list[str]) -> web.Response:
        key = normalize_endpoint(endpoint)
        handler = self._handlers.get(key)
        if handler is None:
            return web.json_response({"message": f"No endpoint /api/{endpoint}"}, status=404)
        claims: TokenClaims | None = None
        if key not in self._public:
            claims = self._tokens.validate(_bearer(request))
            if claims is None:
                return web.Response(status=401)
        if not isinstance(body, dict):
            return web.json_response(failure(GenericError.INVALID_REQUEST, "The request body must be a JSON object"))
        refused = self._faults.refused_close(endpoint, _account_of(body))
        if refused is not None:
            notes.append("refused close")
            return web.json_response(failure(refused, "Close refused (simulated)"))
        try:
            reply = handler(body, claims)
        except InvalidRequest as exc:
            reply = failure(GenericError.INVALID_REQUEST, str(exc))
        return web.json_response(reply)

    def _user_of(self, request: web.Request, endpoint: str, body: Any) -> str | None:
        """Whose budget a request uses: the bearer token's subject, or a login's userName."""
        if normalize_endpoint(endpoint) == "auth/loginkey":
            user = body.get("userName") if isinstance(body, dict) else None
            return user if isinstance(user, str) and user else None
        claims = self._tokens.claims(_bearer(request))
        return claims.subject if claims is not None else None

    # ----------------------------------------------------------------- Auth

    def login_key(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        user = body.get("userName")
        key = body.get("apiKey")
        if not isinstance(user, str) or not user or not isinstance(key, str):
            return failure(LoginError.INVALID_CREDENTIALS, "userName and apiKey are required", token=None)
        if self.credentials is not None:
            if (user, key) != self.credentials:
                return failure(LoginError.INVALID_CREDENTIALS, "Invalid credentials", token=None)
        elif len(key) < MIN_API_KEY_LENGTH:
            return failure(LoginError.INVALID_CREDENTIALS, "Invalid API key", token=None)
        return ok(token=self._tokens.issue(user))

    def validate(self, _: dict[str, Any], claims: TokenClaims | None) -> Reply:
        assert claims is not None
        return ok(newToken=self._tokens.issue(claims.subject))

    def logout(self, _: dict[str, Any], __: TokenClaims | None) -> Reply:
        return ok()

    def ping(self, _: dict[str, Any], __: TokenClaims | None) -> Reply:
        return ok(message="pong")

    # ----------------------------------------------------------------- Account and Contract

    def account_search(self, _: dict[str, Any], __: TokenClaims | None) -> Reply:
        return ok(accounts=[a.to_api() for a in self._book.accounts.values()])

    def contract_search(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        text = body.get("searchText")
        if not isinstance(text, str):
            raise InvalidRequest("searchText is required")
        return ok(contracts=[c.to_api() for c in self._catalog.search(text)])

    def contract_search_by_id(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        contract = self._catalog.by_id(str(body.get("contractId", "")))
        if contract is None:
            return failure(GenericError.NOT_FOUND, "Contract not found", contract=None)
        return ok(contract=contract.to_api())

    def contract_available(self, _: dict[str, Any], __: TokenClaims | None) -> Reply:
        return ok(contracts=[c.to_api() for c in self._catalog])

    # ----------------------------------------------------------------- Position

    def position_search_open(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        account_id = _int(body, "accountId")
        return ok(positions=[p.to_api() for p in self._book.positions(account_id)])

    def position_close(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        account_id = _int(body, "accountId")
        contract = self._contract(body)
        if contract is None:
            return failure(ClosePositionError.CONTRACT_NOT_FOUND, "Contract not found")
        return _without_order_id(self._book.close_position(account_id, contract))

    def position_partial_close(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        account_id = _int(body, "accountId")
        size = _int(body, "size")
        contract = self._contract(body)
        if contract is None:
            return failure(ClosePositionError.CONTRACT_NOT_FOUND, "Contract not found")
        return _without_order_id(self._book.partial_close_position(account_id, contract, size))

    # ----------------------------------------------------------------- Order

    def order_search_open(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        account_id = _int(body, "accountId")
        return ok(orders=[o.to_api() for o in self._book.working_orders(account_id)])

    def order_search(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        account_id = _int(body, "accountId")
        start, end = _time_range(body, "startTimestamp", "endTimestamp")
        orders = [o for o in self._book.orders(account_id) if start <= o.created <= end]
        return ok(orders=[o.to_api() for o in orders])

    def order_search_by_id(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        account_id = _int(body, "accountId")
        order = self._book.order(_int(body, "orderId"))
        if order is None or order.account_id != account_id:
            return failure(GenericError.NOT_FOUND, "Order not found", order=None)
        return ok(order=order.to_api())

    def order_place(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        account_id = _int(body, "accountId")
        contract = self._contract(body)
        if contract is None:
            return failure(PlaceOrderError.CONTRACT_NOT_FOUND, "Contract not found", orderId=None)
        try:
            order_type = OrderType(_int(body, "type"))
            side = OrderSide(_int(body, "side"))
        except ValueError as exc:
            return failure(PlaceOrderError.ORDER_REJECTED, str(exc), orderId=None)
        result = self._book.place_order(
            account_id,
            contract,
            order_type,
            side,
            _int(body, "size"),
            limit_price=_price(body, "limitPrice"),
            stop_price=_price(body, "stopPrice"),
            trail_price=_price(body, "trailPrice"),
            custom_tag=body.get("customTag"),
            linked_order_id=_optional_int(body, "linkedOrderId"),
        )
        reply = result.to_api()
        reply.setdefault("orderId", None)
        return reply

    def order_cancel(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        result = self._book.cancel_order(_int(body, "accountId"), _int(body, "orderId"))
        return _without_order_id(result)

    def order_modify(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        result = self._book.modify_order(
            _int(body, "accountId"),
            _int(body, "orderId"),
            size=_optional_int(body, "size"),
            limit_price=_price(body, "limitPrice"),
            stop_price=_price(body, "stopPrice"),
            trail_price=_price(body, "trailPrice"),
        )
        return _without_order_id(result)

    # ----------------------------------------------------------------- Trade and History

    def trade_search(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        account_id = _int(body, "accountId")
        start, end = _time_range(body, "startTimestamp", "endTimestamp")
        contract_id = body.get("contractId")
        trades = [
            t
            for t in self._book.trades(account_id)
            if start <= t.created <= end and (not contract_id or t.contract.id == contract_id)
        ]
        past = self._history.trades([account_id], start, end, contract_id) if self._history is not None else []
        return ok(trades=past + [t.to_api() for t in trades])

    def retrieve_bars(self, body: dict[str, Any], _: TokenClaims | None) -> Reply:
        contract = self._contract(body)
        if contract is None:
            return failure(GenericError.NOT_FOUND, "Contract not found", bars=[])
        start, end = _time_range(body, "startTime", "endTime")
        limit = _optional_int(body, "limit") or MAX_BARS
        unit, unit_number = _optional_int(body, "unit") or 2, _optional_int(body, "unitNumber") or 1
        if self._history is not None and (unit, unit_number) == (2, 1) and self._history.covers(end):
            return ok(bars=self._history.bars(contract, start, end, min(limit, MAX_BARS)))  # the seeded past
        bars = self._market.bars(
            contract,
            start,
            end,
            unit=_optional_int(body, "unit") or 2,
            unit_number=_optional_int(body, "unitNumber") or 1,
            limit=limit,
            include_partial=bool(body.get("includePartialBar", False)),
        )
        return ok(bars=bars)

    def _contract(self, body: dict[str, Any]) -> Contract | None:
        value = body.get("contractId")
        return self._catalog.by_id(value) if isinstance(value, str) else None


def _without_order_id(result: ActionResult) -> Reply:
    """Cancel, modify and close replies carry no orderId at the gateway."""
    reply = result.to_api()
    reply.pop("orderId", None)
    return reply


def _account_of(body: Any) -> int | None:
    """The body's ``accountId`` as a whole number, if it has one (for per-account faults)."""
    if not isinstance(body, dict):
        return None
    value = body.get("accountId")
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else None


def _int(body: dict[str, Any], name: str) -> int:
    value = _optional_int(body, name)
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidRequest(f"{name} must be a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"{name} must be a whole number") from None


def _price(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidRequest(f"{name} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"{name} must be a number") from None


def parse_timestamp(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _time_range(body: dict[str, Any], start_name: str, end_name: str) -> tuple[datetime, datetime]:
    """``start`` is required; a missing ``end`` means now (plus a little, for clock skew)."""
    start = parse_timestamp(body.get(start_name), start_name)
    end_value = body.get(end_name)
    end = utc_now() + timedelta(seconds=1) if end_value is None else parse_timestamp(end_value, end_name)
    return start, end
