"""016 losing_streak — stop after N losers in a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..decisions import Decision
from ..schema import Duration, Looser, Unit, format_duration, param
from .base import Context, Figure, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    max_losses: int = param(3, help="Losing trades in a row that stop trading.", unit=Unit.TRADES, ge=1, looser=Looser.HIGHER)
    cooldown: Duration = param(
        timedelta(minutes=30), help='How long to lock after the streak ("until_reset" for the rest of the day).',
        unit=Unit.DURATION, looser=Looser.LOWER, allow_until_reset=True,
    )


class LosingStreak(Rule[Params]):
    key = "losing_streak"
    number = "016"
    title = "Losing streak"
    summary = "Flattens and locks after a run of losing trades; the count starts over after the lock."
    Params = Params
    triggers = Trigger.TRADE | Trigger.RESYNC

    def evaluate(self, ctx: Context) -> list[Decision]:
        state = ctx.state
        out = []
        locked = state.has_lock(self.key)
        # Earlier days of the week the app did not see count too: the streak runs across days.
        for trade in (*ctx.earlier_trades, *ctx.new_trades):
            if not trade.is_closing or locked:
                continue  # trades closed by this rule's own lock do not start a new streak
            net = trade.net_pnl(ctx.include_fees)
            if net < 0:
                state.losing_streak += 1
            elif net > 0:
                state.losing_streak = 0
            if state.losing_streak >= self.params.max_losses:
                kind, until = ctx.lock_until(self.params.cooldown, at=trade.time)
                reason = f"{state.losing_streak} losing trades in a row: cooldown {format_duration(self.params.cooldown)}"
                state.losing_streak = 0
                locked = True
                out += [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, kind, until, since=trade.time)]
        return out

    def figure(self, ctx: Context) -> Figure:
        n = ctx.state.losing_streak
        return Figure(n, self.params.max_losses, Unit.TRADES, f"{n} / {self.params.max_losses} losers in a row")
