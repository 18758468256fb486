"""Gateway payloads -> engine models, tolerantly; and the de-duplication of hub events.

Every parser takes one payload dict (already copied and unwrapped) and either returns an engine
model or raises ``PayloadError`` with a short reason. Unknown extra fields are ignored; a missing
or malformed required field is an error; a malformed optional field falls back to its default.
Nothing here raises anything but ``PayloadError``, so a caller can skip a bad payload with one
``except``.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..engine.models import (
    WORKING_STATUSES,
    Account,
    ContractSpec,
    Order,
    OrderStatus,
    OrderType,
    Position,
    PositionType,
    Quote,
    Side,
    Trade,
)


class PayloadError(ValueError):
    """A payload the adapter cannot turn into an engine model (skipped with a warning)."""


_MISSING = object()


class SkipLog:
    """Warnings about skipped payloads (and 429s), rate-limited: the first few of each kind, then
    every 100th, so a gateway that sends garbage all day cannot flood the log."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._counts: dict[str, int] = {}

    def warn(self, key: str, message: str, *args: Any) -> None:
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        if n <= 5 or n % 100 == 0:
            suffix = f" ({n} so far)" if n > 1 else ""
            self._log.warning(message + suffix, *args)


# ----------------------------------------------------------------------------- unwrapping


def unwrap(raw: Any, copy: bool = True) -> list[dict[str, Any]]:
    """The payload dicts inside one hub argument, each a fresh (deep enough) copy, or with
    ``copy=False`` the dicts themselves (for a caller that parses them before it returns: the hub
    stream, inside the SDK's callback, where copying cost ~7 µs a payload).

    Handles a bare payload ``{...}``, a wrapped one ``{"action": 1, "data": {...}}``, and lists of
    either (a batch). Anything else yields nothing."""
    out: list[dict[str, Any]] = []
    _unwrap_into(raw, out, 0, copy)
    return out


def _unwrap_into(raw: Any, out: list[dict[str, Any]], depth: int, copy: bool) -> None:
    if depth > 3:
        return
    if isinstance(raw, list | tuple):
        for item in raw:
            _unwrap_into(item, out, depth + 1, copy)
        return
    if not isinstance(raw, Mapping):
        return
    data = raw.get("data", _MISSING)
    if data is not _MISSING and ("action" in raw or set(raw) <= {"action", "data"}):
        _unwrap_into(data, out, depth + 1, copy)
        return
    out.append(_copy(raw) if copy else raw)  # type: ignore[arg-type]


def _copy(value: Any) -> Any:
    """A copy of JSON-like data: the SDK shares (and mutates) the dicts it hands to callbacks."""
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


# ----------------------------------------------------------------------------- field readers


