"""008 no_stop_loss_grace — every position needs a protective stop within a grace period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..decisions import Decision
from ..instruments import symbol_of
from ..schema import Duration, Looser, Unit, format_duration, param
from ..state import AccountState
from .base import Context, Figure, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    grace: Duration = param(
        timedelta(seconds=10), help="How long a new position may stay without a protective stop.",
        unit=Unit.DURATION, looser=Looser.HIGHER,
    )
    count_safety_net: bool = param(
        False, help="Count DeskGuard's own safety-net stop (rule 018) as the position's stop.", looser=Looser.HIGHER,
    )


class NoStopLossGrace(Rule[Params]):
    key = "no_stop_loss_grace"
    number = "008"
    title = "Stop-loss required"
    summary = "Closes a position that has no protective stop when its grace period ends."
    Params = Params
    triggers = Trigger.POSITION | Trigger.ORDER | Trigger.TICK | Trigger.RESYNC | Trigger.TRADE

    def evaluate(self, ctx: Context) -> list[Decision]:
        state = ctx.state
        timers = state.stop_grace
        for contract in [c for c in timers if c not in state.positions]:
            del timers[contract]  # closing the position cancels its timer
        out = []
        for contract, pos in state.positions.items():
            if state.protective_stops(pos, safety_net=self.params.count_safety_net):
                timers.pop(contract, None)
                continue
            deadline = timers.setdefault(contract, ctx.now + self.params.grace)  # type: ignore[operator]  # no until_reset here (schema)
            if ctx.now >= deadline:
                reason = f"{symbol_of(contract)} position had no stop after {format_duration(self.params.grace)}"
                out.append(ctx.close(self.key, reason, contract))
        return out

    def deadline(self, state: AccountState, now: datetime) -> datetime | None:
        pending = [d for d in state.stop_grace.values() if d > now]
        return min(pending, default=None)

    def figure(self, ctx: Context) -> Figure:
        n = len(ctx.state.stop_grace)
        return Figure(n, 0, Unit.NONE, f"{n} position(s) waiting for a stop" if n else "every position has a stop")
