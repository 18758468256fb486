"""018 safety_net — stops at the gateway that guard while the app cannot.

The budget is what is left of the day's loss limit (003: ``max_loss`` + the day's realized net P&L;
open P&L does not count) and, with 014 on, the distance from the balance to its floor plus buffer;
the smaller. It is shared among the open positions in proportion to their dollars per point
(size × point value), so every position's stop sits the same price distance from its entry:
``(budget − closing fees) / Σ(size × point value)``. The closing fills' fees are set aside because
the gateway charges them and realized P&L counts them: each contract's fee is taken from today's
last fill on it (none seen, none set aside). If every stop filled at its price the day would end
at the budget, fees included. Stops are rounded to the tick toward the entry, kept at least ``min_ticks`` from the
last price, and only ever tightened. The stops are the app's own (tagged at the gateway): 012 never
moves them and 008 does not count them as the trader's stop.

When one of its stops fills, the gateway pushes the order's fill before the position's update; the
position still looks open (and unprotected) in between. No stop is placed for it until its update
arrives or ``FILL_SETTLE`` passes (whichever first): a stop placed then would be cancelled at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from ..decisions import Action, Decision
from ..events import OrderUpdated, PositionUpdated
from ..instruments import symbol_of
from ..models import Order, OrderStatus, Position, PositionType, Side
from ..schema import Looser, Unit, param
from ..state import AccountState
from .base import Context, Figure, Rule, Trigger, enabled_param
from .daily_realized_loss import DailyRealizedLoss
from .trailing_drawdown import TrailingDrawdown

NO_BUDGET = ("no budget: turn on 003 daily_realized_loss or 014 trailing_drawdown — "
             "the safety net places no stops without one")
# After one of its stops filled: wait this long for the position's update. Well inside rules.md's
# "refreshed within 2 s of a position, fill or budget change", heartbeat and request included.
FILL_SETTLE = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    cover: Literal["daily_loss"] = param(
        "daily_loss", help="The budget the stops protect: what is left of the daily loss limit (003) "
                           "and, with 014 on, of the trailing drawdown; the smaller.",
        choices=("daily_loss",),
    )
    min_ticks: int = param(4, help="Never place a stop closer than this to the last price.",
                           unit=Unit.TICKS, ge=1, looser=Looser.HIGHER)


@dataclass(frozen=True, slots=True)
class Budget:
    """What the stops may lose between them, or why there is none (``amount`` None)."""

    amount: float | None
    text: str


class SafetyNet(Rule[Params]):
    key = "safety_net"
    number = "018"
    title = "Safety net at the gateway"
    summary = "Keeps a stop at the gateway on every position, sized to what is left of the loss budget."
    # An alias (not a `type` statement, whose value is no class): __init__ names it in its signature.
    Params: TypeAlias = Params  # noqa: UP040
    triggers = (Trigger.POSITION | Trigger.ORDER | Trigger.TRADE | Trigger.ACCOUNT | Trigger.QUOTE | Trigger.TICK
                | Trigger.RESYNC)

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self._loss: DailyRealizedLoss | None = None
        self._drawdown: TrailingDrawdown | None = None

    def bind(self, rules: list[Rule[Any]]) -> None:
        self._loss = next((r for r in rules if isinstance(r, DailyRealizedLoss)), None)
        self._drawdown = next((r for r in rules if isinstance(r, TrailingDrawdown)), None)

    # ----- the arithmetic ------------------------------------------------------------------------

    def budget(self, state: AccountState) -> Budget:
        """The smaller of 003's and 014's room; open P&L not counted (rules.md 018)."""
        if self._loss is None and self._drawdown is None:
            return Budget(None, NO_BUDGET)
        rooms: list[tuple[float, str]] = []
        if self._loss is not None:
            left = self._loss.params.max_loss + state.realized_day
            rooms.append((left, f"{left:,.2f} left of the daily loss limit {self._loss.params.max_loss:,.2f}"))
        if self._drawdown is not None:
            hwm = self._drawdown.mark(state)
            if hwm is not None and state.balance is not None:
                stop_at = self._drawdown.floor(hwm) + self._drawdown.params.buffer
                left = state.balance - stop_at
                rooms.append((left, f"{left:,.2f} above the trailing floor plus buffer {stop_at:,.2f}"))
            elif self._loss is None:
                return Budget(None, "waiting for the account's balance (014 trailing_drawdown)")
        amount, text = min(rooms, key=lambda r: r[0])
        return Budget(round(amount, 2), f"budget {text}")

    def stop_price(self, ctx: Context, pos: Position, budget: float) -> float | None:
        """Where this position's share of the budget is used up, rounded to the tick toward the
        entry, and no closer than ``min_ticks`` to the last price; None without tick data.

        A stale price still places the net; with no quote yet the entry stands in for the last price
        (the net is not held back for a quiet market: a stop the gateway finds through the market is
        refused, and asked again with the first quote)."""
        tick = ctx.pricing.tick(pos.contract_id)
        price, _stale = ctx.pricing.price(pos.contract_id, ctx.now)
        if price is None:
            price = pos.average_price
        if tick is None:
            return None
        weight = _dollars_per_point(ctx, ctx.state.positions.values())
        if weight <= 0:
            return None
        room = budget - (_closing_fees(ctx.state) if ctx.include_fees else 0.0)
        distance = max(0.0, room) / weight  # the same price distance for every position (module doc)
        size = tick[0]
        if pos.type == PositionType.LONG:
            at = _to_tick(pos.average_price - distance, size, math.ceil)
            return min(at, _to_tick(price - self.params.min_ticks * size, size, math.floor))
        at = _to_tick(pos.average_price + distance, size, math.floor)
        return max(at, _to_tick(price + self.params.min_ticks * size, size, math.ceil))

    # ----- the rule --------------------------------------------------------------------------------

    def evaluate(self, ctx: Context) -> list[Decision]:
        state = ctx.state
        asked = state.safety_net
        filled = state.safety_net_filled
        for contract in [c for c in asked if c not in state.positions]:
            del asked[contract]
        for contract in [c for c, until in filled.items() if c not in state.positions or ctx.now >= until]:
            del filled[contract]
        event = ctx.event
        if ctx.trigger is Trigger.RESYNC:
            asked.clear()  # the broker's fresh word shows what is really working
            filled.clear()
            state.safety_net_ids &= set(state.orders)
        elif isinstance(event, OrderUpdated) and state.is_safety_net(event.order) and not event.order.is_working:
            contract = event.order.contract_id
            asked.pop(contract, None)  # cancelled (the web screen), rejected or filled
            state.safety_net_ids.discard(event.order.id)
            if event.order.status is OrderStatus.FILLED and contract in state.positions:
                filled[contract] = ctx.now + FILL_SETTLE  # its position's update is on its way (module doc)
        elif isinstance(event, PositionUpdated):
            filled.pop(event.position.contract_id, None)
        # Orphans come from position and order events; a quote cannot make one (and must stay cheap).
        out = self._orphans(ctx) if ctx.quote is None else []
        if ctx.quote is not None:
            pos = state.positions.get(ctx.quote.contract_id)
            positions: Iterable[Position] = [pos] if pos is not None else []
        else:
            positions = list(state.positions.values())
        budget = self.budget(state).amount
        for pos in positions:
            if state.locks_covering(pos.contract_id):
                continue  # being closed on sight: its orders are cancelled, not protected
            decision = self._protect(ctx, pos, budget)
            if decision is not None:
                out.append(decision)
        return out

    def _protect(self, ctx: Context, pos: Position, budget: float | None) -> Decision | None:
        state = ctx.state
        desired = self.stop_price(ctx, pos, budget) if budget is not None and budget > 0 else None
        sym = symbol_of(pos.contract_id)
        ours = _ours(state, pos)
        if not ours:
            if desired is None or pos.contract_id in state.safety_net or pos.contract_id in state.safety_net_filled:
                return None  # nothing to place, a placement is in flight, or its stop just filled
            state.safety_net[pos.contract_id] = desired
            side = int(Side.SELL if pos.type == PositionType.LONG else Side.BUY)
            return Decision(ctx.account_id, Action.PLACE_STOP, self.key,
                            f"safety net: place {sym} stop at {desired:g} ({self._why(budget)})",
                            contract_id=pos.contract_id, stop_price=desired, size=pos.size, side=side)
        current = _tightest(ours, pos)
        held = current.stop_price
        assert held is not None  # a stop order carries its stop price
        target = held
        if desired is not None and _tighter(pos, desired, held):
            target = desired
        asked = state.safety_net.get(pos.contract_id)
        if target == held and current.size == pos.size:
            state.safety_net[pos.contract_id] = held
            return None
        if asked is not None and asked != held and not _tighter(pos, target, asked) and current.size == pos.size:
            return None  # a move to at least this is in flight
        state.safety_net[pos.contract_id] = target
        what = f"move {sym} stop to {target:g}" if target != held else f"resize {sym} stop to {pos.size}"
        return Decision(ctx.account_id, Action.MOVE_STOP, self.key, f"safety net: {what} ({self._why(budget)})",
                        contract_id=pos.contract_id, order_id=current.id, stop_price=target, size=pos.size)

    def _orphans(self, ctx: Context) -> list[Decision]:
        """The app's own stops that protect nothing any more (their position closed or turned) and
        the extra ones of a position (all but the tightest): left working, one could open a position."""
        state = ctx.state
        keep: set[int] = set()
        for pos in state.positions.values():
            ours = _ours(state, pos)
            if ours:
                keep.add(_tightest(ours, pos).id)
        return [
            Decision(ctx.account_id, Action.CANCEL_STOP, self.key,
                     f"safety net: cancel {symbol_of(o.contract_id)} stop {o.id} (it protects no position)",
                     contract_id=o.contract_id, order_id=o.id)
            for o in state.orders.values() if state.is_safety_net(o) and o.is_working and o.id not in keep
        ]

    def deadline(self, state: AccountState, now: datetime) -> datetime | None:
        return min((until for until in state.safety_net_filled.values() if until > now), default=None)

    def _why(self, budget: float | None) -> str:
        return f"budget {budget:,.2f}" if budget is not None else "no budget"

    def figure(self, ctx: Context) -> Figure:
        budget = self.budget(ctx.state)
        if budget.amount is None:
            return Figure(0, 0, Unit.USD, budget.text)
        n = sum(1 for p in ctx.state.positions.values() if ctx.state.safety_net_stops(p))
        return Figure(0, max(0.0, budget.amount), Unit.USD,
                      f"{budget.text}; {n} of {len(ctx.state.positions)} position(s) carry a safety-net stop")


def safety_net_price(state: AccountState, pos: Position) -> float | None:
    """The stop price of the position's working safety-net stop at the gateway, for the window."""
    ours = _ours(state, pos)
    return _tightest(ours, pos).stop_price if ours else None


