"""012 trade_management — automatic breakeven and trailing stop. Not a lock, not a breach."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..decisions import Action, Decision
from ..events import OrderUpdated
from ..instruments import symbol_of
from ..models import STOP_TYPES, Position, PositionType, Side
from ..schema import Unit, param
from .base import Context, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Breakeven:
    enabled: bool = param(True, help="Move the stop to entry once the trade is far enough in profit.")
    trigger_ticks: int = param(10, help="Profit, in ticks, that moves the stop to breakeven.", unit=Unit.TICKS, ge=1)
    offset_ticks: int = param(1, help="Ticks beyond entry to place the breakeven stop (locks in a little).",
                              unit=Unit.TICKS, ge=0)


@dataclass(frozen=True, slots=True)
class Trailing:
    enabled: bool = param(True, help="Trail the stop behind the price once the trade is far enough in profit.")
    activation_ticks: int = param(20, help="Profit, in ticks, that starts the trailing stop.", unit=Unit.TICKS, ge=1)
    distance_ticks: int = param(10, help="How far behind the price the stop trails, in ticks.", unit=Unit.TICKS, ge=1)


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    breakeven: Breakeven = param(default_factory=Breakeven, help="Automatic breakeven stop.")
    trailing: Trailing = param(default_factory=Trailing, help="Automatic trailing stop.")


class TradeManagement(Rule[Params]):
    key = "trade_management"
    number = "012"
    title = "Breakeven and trailing stop"
    summary = "Moves a winning position's stop to breakeven and trails it; only ever tightens."
    Params = Params
    triggers = Trigger.QUOTE | Trigger.POSITION | Trigger.ORDER | Trigger.RESYNC

    def evaluate(self, ctx: Context) -> list[Decision]:
        state = ctx.state
        for contract in [c for c in state.requested_stops if c not in state.positions]:
            del state.requested_stops[contract]
        event = ctx.event
        if isinstance(event, OrderUpdated) and not event.order.is_working and event.order.type in STOP_TYPES:
            # A stop of ours cancelled, rejected or expired: what was asked is no longer there, so
            # it is placed again (rules.md 012). A failed placement is forgotten by the guardian.
            pos = state.positions.get(event.order.contract_id)
            if pos is not None and not state.protective_stops(pos):
                state.requested_stops.pop(pos.contract_id, None)
        positions: Iterable[Position] = state.positions.values()
        if ctx.quote is not None:
            pos = state.positions.get(ctx.quote.contract_id)
            positions = [pos] if pos is not None else []
        out: list[Decision] = []
        for pos in positions:
            desired = self._desired_stop(ctx, pos)
            if desired is None:
                continue
            long = pos.type == PositionType.LONG
            tighter: Callable[[float, float], bool] = operator.gt if long else operator.lt
            stops = [(o.stop_price, o) for o in state.protective_stops(pos) if o.stop_price is not None]
            current = None
            if stops:  # the tightest: the highest stop of a long, the lowest of a short (the first of equals)
                current = (max(stops, key=lambda s: s[0]) if long else min(stops, key=lambda s: s[0]))[1]
            asked = state.requested_stops.get(pos.contract_id)
            best_known = current.stop_price if current is not None else None
            if asked is not None and (best_known is None or tighter(asked, best_known)):
                best_known = asked
            if best_known is not None and not tighter(desired, best_known):
                continue
            state.requested_stops[pos.contract_id] = desired
            sym = symbol_of(pos.contract_id)
            if current is not None:
                out.append(Decision(ctx.account_id, Action.MOVE_STOP, self.key, f"move {sym} stop to {desired}",
                                    contract_id=pos.contract_id, order_id=current.id, stop_price=desired, size=pos.size))
            else:
                side = int(Side.SELL if long else Side.BUY)
                out.append(Decision(ctx.account_id, Action.PLACE_STOP, self.key, f"place {sym} stop at {desired}",
                                    contract_id=pos.contract_id, stop_price=desired, size=pos.size, side=side))
        return out

    def _desired_stop(self, ctx: Context, pos: Position) -> float | None:
        ticks, stale = ctx.pricing.ticks_in_profit(pos, ctx.now)
        tick = ctx.pricing.tick(pos.contract_id)
        if ticks is None or stale or tick is None:
            return None
        size = tick[0]
        d = pos.direction
        candidates: list[float] = []
        be, tr = self.params.breakeven, self.params.trailing
        if be.enabled and ticks >= be.trigger_ticks:
            candidates.append(pos.average_price + d * be.offset_ticks * size)
        if tr.enabled and ticks >= tr.activation_ticks:
            price, _ = ctx.pricing.price(pos.contract_id, ctx.now)
            assert price is not None
            candidates.append(price - d * tr.distance_ticks * size)
        if not candidates:
            return None
        best = max(candidates) if d > 0 else min(candidates)
        return round(round(best / size) * size, 10)
