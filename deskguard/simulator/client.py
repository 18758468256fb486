"""``SimulatorControl``: a small synchronous client of the ``/control`` API for other processes
(headless tests, the demo's practice ticket). Blocking (urllib): from async code, run it in a
thread (``await asyncio.to_thread(control.set_price, "MNQ", 21000.0)``).

Every request carries the simulator's control token (``X-Control-Token``): the one given, else
the one a simulator in this process registered for ``base_url``, else the one this user's
simulator on that port published (``control_token.py``), looked up again on each request so a
restarted simulator is found.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from deskguard.simulator import control_token


class SimulatorControlError(RuntimeError):
    """The control API refused a request (bad input, unknown contract or account)."""


class SimulatorControl:
    def __init__(self, base_url: str, timeout_s: float = 5.0, *, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.token = token
        # The simulator is on loopback: never route control calls through an HTTP proxy.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # ----------------------------------------------------------------- reading

    def state(self, only: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
        """The simulator's state; ``only`` some sections (``("positions", "openOrders")``)."""
        return self._get("state", only=",".join(only) if only else None)

    def contract(self, symbol: str) -> dict[str, Any]:
        return self._get("contract", symbol=symbol)

    def requests(self, endpoint: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return self._get("requests", endpoint=endpoint, since=since)

    def pushes(self, hub: str | None = None, target: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return self._get("pushes", hub=hub, target=target, since=since)

    def hub_events(self, hub: str | None = None, kind: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return self._get("hub-events", hub=hub, kind=kind, since=since)

    # ----------------------------------------------------------------- trading as the trader

    def place_order(
        self,
        account_id: int,
        contract: str,
        side: int | str,
        size: int = 1,
        order_type: int | str = "market",
        *,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_price: float | None = None,
        custom_tag: str | None = None,
    ) -> dict[str, Any]:
        return self._post(
            "order",
            accountId=account_id,
            contract=contract,
            side=side,
            size=size,
            type=order_type,
            limitPrice=limit_price,
            stopPrice=stop_price,
            trailPrice=trail_price,
            customTag=custom_tag,
        )

    def close_position(self, account_id: int, contract: str) -> dict[str, Any]:
        return self._post("close", accountId=account_id, contract=contract)

    def partial_close_position(self, account_id: int, contract: str, size: int) -> dict[str, Any]:
        return self._post("partial-close", accountId=account_id, contract=contract, size=size)

    def cancel_order(self, account_id: int, order_id: int) -> dict[str, Any]:
        return self._post("cancel", accountId=account_id, orderId=order_id)

    def modify_order(
        self,
        account_id: int,
        order_id: int,
        *,
        size: int | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_price: float | None = None,
    ) -> dict[str, Any]:
        return self._post(
            "modify",
            accountId=account_id,
            orderId=order_id,
            size=size,
            limitPrice=limit_price,
            stopPrice=stop_price,
            trailPrice=trail_price,
        )

    def set_account(
        self, account_id: int, *, can_trade: bool | None = None, balance: float | None = None
    ) -> dict[str, Any]:
        return self._post("account", accountId=account_id, canTrade=can_trade, balance=balance)

    # ----------------------------------------------------------------- market

    def set_price(self, contract: str, price: float) -> float:
        return float(self._post("price", contract=contract, price=price)["price"])

    def step_walk(self, contract: str, steps: int = 1) -> float:
        return float(self._post("walk/step", contract=contract, steps=steps)["price"])

    def pause_walk(self) -> None:
        self._post("walk", paused=True)

    def resume_walk(self) -> None:
        self._post("walk", paused=False)

    def set_payload_form(self, form: str, hub: str | None = None) -> None:
        self._post("payload-form", form=form, hub=hub)

    def clear_logs(self) -> None:
        self._post("logs/clear")

    # ----------------------------------------------------------------- faults

    def drop_hub_connections(self, hub: str | None = None, *, refuse_s: float = 0.0, abrupt: bool = False) -> int:
        return int(self._post("faults/drop-hubs", hub=hub, refuseSeconds=refuse_s, abrupt=abrupt)["dropped"])

    def refuse_hub_connections(self, seconds: float) -> None:
        self._post("faults/refuse-hubs", seconds=seconds)

    def fail_next(self, endpoint: str, count: int = 1, status: int = 500, account_id: int | None = None) -> None:
        self._post("faults/fail", endpoint=endpoint, count=count, status=status, accountId=account_id)

    def refuse_closes(self, account_id: int, refuse: bool = True, error_code: int | None = None) -> None:
        """That account's closes (full and partial) answer ``success: false`` until switched off."""
        self._post("faults/refuse-closes", accountId=account_id, refuse=refuse, errorCode=error_code)

    def set_request_budget(
        self,
        limit: int | None = None,
        window_s: float | None = None,
        *,
        history_limit: int | None = None,
        history_window_s: float | None = None,
        enabled: bool = True,
    ) -> dict[str, Any] | None:
        """Change the gateway's per-user request budget (fields not given keep their value);
        ``enabled=False`` switches it off. Returns the budget in force (None: no limit)."""
        reply = self._post(
            "request-budget",
            enabled=enabled,
            limit=limit,
            windowSeconds=window_s,
            historyLimit=history_limit,
            historyWindowSeconds=history_window_s,
        )
        budget: dict[str, Any] | None = reply["requestBudget"]
        return budget

    def delay_next(self, endpoint: str, count: int = 1, seconds: float = 1.0) -> None:
        self._post("faults/delay", endpoint=endpoint, count=count, seconds=seconds)

    def send_malformed(self, hub: str, kind: str) -> int:
        return int(self._post("faults/malformed", hub=hub, kind=kind)["sent"])

    def replay_user_pushes(
        self, count: int = 1, *, target: str | None = None, reverse: bool = False, extra_fields: bool = False
    ) -> int:
        return int(
            self._post("faults/replay", count=count, target=target, reverse=reverse, extraFields=extra_fields)["sent"]
        )

    def set_hub_silent(self, hub: str, silent: bool = True) -> None:
        self._post("faults/silence", hub=hub, silent=silent)

    def set_token_lifetime(self, seconds: float) -> None:
        self._post("faults/token-lifetime", seconds=seconds)

    def expire_tokens(self) -> None:
        self._post("faults/expire-tokens")

    def clear_faults(self) -> None:
        self._post("faults/clear")

    # ----------------------------------------------------------------- HTTP

    def _get(self, path: str, **query: Any) -> Any:
        params = {k: str(v) for k, v in query.items() if v is not None}
        url = f"{self.base_url}/control/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return self._send(urllib.request.Request(url, method="GET", headers=self._auth()))

    def _post(self, path: str, **body: Any) -> Any:
        data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/control/{path}",
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", **self._auth()},
        )
        return self._send(request)

    def _auth(self) -> dict[str, str]:
        token = self.token or control_token.find(self.base_url)
        return {control_token.HEADER: token} if token else {}

    def _send(self, request: urllib.request.Request) -> Any:
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", str(exc))
            except ValueError:
                message = str(exc)
            raise SimulatorControlError(message) from None