def _dollars_per_point(ctx: Context, positions: Iterable[Position]) -> float:
    total = 0.0
    for p in positions:
        tick = ctx.pricing.tick(p.contract_id)
        if tick is not None and tick[0] > 0:
            total += p.size * tick[1] / tick[0]
    return total


def _closing_fees(state: AccountState) -> float:
    """What closing every open position will cost in fees, at the rate of each contract's last fill today."""
    last: dict[str, tuple[tuple[datetime, int], float]] = {}
    for t in state.trades_today.values():
        if t.voided or t.size <= 0:
            continue
        held = last.get(t.contract_id)
        if held is None or (t.time, t.id) >= held[0]:
            last[t.contract_id] = ((t.time, t.id), t.fees / t.size)
    return sum(p.size * last[p.contract_id][1] for p in state.positions.values() if p.contract_id in last)


def _to_tick(price: float, tick: float, rounding: Callable[[float], int]) -> float:
    """``price`` on the tick grid, rounded with ``math.ceil``/``math.floor`` (float noise removed
    first: 20990.000000001 is 20990)."""
    return round(rounding(round(price / tick, 6)) * tick, 10)


def _tighter(pos: Position, a: float, b: float) -> bool:
    """Whether stop price ``a`` is closer to the market than ``b`` for this position."""
    return a > b if pos.type == PositionType.LONG else a < b


def _ours(state: AccountState, pos: Position) -> list[Order]:
    return [o for o in state.safety_net_stops(pos) if o.stop_price is not None]


def _tightest(orders: list[Order], pos: Position) -> Order:
    """The stop closest to the market (the first placed of equals); ``orders`` all carry a price."""
    if pos.type == PositionType.LONG:
        return max(orders, key=lambda o: (o.stop_price or 0.0, -o.id))
    return min(orders, key=lambda o: (o.stop_price or 0.0, o.id))
