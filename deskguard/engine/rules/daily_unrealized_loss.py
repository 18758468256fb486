"""004 daily_unrealized_loss — open-loss stop per position."""

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
    enabled: bool = enabled_param(True)
    max_loss: float = param(300.0, help="Close a position whose open loss reaches this amount.",
                            unit=Unit.USD, gt=0, looser=Looser.HIGHER)
    warn_at: float = warn_at_param()


class DailyUnrealizedLoss(Rule[Params]):
    key = "daily_unrealized_loss"
    number = "004"
    title = "Open loss per position"
    summary = "Closes a position whose open loss reaches the limit."
    Params = Params
    triggers = Trigger.QUOTE | Trigger.POSITION | Trigger.RESYNC

    def evaluate(self, ctx: Context) -> list[Decision]:
        p = self.params
        positions: Iterable[Position] = ctx.state.positions.values()
        if ctx.quote is not None:
            pos = ctx.state.positions.get(ctx.quote.contract_id)
            positions = [pos] if pos is not None else []
        else:
            # A closed position's warning goes with it: the amber state belongs to the position, and a
            # new position on the contract must be able to warn again.
            warned = ctx.state.warned
            warned -= {w for w in warned if w[0] == self.key and w[1] not in ctx.state.positions}
        out = []
        for pos in positions:
            value, stale = ctx.unrealized(pos)
            if stale:
                continue
            if value <= -p.max_loss:
                reason = f"open loss {value:,.2f} on {symbol_of(pos.contract_id)} reached {p.max_loss:,.2f}"
                out.append(ctx.close(self.key, reason, pos.contract_id))
            else:
                out.extend(ctx.warn_once(
                    self.key, pos.contract_id, value <= -p.warn_at * p.max_loss,
                    lambda: f"open loss {value:,.2f} on {symbol_of(pos.contract_id)} "  # noqa: B023 (called at once)
                            f"is past {p.warn_at:.0%} of {p.max_loss:,.2f}",
                ))
        return out

    def figure(self, ctx: Context) -> Figure:
        worst = 0.0
        for pos in ctx.state.positions.values():
            value, stale = ctx.unrealized(pos)
            if not stale:
                worst = max(worst, -value)
        return Figure(worst, self.params.max_loss, Unit.USD, f"worst open loss {worst:,.2f} of {self.params.max_loss:,.2f}")
