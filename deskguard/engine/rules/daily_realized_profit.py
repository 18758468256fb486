"""013 daily_realized_profit — stop while ahead."""

from __future__ import annotations

from dataclasses import dataclass

from ..decisions import Decision
from ..schema import Looser, Unit, param
from .base import Context, Figure, Rule, Trigger, enabled_param, warn_at_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    target: float = param(1000.0, help="Stop for the day once the day's realized profit reaches this.",
                          unit=Unit.USD, gt=0, looser=Looser.HIGHER)
    warn_at: float = warn_at_param()


class DailyRealizedProfit(Rule[Params]):
    key = "daily_realized_profit"
    number = "013"
    title = "Daily profit target"
    summary = "Flattens and locks until the reset once the day's realized profit reaches the target."
    Params = Params
    triggers = Trigger.TRADE | Trigger.RESYNC | Trigger.TICK

    def evaluate(self, ctx: Context) -> list[Decision]:
        p = self.params
        pnl = ctx.state.realized_day
        if pnl >= p.target:
            kind, until = ctx.lock_until("until_reset")
            reason = f"day's realized profit {pnl:,.2f} ({ctx.fees_note}) reached the target {p.target:,.2f}: done for the day"
            return [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, kind, until)]
        return ctx.warn_once(self.key, "account", pnl >= p.warn_at * p.target,
                             lambda: f"day's realized profit {pnl:,.2f} ({ctx.fees_note}) is past {p.warn_at:.0%} "
                                     f"of the target {p.target:,.2f}")

    def figure(self, ctx: Context) -> Figure:
        pnl = max(0.0, ctx.state.realized_day)
        return Figure(pnl, self.params.target, Unit.USD, f"profit {pnl:,.2f} of {self.params.target:,.2f}")
