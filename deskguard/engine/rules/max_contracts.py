"""001 max_contracts — account-wide size cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..decisions import Action, Decision
from ..events import PositionUpdated
from ..models import Position
from ..schema import Looser, Unit, param
from .base import Context, Figure, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(True)
    limit: int = param(5, help="Most contracts open at once across the account.", unit=Unit.CONTRACTS, ge=0, looser=Looser.HIGHER)
    count: Literal["gross", "net"] = param(
        "gross", help="gross: sum of every position's size; net: size of longs minus shorts.", choices=("gross", "net")
    )
    action: Literal["reduce", "flatten"] = param(
        "reduce", help="reduce: trim the position that just grew by the excess; flatten: close everything.",
        choices=("reduce", "flatten"),
    )


def count_contracts(positions: list[Position], how: str) -> int:
    if how == "net":
        return abs(sum(p.signed_size for p in positions))
    return sum(p.size for p in positions)


def trim(ctx: Context, rule: str, reason: str, candidates: list[Position], excess: int) -> list[Decision]:
    """Take ``excess`` contracts off ``candidates`` in order: reduce one, or close whole positions."""
    out: list[Decision] = []
    for pos in candidates:
        if excess <= 0:
            break
        take = min(excess, pos.size)
        excess -= take
        if take == pos.size:
            out.append(ctx.close(rule, reason, pos.contract_id))
        else:
            out.append(
                Decision(ctx.account_id, Action.REDUCE_POSITION, rule, reason, contract_id=pos.contract_id, size=pos.size - take)
            )
    return out


def newest_first(positions: list[Position], grown: Position | None) -> list[Position]:
    """The position that just grew, then the others from the newest."""
    rest = [p for p in positions if grown is None or p.contract_id != grown.contract_id]
    rest.sort(key=lambda p: (p.opened_at is not None, p.opened_at), reverse=True)
    return ([grown] if grown is not None else []) + rest


def grown_position(ctx: Context) -> Position | None:
    if not isinstance(ctx.event, PositionUpdated):
        return None
    pos = ctx.event.position
    before = ctx.previous_position.size if ctx.previous_position else 0
    same_side = ctx.previous_position is None or ctx.previous_position.type == pos.type
    if pos.is_open and (pos.size > before or not same_side):
        return pos
    return None


class MaxContracts(Rule[Params]):
    key = "max_contracts"
    number = "001"
    title = "Maximum contracts"
    summary = "Caps the total number of contracts open across the account."
    Params = Params
    triggers = Trigger.POSITION | Trigger.RESYNC

    def evaluate(self, ctx: Context) -> list[Decision]:
        p = self.params
        positions = list(ctx.state.positions.values())
        n = count_contracts(positions, p.count)
        if n <= p.limit:
            return []
        excess = n - p.limit
        reason = f"{n} contracts open ({p.count}), limit {p.limit}"
        if p.action == "flatten":
            return [ctx.flatten(self.key, reason)]
        candidates = positions
        if p.count == "net":
            net_sign = 1 if sum(x.signed_size for x in positions) > 0 else -1
            candidates = [x for x in positions if x.direction == net_sign]
        return trim(ctx, self.key, reason, newest_first(candidates, _in(grown_position(ctx), candidates)), excess)

    def figure(self, ctx: Context) -> Figure:
        n = count_contracts(list(ctx.state.positions.values()), self.params.count)
        return Figure(n, self.params.limit, Unit.CONTRACTS, f"{n} / {self.params.limit} contracts")


def _in(pos: Position | None, candidates: list[Position]) -> Position | None:
    return pos if pos is not None and any(c.contract_id == pos.contract_id for c in candidates) else None
