"""010 auth_loss_guard — the broker disabled the account (canTrade false)."""

from __future__ import annotations

from dataclasses import dataclass

from ..decisions import Decision, LockKind
from .base import Context, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(True)


class AuthLossGuard(Rule[Params]):
    key = "auth_loss_guard"
    number = "010"
    title = "Broker disabled the account"
    summary = "Flattens (best effort) and locks while the broker reports the account cannot trade."
    Params = Params
    triggers = Trigger.ACCOUNT | Trigger.RESYNC

    def evaluate(self, ctx: Context) -> list[Decision]:
        if ctx.state.can_trade or ctx.state.has_lock(self.key, LockKind.UNTIL_CAN_TRADE):
            return []
        reason = "the broker reports this account cannot trade (canTrade false)"
        return [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, LockKind.UNTIL_CAN_TRADE, None)]
