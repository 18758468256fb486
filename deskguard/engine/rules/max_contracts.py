"""001 max_contracts — account-wide size cap."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..decisions import Action, Decision
from ..events import PositionUpdated
from ..instruments import is_micro
from ..models import Position
from ..schema import Looser, Unit, param
from .base import Context, Figure, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Tier:
    profit: float = param(0.0, help="End-of-day profit (balance at the last reset minus the starting balance) "
                                    "from which this tier applies.", unit=Unit.USD, ge=0)
    limit: int = param(2, help="Contracts allowed from that profit on.", unit=Unit.CONTRACTS, ge=0)


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
    micro_weight: float = param(
        1.0, help="A micro contract (MNQ, MES, M2K, MYM, MGC, MCL…) counts as this many contracts; "
                  "Topstep counts 10 micros as 1 mini: 0.1.", unit=Unit.RATIO, gt=0, le=1, looser=Looser.LOWER,
    )
    scaling: tuple[Tier, ...] = param(
        (), help="A firm's scaling plan: the limit in force is that of the highest tier whose profit the "
                 "account's end-of-day profit has reached (never rising during the day); empty: limit applies.",
    )


#: Weighted counts are compared with this slack: 10 × 0.1 is 1.0000000000000002 in binary floats.
_EPS = 1e-9


def weight_of(contract_id: str, micro_weight: float) -> float:
    return micro_weight if micro_weight != 1.0 and is_micro(contract_id) else 1.0


def count_contracts(positions: list[Position], how: str, micro_weight: float = 1.0) -> float:
    """Contracts open, micros counted at ``micro_weight`` (a whole number when it is 1)."""
    if how == "net":
        return round(abs(sum(p.signed_size * weight_of(p.contract_id, micro_weight) for p in positions)), 9)
    return round(sum(p.size * weight_of(p.contract_id, micro_weight) for p in positions), 9)


def scaling_limit(scaling: tuple[Tier, ...], eod_profit: float | None) -> Tier | None:
    """The tier in force: the highest whose profit the end-of-day profit reached; below every tier
    (or with the profit unknown), the lowest tier."""
    if not scaling:
        return None
    ordered = sorted(scaling, key=lambda t: t.profit)
    reached = [t for t in ordered if eod_profit is not None and eod_profit >= t.profit]
    return reached[-1] if reached else ordered[0]


def trim(ctx: Context, rule: str, reason: str, candidates: list[Position], excess: float,
         micro_weight: float = 1.0) -> list[Decision]:
    """Take ``excess`` (weighted) contracts off ``candidates`` in order: reduce one, or close whole
    positions. Each position gives the smallest whole number of its contracts that removes what is
    left of the excess (excess 1.0 on MNQ at 0.1 → 10 MNQ)."""
    out: list[Decision] = []
    for pos in candidates:
        if excess <= _EPS:
            break
        w = weight_of(pos.contract_id, micro_weight)
        take = min(math.ceil(excess / w - _EPS), pos.size)
        excess -= take * w
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

    def limit_now(self, ctx: Context) -> tuple[int, Tier | None]:
        """The limit in force and, with a scaling plan, its tier (chosen by the end-of-day profit,
        so it never rises during the day)."""
        tier = scaling_limit(self.params.scaling, ctx.state.end_of_day_profit)
        return (tier.limit, tier) if tier is not None else (self.params.limit, None)

    def evaluate(self, ctx: Context) -> list[Decision]:
        p = self.params
        positions = list(ctx.state.positions.values())
        n = count_contracts(positions, p.count, p.micro_weight)
        limit, tier = self.limit_now(ctx)
        if n <= limit + _EPS:
            return []
        excess = n - limit
        weighted = " weighted" if p.micro_weight != 1.0 else ""
        plan = f" (scaling tier from {tier.profit:,.0f} end-of-day profit)" if tier is not None else ""
        reason = f"{_count(n)}{weighted} contracts open ({p.count}), limit {limit}{plan}"
        if p.action == "flatten":
            return [ctx.flatten(self.key, reason)]
        candidates = positions
        if p.count == "net":
            net_sign = 1 if sum(x.signed_size for x in positions) > 0 else -1
            candidates = [x for x in positions if x.direction == net_sign]
        return trim(ctx, self.key, reason, newest_first(candidates, _in(grown_position(ctx), candidates)), excess,
                    p.micro_weight)

    def figure(self, ctx: Context) -> Figure:
        n = count_contracts(list(ctx.state.positions.values()), self.params.count, self.params.micro_weight)
        limit, tier = self.limit_now(ctx)
        plan = f" (scaling tier {tier.profit:,.0f}+)" if tier is not None else ""
        return Figure(n, limit, Unit.CONTRACTS, f"{_count(n)} / {limit} contracts{plan}")


def _count(n: float) -> str:
    return f"{n:g}" if n != int(n) else str(int(n))


def _in(pos: Position | None, candidates: list[Position]) -> Position | None:
    return pos if pos is not None and any(c.contract_id == pos.contract_id for c in candidates) else None