def _get(d: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in d and d[name] is not None:
            return d[name]
    return None


def req_int(d: Mapping[str, Any], *names: str) -> int:
    value = _get(d, *names)
    if value is None:
        raise PayloadError(f"{names[0]} is missing")
    parsed = _as_int(value)
    if parsed is None:
        raise PayloadError(f"{names[0]} is not a whole number: {value!r:.40}")
    return parsed


def opt_int(d: Mapping[str, Any], *names: str) -> int | None:
    value = _get(d, *names)
    return None if value is None else _as_int(value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def req_float(d: Mapping[str, Any], *names: str) -> float:
    value = _get(d, *names)
    if value is None:
        raise PayloadError(f"{names[0]} is missing")
    parsed = _as_float(value)
    if parsed is None:
        raise PayloadError(f"{names[0]} is not a number: {value!r:.40}")
    return parsed


def opt_float(d: Mapping[str, Any], *names: str) -> float | None:
    value = _get(d, *names)
    return None if value is None else _as_float(value)


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def req_str(d: Mapping[str, Any], *names: str) -> str:
    value = _get(d, *names)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{names[0]} is missing")
    return value.strip()


def opt_bool(d: Mapping[str, Any], name: str, default: bool) -> bool:
    value = d.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return default


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string (naive means UTC) or epoch seconds/ms."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _in_utc(value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        seconds = value / 1000.0 if value > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # .NET writes 7 fractional digits; Python takes at most 6.
        dot = text.find(".")
        if dot != -1:
            end = dot + 1
            while end < len(text) and text[end].isdigit():
                end += 1
            if end - dot - 1 > 6:
                text = text[: dot + 7] + text[end:]
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return _in_utc(parsed)
    return None


def _in_utc(value: datetime) -> datetime | None:
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before the first representable UTC moment
        return None


def req_time(d: Mapping[str, Any], *names: str) -> datetime:
    value = _get(d, *names)
    parsed = parse_time(value)
    if parsed is None:
        raise PayloadError(f"{names[0]} is missing or not a timestamp")
    return parsed


def opt_time(d: Mapping[str, Any], *names: str) -> datetime | None:
    return parse_time(_get(d, *names))


def _enum(kind: Any, value: int, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise PayloadError(f"{field} {value} is not a known {kind.__name__}") from None


# ----------------------------------------------------------------------------- models


def parse_account(d: Mapping[str, Any]) -> Account:
    return Account(
        id=req_int(d, "id", "accountId"),
        name=str(d.get("name") or ""),
        balance=req_float(d, "balance"),
        can_trade=opt_bool(d, "canTrade", True),
        simulated=opt_bool(d, "simulated", False),
    )


def parse_position(d: Mapping[str, Any], previous_type: PositionType | None = None) -> Position:
    """A position; ``size`` 0 means closed (its type may then be 0/undefined: ``previous_type``
    or LONG stands in)."""
    size = req_int(d, "size")
    if size < 0:
        raise PayloadError(f"size {size} is negative")
    raw_type = opt_int(d, "type")
    if raw_type in (PositionType.LONG, PositionType.SHORT):
        ptype = PositionType(raw_type)
    elif size == 0:
        ptype = previous_type or PositionType.LONG
    else:
        raise PayloadError(f"type {d.get('type')!r:.20} is not long (1) or short (2)")
    avg = opt_float(d, "averagePrice")
    if avg is None and size > 0:
        raise PayloadError("averagePrice is missing")
    return Position(
        account_id=req_int(d, "accountId"),
        contract_id=req_str(d, "contractId"),
        type=ptype,
        size=size,
        average_price=avg or 0.0,
        opened_at=opt_time(d, "creationTimestamp"),
        id=opt_int(d, "id"),
    )


# Statuses the gateway has beyond the engine's enum: 7 PendingCancellation (still working until the
# cancel completes), 8 Suspended (treated as pending).
_EXTRA_STATUS = {7: OrderStatus.OPEN, 8: OrderStatus.PENDING}


def parse_order(d: Mapping[str, Any]) -> Order:
    status_value = req_int(d, "status")
    status = _EXTRA_STATUS.get(status_value) or _enum(OrderStatus, status_value, "status")
    return Order(
        id=req_int(d, "id", "orderId"),
        account_id=req_int(d, "accountId"),
        contract_id=req_str(d, "contractId"),
        status=status,
        type=_enum(OrderType, req_int(d, "type"), "type"),
        side=_enum(Side, req_int(d, "side"), "side"),
        size=req_int(d, "size"),
        limit_price=opt_float(d, "limitPrice"),
        stop_price=opt_float(d, "stopPrice"),
        created_at=opt_time(d, "creationTimestamp"),
        updated_at=opt_time(d, "updateTimestamp"),
        tag=d.get("customTag") if isinstance(d.get("customTag"), str) else None,
    )


def parse_trade(d: Mapping[str, Any]) -> Trade:
    pnl_raw = d.get("profitAndLoss")
    pnl = None if pnl_raw is None else _as_float(pnl_raw)
    if pnl_raw is not None and pnl is None:
        raise PayloadError(f"profitAndLoss is not a number: {pnl_raw!r:.40}")
    size = req_int(d, "size")
    if size <= 0:
        raise PayloadError(f"size {size} is not positive")
    return Trade(
        id=req_int(d, "id"),
        account_id=req_int(d, "accountId"),
        contract_id=req_str(d, "contractId"),
        time=req_time(d, "creationTimestamp"),
        price=req_float(d, "price"),
        pnl=pnl,
        fees=opt_float(d, "fees") or 0.0,
        side=_enum(Side, req_int(d, "side"), "side"),
        size=size,
        voided=opt_bool(d, "voided", False),
        order_id=opt_int(d, "orderId"),
    )


def parse_quote(contract_id: str, d: Mapping[str, Any], previous: Quote | None, now: datetime) -> Quote:
    """A quote; a field that is absent keeps its previous value (partial updates)."""

    def field(names: tuple[str, ...], old: float | None) -> float | None:
        if not any(n in d for n in names):
            return old
        return opt_float(d, *names)

    last = field(("lastPrice", "last"), previous.last if previous else None)
    bid = field(("bestBid", "bid"), previous.bid if previous else None)
    ask = field(("bestAsk", "ask"), previous.ask if previous else None)
    if last is None and bid is None and ask is None:
        raise PayloadError("no lastPrice, bestBid or bestAsk")
    when = opt_time(d, "timestamp", "lastUpdated") or now
    return Quote(contract_id=contract_id, time=when, last=last, bid=bid, ask=ask)


def parse_contract(d: Mapping[str, Any]) -> tuple[ContractSpec, str | None]:
    """A ContractSpec and the contract's symbolId (``F.US.MNQ``), if given."""
    tick_size = req_float(d, "tickSize")
    tick_value = req_float(d, "tickValue")
    if tick_size <= 0 or tick_value <= 0:
        raise PayloadError("tickSize and tickValue must be positive")
    spec = ContractSpec(
        contract_id=req_str(d, "id", "contractId"),
        tick_size=tick_size,
        tick_value=tick_value,
        name=str(d.get("name") or ""),
    )
    symbol_id = d.get("symbolId")
    return spec, symbol_id if isinstance(symbol_id, str) and symbol_id else None


# ----------------------------------------------------------------------------- de-duplication


def position_key(p: Position) -> tuple[int, str]:
    return (p.account_id, p.contract_id)


def position_fingerprint(p: Position) -> tuple[Any, ...]:
    return (p.type if p.size else 0, p.size, p.average_price if p.size else 0.0, p.id if p.size else None)


def order_fingerprint(o: Order) -> tuple[Any, ...]:
    return (o.status, o.type, o.side, o.size, o.limit_price, o.stop_price, o.updated_at)


def account_fingerprint(a: Account) -> tuple[Any, ...]:
    return (a.name, a.balance, a.can_trade, a.simulated)


class Deduplicator:
    """Drops hub events that repeat the last state seen for the same entity.

    Positions, orders and accounts are compared with the *latest* state known for the entity
    (so a size that goes 1 -> 2 -> 1 is three events), trades by id; an order update older than
    the latest one known (by its update time) is stale and dropped. A ``Resync`` sets the
    baseline, so an event repeating what the resync already said is dropped too."""

    def __init__(self, max_trades: int = 200_000) -> None:
        self._positions: dict[tuple[int, str], tuple[Any, ...]] = {}
        self._position_types: dict[tuple[int, str], PositionType] = {}
        self._orders: dict[int, tuple[Any, ...]] = {}
        self._order_accounts: dict[int, int] = {}
        self._accounts: dict[int, tuple[Any, ...]] = {}
        self._trades: OrderedDict[int, bool] = OrderedDict()  # trade id -> voided
        self._max_trades = max_trades

    def previous_position_type(self, account_id: int, contract_id: str) -> PositionType | None:
        return self._position_types.get((account_id, contract_id))

    def position_is_new(self, p: Position) -> bool:
        key = position_key(p)
        fp = position_fingerprint(p)
        if self._positions.get(key) == fp:
            return False
        self._positions[key] = fp
        if p.size:
            self._position_types[key] = p.type
        return True

    def order_is_new(self, o: Order) -> bool:
        fp = order_fingerprint(o)
        known = self._orders.get(o.id)
        if known == fp:
            return False
        if known is not None and known[-1] is not None and (o.updated_at is None or o.updated_at < known[-1]):
            # An older update arriving after a newer one (out of order): stale. A null
            # updateTimestamp is the order as created, older than any update of it.
            return False
        self._orders[o.id] = fp
        self._order_accounts[o.id] = o.account_id
        return True

    def account_is_new(self, a: Account) -> bool:
        fp = account_fingerprint(a)
        if self._accounts.get(a.id) == fp:
            return False
        self._accounts[a.id] = fp
        return True

    def trade_is_new(self, t: Trade) -> bool:
        """New by id; a known trade that turns voided is news too."""
        if self._trades.get(t.id) == t.voided:
            return False
        self._remember_trade(t.id, t.voided)
        return True

    def _remember_trade(self, trade_id: int, voided: bool) -> None:
        self._trades[trade_id] = voided
        while len(self._trades) > self._max_trades:
            self._trades.popitem(last=False)

    def baseline(
        self,
        account: Account,
        positions: Iterable[Position],
        orders: Iterable[Order],
        trades: Iterable[Trade],
    ) -> None:
        """What a Resync said is now the known state of the account."""
        self._accounts[account.id] = account_fingerprint(account)
        open_keys = set()
        for p in positions:
            key = position_key(p)
            open_keys.add(key)
            self._positions[key] = position_fingerprint(p)
            if p.size:
                self._position_types[key] = p.type
        # Positions not in the snapshot are flat.
        for key in [k for k in self._positions if k[0] == account.id and k not in open_keys]:
            self._positions[key] = (0, 0, 0.0, None)
        # Working orders not in the snapshot are no longer working.
        snapshot = {o.id: o for o in orders}
        for order_id in self.known_working_orders(account.id) - set(snapshot):
            self._orders.pop(order_id, None)
            self._order_accounts.pop(order_id, None)
        for o in snapshot.values():
            self._orders[o.id] = order_fingerprint(o)
            self._order_accounts[o.id] = o.account_id
        for t in trades:
            self._remember_trade(t.id, t.voided)

    def known_open_positions(self, account_id: int) -> dict[str, tuple[Any, ...]]:
        """contract id -> fingerprint of every position last known open on the account."""
        return {k[1]: fp for k, fp in self._positions.items() if k[0] == account_id and fp[1]}

    def known_working_orders(self, account_id: int) -> set[int]:
        """Ids of the orders last known working on the account."""
        return {
            order_id
            for order_id, fp in self._orders.items()
            if self._order_accounts.get(order_id) == account_id and fp[0] in WORKING_STATUSES
        }
