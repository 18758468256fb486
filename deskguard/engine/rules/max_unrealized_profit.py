"""005 max_unrealized_profit — take profit per position."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..decisions import Decision
from ..instruments import symbol_of
from ..models import Position
from ..schema import Looser, Unit, param
from .base import Context, Figure, Rule, Trigger, enabled_param, warn_at_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    target: float = param(1000.0, help="Close a position whose open profit reaches this amount.",
                          unit=Unit.USD, gt=0, looser=Looser.HIGHER)
    warn_at: float = warn_at_param()


class MaxUnrealizedProfit(Rule[Params]):
    key = "max_unrealized_profit"
    number = "005"
    title = "Take profit per position"
    summary = "Closes a position whose open profit reaches the target."
    Params = Params
    triggers = Trigger.QUOTE | Trigger.POSITION | Trigger.RESYNC

    def evaluate(self, ctx: Context) -> list[Decision]:
        positions: Iterable[Position] = ctx.state.positions.values()
        if ctx.quote is not None:
            pos = ctx.state.positions.get(ctx.quote.contract_id)
            positions = [pos] if pos is not None else []
        else:  # a closed position's warning goes with it (as in 004)
            warned = ctx.state.warned
            warned -= {w for w in warned if w[0] == self.key and w[1] not in ctx.state.positions}
        p = self.params
        out = []
        for pos in positions:
            value, stale = ctx.unrealized(pos)
            if stale:
                continue
            if value >= p.target:
                reason = f"open profit {value:,.2f} on {symbol_of(pos.contract_id)} reached the target {p.target:,.2f}"
                out.append(ctx.close(self.key, reason, pos.contract_id))
            else:
                out.extend(ctx.warn_once(
                    self.key, pos.contract_id, value >= p.warn_at * p.target,
                    lambda: f"open profit {value:,.2f} on {symbol_of(pos.contract_id)} "  # noqa: B023 (called at once)
                            f"is past {p.warn_at:.0%} of the target {p.target:,.2f}",
                ))
        return out

    def figure(self, ctx: Context) -> Figure:
        best = max((v for v, s in map(ctx.unrealized, ctx.state.positions.values()) if not s), default=0.0)
        best = max(best, 0.0)
        return Figure(best, self.params.target, Unit.USD, f"best open profit {best:,.2f} of {self.params.target:,.2f}")
