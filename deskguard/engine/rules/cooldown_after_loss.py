"""007 cooldown_after_loss — stop revenge trading after a losing trade."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..decisions import Decision
from ..instruments import symbol_of
from ..schema import Duration, Unit, format_duration, param
from .base import Context, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Tier:
    loss: float = param(help="A closing trade losing at least this much (positive amount)…", unit=Unit.USD, gt=0)
    cooldown: Duration = param(help="…locks the account for this long.", unit=Unit.DURATION, allow_until_reset=True)


DEFAULT_TIERS = (
    Tier(100.0, timedelta(minutes=5)),
    Tier(200.0, timedelta(minutes=15)),
    Tier(300.0, timedelta(minutes=30)),
)


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(True)
    tiers: tuple[Tier, ...] = param(
        DEFAULT_TIERS, help="Loss tiers: the largest tier a losing trade reaches sets the cooldown."
    )


class CooldownAfterLoss(Rule[Params]):
    key = "cooldown_after_loss"
    number = "007"
    title = "Cooldown after a loss"
    summary = "Flattens and locks for a cooldown after a losing trade, longer for bigger losses."
    Params = Params
    triggers = Trigger.TRADE | Trigger.RESYNC

    def evaluate(self, ctx: Context) -> list[Decision]:
        out = []
        for trade in ctx.new_trades:
            if not trade.is_closing:
                continue
            loss = -trade.net_pnl(ctx.include_fees)
            matching = [t for t in self.params.tiers if loss >= t.loss]
            if not matching:
                continue
            tier = max(matching, key=lambda t: t.loss)
            kind, until = ctx.lock_until(tier.cooldown, at=trade.time)  # from the trade's own time
            reason = (
                f"losing trade of {loss:,.2f} ({ctx.fees_note}) on {symbol_of(trade.contract_id)} "
                f"(tier {tier.loss:,.0f}): cooldown {format_duration(tier.cooldown)}"
            )
            out += [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, kind, until, since=trade.time)]
        return out
