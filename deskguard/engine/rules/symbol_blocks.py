"""011 symbol_blocks — never trade these symbols."""

from __future__ import annotations

from dataclasses import dataclass

from ..decisions import Action, Decision, LockKind
from ..instruments import symbol_matches, symbol_of
from ..schema import param
from .base import Context, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    symbols: tuple[str, ...] = param(
        ("RTY", "CL*"), help='Symbols never to trade; shell wildcards allowed ("CL*"), any case.'
    )


class SymbolBlocks(Rule[Params]):
    key = "symbol_blocks"
    number = "011"
    title = "Blocked symbols"
    summary = "Closes positions and cancels orders in blocked symbols and locks those symbols."
    Params = Params
    triggers = Trigger.POSITION | Trigger.ORDER | Trigger.RESYNC

    def blocks(self, contract_id: str) -> bool:
        return any(symbol_matches(p, contract_id) for p in self.params.symbols)

    def evaluate(self, ctx: Context) -> list[Decision]:
        state = ctx.state
        contracts = {c for c in state.positions if self.blocks(c)}
        contracts |= {o.contract_id for o in state.orders.values() if self.blocks(o.contract_id)}
        out: list[Decision] = []
        for contract in sorted(contracts):
            sym = symbol_of(contract)
            if state.has_lock(self.key, LockKind.PERMANENT, symbol=sym):
                continue  # the symbol lock's close-on-sight handles it
            reason = f"{sym} is a blocked symbol"
            if contract in state.positions:
                out.append(ctx.close(self.key, reason, contract))
            out.append(Decision(ctx.account_id, Action.CANCEL_ORDERS, self.key, reason, contract_id=contract))
            out.append(ctx.lock(self.key, reason, LockKind.PERMANENT, None, symbol=sym))
        return out
