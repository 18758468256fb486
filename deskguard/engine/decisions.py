"""What rules decide: typed decisions, locks, and the merge where the harshest decision wins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Action(StrEnum):
    WARN = "warn"
    CANCEL_ORDERS = "cancel_orders"
    REDUCE_POSITION = "reduce_position"
    CLOSE_POSITION = "close_position"
    FLATTEN = "flatten"
    LOCK = "lock"
    PLACE_STOP = "place_stop"  # trade management (rule 012), safety net (018): no lock, not a breach
    MOVE_STOP = "move_stop"
    CANCEL_STOP = "cancel_stop"  # one stop order of the app's own (018: its position is gone)


class LockKind(StrEnum):
    COOLDOWN = "cooldown"
    UNTIL_RESET = "until_reset"
    UNTIL_SESSION = "until_session"
    UNTIL_CAN_TRADE = "until_can_trade"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Lock:
    """An account (symbol=None) or one symbol of it, locked by a rule until a moment or a condition.

    ``until`` is set for cooldown, until_reset and until_session locks; until_can_trade and permanent
    locks have none and end on a condition."""

    account_id: int
    kind: LockKind
    rule: str
    reason: str
    since: datetime
    until: datetime | None = None
    symbol: str | None = None

    @property
    def scope(self) -> str:
        return self.symbol or "account"

    def covers(self, symbol: str) -> bool:
        return self.symbol is None or self.symbol == symbol

    def is_over(self, now: datetime, can_trade: bool) -> bool:
        if self.kind == LockKind.UNTIL_CAN_TRADE:
            return can_trade
        if self.kind == LockKind.PERMANENT or self.until is None:
            return False
        return now >= self.until

    def outlasts(self, other: Lock) -> bool:
        """Whether this lock ends no earlier than ``other`` (condition locks outlast timed ones)."""
        order = {LockKind.PERMANENT: 3, LockKind.UNTIL_CAN_TRADE: 2}
        mine, theirs = order.get(self.kind, 0), order.get(other.kind, 0)
        if mine != theirs:
            return mine > theirs
        if self.until is None or other.until is None:
            return self.until is None
        return self.until >= other.until


@dataclass(frozen=True, slots=True)
class Decision:
    account_id: int
    action: Action
    rule: str  # the rule key that decided, e.g. "daily_realized_loss"
    reason: str  # plain English, shown to the trader and written to the audit log
    contract_id: str | None = None  # for close/reduce/cancel of one contract, and stops
    size: int | None = None  # reduce: the size to reduce the position DOWN TO; stops: order size
    lock: Lock | None = None  # for LOCK
    order_id: int | None = None  # MOVE_STOP / CANCEL_STOP: the stop order to modify or cancel
    stop_price: float | None = None  # PLACE_STOP / MOVE_STOP
    side: int | None = None  # PLACE_STOP: the order side (0 buy, 1 sell)

    @property
    def is_enforcement(self) -> bool:
        return self.action in ENFORCEMENT_ACTIONS


#: The actions that enforce a breach at the broker (the one definition: begun and finished in the
#: store's enforcement journal, audited as decisions, announced as enforcements).
ENFORCEMENT_ACTIONS = frozenset(
    {Action.CANCEL_ORDERS, Action.REDUCE_POSITION, Action.CLOSE_POSITION, Action.FLATTEN}
)
#: The stop-order actions of trade management (012) and the safety net (018): no breach, no lock.
STOP_ACTIONS = frozenset({Action.PLACE_STOP, Action.MOVE_STOP, Action.CANCEL_STOP})


def _opt(value: object, empty: object = 0) -> tuple[bool, object]:
    """An optional field as a sortable pair: None first, then the values in order."""
    return (value is not None, value if value is not None else empty)


def _lock_key(lock: Lock | None) -> tuple[object, ...]:
    if lock is None:
        return ()
    return (lock.account_id, lock.kind, lock.rule, lock.reason, lock.since, _opt(lock.until), _opt(lock.symbol, ""))


def _sort_key(d: Decision) -> tuple[object, ...]:
    """A total order on decisions: every field takes part, so two decisions that tie are identical
    and the merge's choices never depend on the order its input came in."""
    return (
        d.account_id, _RANK[d.action], _opt(d.contract_id, ""), d.rule, d.reason, _opt(d.size),
        _lock_key(d.lock), _opt(d.order_id), _opt(d.stop_price), _opt(d.side),
    )


_RANK = {
    Action.FLATTEN: 0,
    Action.CLOSE_POSITION: 1,
    Action.REDUCE_POSITION: 2,
    Action.CANCEL_ORDERS: 3,
    Action.LOCK: 4,
    Action.MOVE_STOP: 5,
    Action.PLACE_STOP: 6,
    Action.CANCEL_STOP: 7,
    Action.WARN: 8,
}


def merge(decisions: list[Decision]) -> list[Decision]:
    """Merge one evaluation's decisions: the harshest wins, and the result does not depend on order.

    Per account: flatten ⊃ close ⊃ reduce ⊃ cancel of the same contract; of several reductions of one
    contract the smallest target size wins; per lock scope the longest lock wins; stop changes are
    dropped when the position is being closed; duplicate warnings collapse into one."""
    by_account: dict[int, list[Decision]] = {}
    for d in decisions:
        by_account.setdefault(d.account_id, []).append(d)
    out: list[Decision] = []
    for acct in sorted(by_account):
        out.extend(_merge_account(by_account[acct]))
    return out


def _merge_account(ds: list[Decision]) -> list[Decision]:
    ds = sorted(ds, key=_sort_key)  # order independence: every tie below is broken the same way
    flatten = next((d for d in ds if d.action == Action.FLATTEN), None)
    closes: dict[str, Decision] = {}
    reduces: dict[str, Decision] = {}
    cancels: dict[str | None, Decision] = {}
    locks: dict[str, Decision] = {}
    stops: dict[tuple[str, str, int], Decision] = {}  # (contract, rule, order cancelled): 012 and 018 apart
    warns: dict[tuple[str, str], Decision] = {}
    for d in ds:
        c = d.contract_id or ""
        if d.action == Action.CLOSE_POSITION:
            closes.setdefault(c, d)
        elif d.action == Action.REDUCE_POSITION:
            best = reduces.get(c)
            if best is None or (d.size or 0) < (best.size or 0):
                reduces[c] = d
        elif d.action == Action.CANCEL_ORDERS:
            cancels.setdefault(d.contract_id, d)
        elif d.action == Action.LOCK and d.lock is not None:
            held = locks.get(d.lock.scope)
            if held is None or held.lock is None or (d.lock.outlasts(held.lock) and not held.lock.outlasts(d.lock)):
                locks[d.lock.scope] = d
        elif d.action in STOP_ACTIONS:
            stops.setdefault((c, d.rule, (d.order_id or 0) if d.action == Action.CANCEL_STOP else 0), d)
        elif d.action == Action.WARN:
            warns.setdefault((d.rule, d.contract_id or ""), d)

    out: list[Decision] = []
    if flatten is not None:
        out.append(flatten)
    else:
        out.extend(closes[c] for c in sorted(closes))
        out.extend(reduces[c] for c in sorted(reduces) if c not in closes)
        if None in cancels:
            out.append(cancels[None])
        out.extend(cancels[c] for c in sorted(k for k in cancels if k is not None) if None not in cancels)
        out.extend(stops[k] for k in sorted(stops) if k[0] not in closes)
    out.extend(locks[s] for s in sorted(locks))
    out.extend(warns[k] for k in sorted(warns))
    return out
