"""017 consistency — keep the best day under the firm's share of the total profit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..decisions import Action, Decision
from ..schema import Looser, Unit, param
from .base import Context, Figure, Rule, Trigger, enabled_param, warn_at_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    max_share: float = param(0.5, help="The best day's share of the total profit the firm allows.",
                             unit=Unit.RATIO, gt=0, le=0.99, looser=Looser.HIGHER)
    action: Literal["warn", "stop"] = param(
        "warn", help="warn: only say so when today reaches the cap; stop: flatten and lock until the reset.",
        choices=("warn", "stop"),
    )
    warn_at: float = warn_at_param()


def todays_cap(prior_profit: float | None, max_share: float) -> float | None:
    """The most today can make without becoming a best day above the share, or None when there is
    no profit before today (the rule then has nothing to guard)."""
    if prior_profit is None or prior_profit <= 0:
        return None
    return round(max_share * prior_profit / (1 - max_share), 2)


class Consistency(Rule[Params]):
    key = "consistency"
    number = "017"
    title = "Consistency"
    summary = "Keeps today's profit under the firm's best-day share of the total profit."
    Params = Params
    triggers = Trigger.TRADE | Trigger.RESYNC | Trigger.ACCOUNT | Trigger.TICK

    def cap(self, ctx: Context) -> float | None:
        # Total profit before today = balance at the last reset − starting balance.
        return todays_cap(ctx.state.end_of_day_profit, self.params.max_share)

    def evaluate(self, ctx: Context) -> list[Decision]:
        p = self.params
        cap = self.cap(ctx)
        if cap is None:
            return []
        today = ctx.state.realized_day  # realized net P&L only: open P&L does not count
        if today >= cap:
            reason = (f"today's profit {today:,.2f} ({ctx.fees_note}) reached the consistency cap {cap:,.2f} "
                      f"({p.max_share:.0%} best-day share)")
            if p.action == "stop":
                kind, until = ctx.lock_until("until_reset")
                return [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, kind, until)]
            if (self.key, "cap") in ctx.state.warned:
                return []
            ctx.state.warned.add((self.key, "cap"))  # once a day: the cap only falls back after a loss
            return [Decision(ctx.account_id, Action.WARN, self.key, reason)]
        ctx.state.warned.discard((self.key, "cap"))
        return ctx.warn_once(self.key, "account", today >= p.warn_at * cap,
                             lambda: f"today's profit {today:,.2f} ({ctx.fees_note}) is past {p.warn_at:.0%} of the "
                                     f"consistency cap {cap:,.2f}: today may make {cap - today:,.2f} more")

    def figure(self, ctx: Context) -> Figure | None:
        cap = self.cap(ctx)
        if cap is None:
            return Figure(0, 0, Unit.USD, "no profit before today: no cap yet")
        today = max(0.0, ctx.state.realized_day)
        return Figure(today, cap, Unit.USD, f"today may make {max(0.0, cap - today):,.2f} more (cap {cap:,.2f})")

