"""The gateway's ``Trade/search`` and ``History/retrieveBars`` shapes, read into the engine's terms.

A ``--trades FILE`` holds what ``Trade/search`` answers: ``{"trades": [...], "success": true, …}``,
or just the list of trades. Each trade: ``id``, ``accountId``, ``contractId``, ``creationTimestamp``
(ISO 8601), ``price``, ``profitAndLoss`` (null for an opening half-turn), ``fees``, ``side`` (0 buy,
1 sell), ``size``, ``voided``, ``orderId``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..engine.models import Side, Trade
from .core import Bar


class PayloadError(ValueError):
    """A record that is not in the gateway's shape; the message names the record and the field."""


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise PayloadError(f"{where}: timestamp must be ISO 8601 text (got {value!r})")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where}: timestamp {value!r} is not ISO 8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(item: dict[str, Any], key: str, where: str, *, optional: bool = False) -> float | None:
    value = item.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{where}: {key} must be a number (got {value!r})")
    return float(value)


def _items(payload: Any, key: str) -> list[Any]:
    if isinstance(payload, dict):
        payload = payload.get(key)
    if not isinstance(payload, list):
        raise PayloadError(f"expected a list of {key} or an object with a {key!r} list")
    return payload


def trades_from_payload(payload: Any) -> list[Trade]:
    """Engine trades from a ``Trade/search`` reply (or its list), in time order."""
    out: list[Trade] = []
    for n, item in enumerate(_items(payload, "trades")):
        where = f"trade #{n + 1}"
        if not isinstance(item, dict):
            raise PayloadError(f"{where}: must be an object")
        where = f"trade #{n + 1} (id {item.get('id')!r})"
        for key in ("id", "accountId", "size"):
            if isinstance(item.get(key), bool) or not isinstance(item.get(key), int):
                raise PayloadError(f"{where}: {key} must be a whole number (got {item.get(key)!r})")
        side = item.get("side")
        if side not in (0, 1):
            raise PayloadError(f"{where}: side must be 0 (buy) or 1 (sell) (got {side!r})")
        contract = item.get("contractId")
        if not isinstance(contract, str) or not contract:
            raise PayloadError(f"{where}: contractId must be text (got {contract!r})")
        price = _number(item, "price", where)
        fees = _number(item, "fees", where, optional=True)
        order_id = item.get("orderId")
        out.append(Trade(
            id=item["id"], account_id=item["accountId"], contract_id=contract,
            time=_time(item.get("creationTimestamp"), where), price=price or 0.0,
            pnl=_number(item, "profitAndLoss", where, optional=True), fees=fees or 0.0,
            side=Side(side), size=item["size"], voided=bool(item.get("voided", False)),
            order_id=order_id if isinstance(order_id, int) and not isinstance(order_id, bool) else None,
        ))
    out.sort(key=lambda t: (t.time, t.id))
    return out


def bars_from_payload(contract_id: str, payload: Any) -> list[Bar]:
    """Bars from a ``History/retrieveBars`` reply (``t`` the bar's start, ``o h l c``), oldest first."""
    out: list[Bar] = []
    for n, item in enumerate(_items(payload, "bars")):
        where = f"{contract_id} bar #{n + 1}"
        if not isinstance(item, dict):
            raise PayloadError(f"{where}: must be an object")
        values = [_number(item, k, where) or 0.0 for k in ("o", "h", "l", "c")]
        out.append(Bar(contract_id, _time(item.get("t"), where), *values))
    out.sort(key=lambda b: b.start)
    return out
