"""015 weekly_realized_loss — the weekly loss limit."""

from __future__ import annotations

from dataclasses import dataclass

from ..decisions import Decision
from ..schema import Looser, Unit, param
from .base import Context, Figure, Rule, Trigger, enabled_param, warn_at_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    max_loss: float = param(1500.0, help="Stop for the week at this loss (a positive amount).",
                            unit=Unit.USD, gt=0, looser=Looser.HIGHER)
    warn_at: float = warn_at_param()


class WeeklyRealizedLoss(Rule[Params]):
    key = "weekly_realized_loss"
    number = "015"
    title = "Weekly loss limit"
    summary = "Flattens and locks until the next weekly reset when the week's loss reaches the limit."
    Params = Params
    triggers = Trigger.TRADE | Trigger.RESYNC | Trigger.TICK

    def evaluate(self, ctx: Context) -> list[Decision]:
        p = self.params
        pnl = ctx.state.realized_week
        if pnl <= -p.max_loss:
            kind, until = ctx.lock_until("until_reset", weekly=True)
            reason = f"week's P&L {pnl:,.2f} ({ctx.fees_note}) reached the weekly loss limit of {p.max_loss:,.2f}"
            return [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, kind, until)]
        return ctx.warn_once(self.key, "account", pnl <= -p.warn_at * p.max_loss,
                             lambda: f"week's P&L {pnl:,.2f} ({ctx.fees_note}) is past {p.warn_at:.0%} "
                                     f"of the weekly loss limit ({p.max_loss:,.2f})")

    def figure(self, ctx: Context) -> Figure:
        loss = max(0.0, -ctx.state.realized_week)
        return Figure(loss, self.params.max_loss, Unit.USD, f"week's loss {loss:,.2f} of {self.params.max_loss:,.2f}")
