"""014 trailing_drawdown — never hit the firm's maximum loss limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..decisions import Decision
from ..schema import Looser, Unit, param
from ..state import AccountState
from .base import Context, Figure, Rule, Trigger, enabled_param, warn_at_param

#: Settings presets for Topstep evaluation accounts: (max_drawdown, starting balance).
TOPSTEP_PRESETS = {"Topstep 50K": (2000.0, 50_000.0), "Topstep 100K": (3000.0, 100_000.0), "Topstep 150K": (4500.0, 150_000.0)}


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(False)
    max_drawdown: float = param(2000.0, help="Largest allowed fall from the high-water mark.",
                                unit=Unit.USD, gt=0, looser=Looser.HIGHER)
    mode: Literal["end_of_day", "intraday"] = param(
        "end_of_day", help="end_of_day trails the highest end-of-day balance (Topstep's rule); intraday the highest equity seen.",
        choices=("end_of_day", "intraday"),
    )
    high_water_mark: float = param(0.0, help="Seed with the firm's figure; 0 starts from the first balance seen.",
                                   unit=Unit.USD, ge=0)
    stop_trailing_at: float = param(
        0.0, help="The floor stops rising once it reaches this balance (e.g. the starting balance); 0: never.",
        unit=Unit.USD, ge=0, looser=Looser.LOWER,
    )
    buffer: float = param(200.0, help="Stop this far above the floor, before the firm would.",
                          unit=Unit.USD, ge=0, looser=Looser.LOWER)
    warn_at: float = warn_at_param()


class TrailingDrawdown(Rule[Params]):
    key = "trailing_drawdown"
    number = "014"
    title = "Trailing drawdown"
    summary = "Flattens and locks until the reset when equity comes within the buffer of the trailing floor."
    Params = Params
    triggers = Trigger.ACCOUNT | Trigger.QUOTE | Trigger.TRADE | Trigger.RESYNC | Trigger.TICK | Trigger.POSITION

    def mark(self, state: AccountState) -> float | None:
        """The high-water mark: at least the configured seed; in end_of_day mode the highest
        end-of-day balance recorded or reconstructed (rules.md "End-of-day balance"); in intraday
        mode it starts from the first balance seen."""
        if self.params.high_water_mark > 0 and (state.high_water_mark or 0) < self.params.high_water_mark:
            state.high_water_mark = self.params.high_water_mark
        if self.params.mode == "end_of_day":
            eod = state.eod_high
            if eod is not None and (state.high_water_mark is None or eod > state.high_water_mark):
                state.high_water_mark = eod
        if state.high_water_mark is None and state.balance is not None:
            state.high_water_mark = state.balance
        return state.high_water_mark

    def floor(self, hwm: float) -> float:
        floor = hwm - self.params.max_drawdown
        if self.params.stop_trailing_at > 0:
            floor = min(floor, self.params.stop_trailing_at)
        return floor

    def equity(self, ctx: Context) -> float | None:
        if ctx.state.balance is None:
            return None
        open_pnl, _stale = ctx.open_pnl()  # stale positions at their last known price (rules.md)
        return ctx.state.balance + open_pnl

    def on_new_day(self, state: AccountState) -> None:
        """End-of-day mode trails the balance the day closed at."""
        hwm = self.mark(state)
        if self.params.mode == "end_of_day" and hwm is not None and state.balance is not None:
            state.high_water_mark = max(hwm, state.balance)

    def evaluate(self, ctx: Context) -> list[Decision]:
        hwm = self.mark(ctx.state)
        equity = self.equity(ctx)
        if hwm is None or equity is None:
            return []
        if self.params.mode == "intraday" and equity > hwm:
            ctx.state.high_water_mark = hwm = equity
        floor = self.floor(hwm)
        stop_at = floor + self.params.buffer
        if equity <= stop_at:
            kind, until = ctx.lock_until("until_reset")
            reason = f"equity {equity:,.2f} is within {self.params.buffer:,.0f} of the trailing floor {floor:,.2f}"
            return [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, kind, until)]
        room = hwm - stop_at
        return ctx.warn_once(self.key, "account", hwm - equity >= self.params.warn_at * room,
                             lambda: f"equity {equity:,.2f} has used {self.params.warn_at:.0%} "
                                     f"of the drawdown allowed (floor {floor:,.2f})")

    def figure(self, ctx: Context) -> Figure | None:
        hwm = self.mark(ctx.state)
        equity = self.equity(ctx)
        if hwm is None or equity is None:
            return None
        floor = self.floor(hwm)
        room = hwm - floor - self.params.buffer
        used = max(0.0, hwm - equity)
        return Figure(used, room, Unit.USD, f"floor {floor:,.2f}; drawdown {used:,.2f} of {room:,.2f}")
