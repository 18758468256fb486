"""003 daily_realized_loss — the daily loss limit."""

from __future__ import annotations

from dataclasses import dataclass

from ..decisions import Decision
from ..schema import Looser, Unit, param
from .base import Context, Figure, Rule, Trigger, enabled_param, warn_at_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(True)
    max_loss: float = param(500.0, help="Stop for the day at this loss (a positive amount).",
                            unit=Unit.USD, gt=0, looser=Looser.HIGHER)
    count_open_pnl: bool = param(
        False, help="Also count open positions' P&L, the way Topstep's own daily loss limit counts.", looser=Looser.LOWER
    )
    warn_at: float = warn_at_param()


class DailyRealizedLoss(Rule[Params]):
    key = "daily_realized_loss"
    number = "003"
    title = "Daily loss limit"
    summary = "Flattens and locks until the reset when the day's loss reaches the limit."
    Params = Params
    triggers = Trigger.TRADE | Trigger.RESYNC | Trigger.QUOTE | Trigger.POSITION | Trigger.ACCOUNT | Trigger.TICK

    def wants_quotes(self) -> bool:
        return self.params.count_open_pnl

    def day_pnl(self, ctx: Context) -> float:
        pnl = ctx.state.realized_day
        if self.params.count_open_pnl:
            # A stale position counts at its last known price: one quiet contract never hides a
            # fresh loss on another (rules.md, "Unrealized P&L").
            open_pnl, _stale = ctx.open_pnl()
            pnl += open_pnl
        return pnl

    def evaluate(self, ctx: Context) -> list[Decision]:
        p = self.params
        pnl = self.day_pnl(ctx)
        if pnl <= -p.max_loss:
            kind, until = ctx.lock_until("until_reset")
            reason = f"day's P&L {pnl:,.2f} ({ctx.fees_note}) reached the daily loss limit of {p.max_loss:,.2f}"
            return [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, kind, until)]
        return ctx.warn_once(
            self.key, "account", pnl <= -p.warn_at * p.max_loss,
            lambda: f"day's P&L {pnl:,.2f} ({ctx.fees_note}) is past {p.warn_at:.0%} of the daily loss limit ({p.max_loss:,.2f})",
        )

    def figure(self, ctx: Context) -> Figure:
        loss = max(0.0, -self.day_pnl(ctx))
        return Figure(loss, self.params.max_loss, Unit.USD, f"loss {loss:,.2f} of {self.params.max_loss:,.2f}")


