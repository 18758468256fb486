"""002 max_contracts_per_instrument — per-symbol size cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from ..decisions import Decision
from ..events import PositionUpdated
from ..instruments import normalize_symbol, symbol_of
from ..models import Position
from ..schema import Looser, Unit, param
from .base import Context, Figure, Rule, Trigger, enabled_param
from .max_contracts import grown_position, newest_first, trim


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(True)
    default_limit: int = param(3, help="Most contracts per symbol unless the symbol has its own limit.",
                               unit=Unit.CONTRACTS, ge=0, looser=Looser.HIGHER)
    limits: dict[str, int] = param(
        default_factory=dict, help="Limits of particular symbols, e.g. { MNQ = 2, ES = 1 }.", unit=Unit.CONTRACTS
    )
    unknown_symbols: Literal["default", "block"] = param(
        "default", help="default: unlisted symbols use default_limit; block: unlisted symbols may not be traded.",
        choices=("default", "block"),
    )
    action: Literal["reduce", "close"] = param(
        "reduce", help="reduce: trim to the limit; close: close that symbol's position.", choices=("reduce", "close")
    )


class MaxContractsPerInstrument(Rule[Params]):
    key = "max_contracts_per_instrument"
    number = "002"
    title = "Maximum contracts per instrument"
    summary = "Caps the size of each symbol's position."
    # An alias (not a `type` statement, whose value is no class): __init__ names it in its signature.
    Params: TypeAlias = Params  # noqa: UP040
    triggers = Trigger.POSITION | Trigger.RESYNC

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self._limits = {normalize_symbol(k): v for k, v in params.limits.items()}

    def limit_for(self, symbol: str) -> int:
        if symbol in self._limits:
            return self._limits[symbol]
        return 0 if self.params.unknown_symbols == "block" else self.params.default_limit

    def evaluate(self, ctx: Context) -> list[Decision]:
        by_symbol: dict[str, list[Position]] = {}
        for pos in ctx.state.positions.values():
            by_symbol.setdefault(symbol_of(pos.contract_id), []).append(pos)
        if isinstance(ctx.event, PositionUpdated):  # other symbols are untouched by this event
            sym = symbol_of(ctx.event.position.contract_id)
            by_symbol = {sym: by_symbol.get(sym, [])}
        grown = grown_position(ctx)
        out: list[Decision] = []
        for sym, positions in sorted(by_symbol.items()):
            size = sum(p.size for p in positions)
            limit = self.limit_for(sym)
            if size <= limit:
                continue
            reason = f"{size} {sym} contracts open, limit {limit}"
            if self.params.action == "close" or limit == 0:
                out.extend(ctx.close(self.key, reason, p.contract_id) for p in positions)
            else:
                g = grown if grown is not None and symbol_of(grown.contract_id) == sym else None
                out.extend(trim(ctx, self.key, reason, newest_first(positions, g), size - limit))
        return out

    def figure(self, ctx: Context) -> Figure:
        worst = (0.0, 0, "no position")
        for pos in ctx.state.positions.values():
            sym = symbol_of(pos.contract_id)
            limit = self.limit_for(sym)
            used = pos.size / limit if limit else float("inf")
            if used > worst[0]:
                worst = (used, limit, f"{pos.size} / {limit} {sym}")
        value = worst[0] * worst[1] if worst[1] else 0.0
        return Figure(value, worst[1] or self.params.default_limit, Unit.CONTRACTS, worst[2])
