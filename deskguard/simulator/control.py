"""HTTP control API under ``/control`` (loopback only), mirroring ``Simulator``'s methods.

Every request must carry the run's token in ``X-Control-Token`` (else 403) and every POST a
``Content-Type: application/json`` (else 415): no other local user and no web page can drive the
simulator (see ``control_token.py``; ``SimulatorControl`` sends both).

GET  /control/state?only=positions,openOrders,…   full state (accounts, positions, orders, trades, …),
                                                  or only the sections named
GET  /control/contract?symbol=MNQ                 one contract (id, name, tickSize, …)
GET  /control/requests?endpoint=…&since=N         REST request log
GET  /control/pushes?hub=…&target=…&since=N       hub push log
GET  /control/hub-events?hub=…&kind=…&since=N     negotiate/connect/disconnect/refused/invoke log
POST /control/order          {accountId, contract, side, size?, type?, limitPrice?, stopPrice?, trailPrice?, customTag?}
POST /control/close          {accountId, contract}
POST /control/partial-close  {accountId, contract, size}
POST /control/cancel         {accountId, orderId}
POST /control/modify         {accountId, orderId, size?, limitPrice?, stopPrice?, trailPrice?}
POST /control/price          {contract, price}                       -> {price}
POST /control/walk           {paused}                               pause/resume the walk
POST /control/walk/step      {contract, steps?}                     -> {price}
POST /control/account        {accountId, canTrade?, balance?}
POST /control/payload-form   {form: "bare"|"wrapped", hub?: "user"|"market"}
POST /control/logs/clear     {}
POST /control/faults/drop-hubs      {hub?, refuseSeconds?, abrupt?}  -> {dropped}
POST /control/faults/refuse-hubs    {seconds}
POST /control/faults/fail           {endpoint, count?, status?, accountId?}
POST /control/faults/refuse-closes  {accountId, refuse?, errorCode?}  that account's closes answer success false
POST /control/request-budget        {enabled?, limit?, windowSeconds?, historyLimit?, historyWindowSeconds?}
                                    -> {requestBudget: the budget in force, or null}
POST /control/faults/delay          {endpoint, count?, seconds?}
POST /control/faults/malformed      {hub, kind}                      -> {sent}
POST /control/faults/replay         {count?, target?, reverse?, extraFields?} -> {sent}
POST /control/faults/silence        {hub, silent?}
POST /control/faults/token-lifetime {seconds}
POST /control/faults/expire-tokens  {}
POST /control/faults/clear          {}

Trading calls answer the gateway's shape ``{success, errorCode, errorMessage, orderId?}``. Sides
and order types may be given as numbers or names ("buy", "sell"; "market", "limit", "stop",
"stop_limit", "trailing_stop"). Bad input answers 400 ``{"error": …}``; a missing or wrong
token 403, a POST that is not ``application/json`` 415.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from deskguard.simulator import control_token
from deskguard.simulator.budget import GATEWAY_REQUEST_BUDGET, RequestBudget
from deskguard.simulator.enums import OrderSide, OrderType
from deskguard.simulator.recorder import as_dicts

if TYPE_CHECKING:
    from deskguard.simulator.server import Simulator

Body = dict[str, Any]


class BadControlRequest(Exception):
    pass


class ControlApi:
    def __init__(self, simulator: Simulator) -> None:
        self._sim = simulator

    def add_routes(self, app: web.Application) -> None:
        gets: dict[str, Callable[[web.Request], Any]] = {
            "state": lambda r: self._sim.state(r.query["only"].split(",") if r.query.get("only") else None),
            "contract": self._contract,
            "requests": lambda r: as_dicts(self._sim.requests(r.query.get("endpoint"), _since(r))),
            "pushes": lambda r: as_dicts(self._sim.pushes(r.query.get("hub"), r.query.get("target"), _since(r))),
            "hub-events": lambda r: as_dicts(self._sim.hub_events(r.query.get("hub"), r.query.get("kind"), _since(r))),
        }
        posts: dict[str, Callable[[Body], Any]] = {
            "order": self._order,
            "close": lambda b: self._sim.close_position(_int(b, "accountId"), _str(b, "contract")).to_api(),
            "partial-close": lambda b: self._sim.partial_close_position(
                _int(b, "accountId"), _str(b, "contract"), _int(b, "size")
            ).to_api(),
            "cancel": lambda b: self._sim.cancel_order(_int(b, "accountId"), _int(b, "orderId")).to_api(),
            "modify": self._modify,
            "price": lambda b: {"price": self._sim.set_price(_str(b, "contract"), _float(b, "price"))},
            "walk": self._walk,
            "walk/step": lambda b: {"price": self._sim.step_walk(_str(b, "contract"), int(b.get("steps", 1)))},
            "account": self._account,
            "payload-form": self._payload_form,
            "logs/clear": lambda b: self._sim.clear_logs(),
            "faults/drop-hubs": lambda b: {
                "dropped": self._sim.drop_hub_connections(
                    b.get("hub"), refuse_s=float(b.get("refuseSeconds", 0.0)), abrupt=bool(b.get("abrupt", False))
                )
            },
            "faults/refuse-hubs": lambda b: self._sim.refuse_hub_connections(_float(b, "seconds")),
            "faults/fail": lambda b: self._sim.fail_next(
                _str(b, "endpoint"), int(b.get("count", 1)), int(b.get("status", 500)),
                _int(b, "accountId") if b.get("accountId") is not None else None,
            ),
            "faults/refuse-closes": lambda b: self._sim.refuse_closes(
                _int(b, "accountId"), bool(b.get("refuse", True)),
                _int(b, "errorCode") if b.get("errorCode") is not None else None,
            ),
            "request-budget": self._request_budget,
            "faults/delay": lambda b: self._sim.delay_next(
                _str(b, "endpoint"), int(b.get("count", 1)), float(b.get("seconds", 1.0))
            ),
            "faults/malformed": lambda b: {"sent": self._sim.send_malformed(_str(b, "hub"), _str(b, "kind"))},
            "faults/replay": lambda b: {
                "sent": self._sim.replay_user_pushes(
                    int(b.get("count", 1)), target=b.get("target") or None, reverse=bool(b.get("reverse", False)),
                    extra_fields=bool(b.get("extraFields", False)),
                )
            },
            "faults/silence": lambda b: self._sim.set_hub_silent(_str(b, "hub"), bool(b.get("silent", True))),
            "faults/token-lifetime": lambda b: self._sim.set_token_lifetime(_float(b, "seconds")),
            "faults/expire-tokens": lambda b: self._sim.expire_tokens(),
            "faults/clear": lambda b: self._sim.clear_faults(),
        }
        for name, get_action in gets.items():
            app.router.add_get(f"/control/{name}", self._wrap_get(get_action))
        for name, post_action in posts.items():
            app.router.add_post(f"/control/{name}", self._wrap_post(post_action))

    # ----------------------------------------------------------------- plumbing

    def _refusal(self, request: web.Request) -> web.Response | None:
        """403 without this run's token, 415 for a POST whose body is not declared JSON."""
        if not control_token.matches(self._sim.control_token, request.headers.get(control_token.HEADER)):
            return web.json_response({"error": f"Missing or wrong {control_token.HEADER}"}, status=403)
        if request.method == "POST" and request.content_type != "application/json":
            return web.json_response({"error": "The body must be sent as application/json"}, status=415)
        return None

    def _wrap_get(self, action: Callable[[web.Request], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            refused = self._refusal(request)
            if refused is not None:
                return refused
            try:
                return web.json_response(action(request))
            except (BadControlRequest, KeyError, ValueError) as exc:
                return web.json_response({"error": _describe(exc)}, status=400)

        return handler

    def _wrap_post(self, action: Callable[[Body], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            refused = self._refusal(request)
            if refused is not None:
                return refused
            try:
                raw = await request.text()
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise BadControlRequest("The body must be a JSON object")
                result = action(body)
                return web.json_response({"ok": True} if result is None else result)
            except (BadControlRequest, KeyError, ValueError, TypeError) as exc:
                return web.json_response({"error": _describe(exc)}, status=400)

        return handler

    # ----------------------------------------------------------------- actions

    def _contract(self, request: web.Request) -> Any:
        return self._sim.contract(request.query.get("symbol", "")).to_api()

    def _order(self, body: Body) -> Any:
        return self._sim.place_order(
            _int(body, "accountId"),
            _str(body, "contract"),
            OrderSide.parse(body.get("side")),  # type: ignore[arg-type]  # parse refuses a missing side itself
            _int(body, "size") if "size" in body else 1,
            OrderType.parse(body.get("type", OrderType.MARKET)),
            limit_price=_optional_float(body, "limitPrice"),
            stop_price=_optional_float(body, "stopPrice"),
            trail_price=_optional_float(body, "trailPrice"),
            custom_tag=body.get("customTag"),
        ).to_api()

    def _modify(self, body: Body) -> Any:
        return self._sim.modify_order(
            _int(body, "accountId"),
            _int(body, "orderId"),
            size=_int(body, "size") if body.get("size") is not None else None,
            limit_price=_optional_float(body, "limitPrice"),
            stop_price=_optional_float(body, "stopPrice"),
            trail_price=_optional_float(body, "trailPrice"),
        ).to_api()

    def _walk(self, body: Body) -> Any:
        if bool(body.get("paused", True)):
            self._sim.pause_walk()
        else:
            self._sim.resume_walk()
        return {"paused": self._sim.walk_paused}

    def _account(self, body: Body) -> Any:
        balance = body.get("balance")
        can_trade = body.get("canTrade")
        self._sim.set_account(
            _int(body, "accountId"),
            can_trade=None if can_trade is None else bool(can_trade),
            balance=None if balance is None else float(balance),
        )
        return self._sim.book.accounts[_int(body, "accountId")].to_api()

    def _request_budget(self, body: Body) -> Any:
        """Off with ``enabled: false``; otherwise the given fields over the budget in force (or
        over the gateway's documented one when none is)."""
        if not bool(body.get("enabled", True)):
            self._sim.set_request_budget(None)
            return {"requestBudget": None}
        base = self._sim.limiter.budget or GATEWAY_REQUEST_BUDGET
        budget = RequestBudget(
            limit=_int(body, "limit") if body.get("limit") is not None else base.limit,
            window_s=_float(body, "windowSeconds") if body.get("windowSeconds") is not None else base.window_s,
            history_limit=_int(body, "historyLimit") if body.get("historyLimit") is not None else base.history_limit,
            history_window_s=(
                _float(body, "historyWindowSeconds") if body.get("historyWindowSeconds") is not None
                else base.history_window_s
            ),
        )
        self._sim.set_request_budget(budget)
        return {"requestBudget": budget.to_api()}

    def _payload_form(self, body: Body) -> Any:
        self._sim.set_payload_form(_str(body, "form"), body.get("hub"))
        return {h.value: f.value for h, f in self._sim.hubs.payload_forms.items()}


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return f"Not found: {exc.args[0]}"
    return str(exc) or type(exc).__name__


def _since(request: web.Request) -> int:
    try:
        return int(request.query.get("since", "0"))
    except ValueError:
        raise BadControlRequest("since must be a whole number") from None


def _str(body: Body, name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise BadControlRequest(f"{name} is required")
    return str(value)


def _int(body: Body, name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or value is None:
        raise BadControlRequest(f"{name} must be a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadControlRequest(f"{name} must be a whole number") from None


def _float(body: Body, name: str) -> float:
    value = _optional_float(body, name)
    if value is None:
        raise BadControlRequest(f"{name} is required")
    return value


def _optional_float(body: Body, name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadControlRequest(f"{name} must be a number") from None
