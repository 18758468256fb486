"""006 trade_frequency — overtrading brake. Counts entries: fills that open or add to a position."""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..decisions import Decision
from ..instruments import symbol_of
from ..schema import UNTIL_RESET, Duration, Looser, Unit, format_duration, param
from .base import Context, Figure, Rule, Trigger, enabled_param


def _cooldown(default: Duration, window: str) -> Any:  # a dataclass field, as param() gives
    return param(
        default, help=f"How long to lock after too many entries in {window}.", unit=Unit.DURATION,
        looser=Looser.LOWER, allow_until_reset=True,
    )


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(True)
    per_minute: int = param(3, help="Most entries in any 60 seconds.", unit=Unit.TRADES, ge=1, looser=Looser.HIGHER)
    per_hour: int = param(10, help="Most entries in any 60 minutes.", unit=Unit.TRADES, ge=1, looser=Looser.HIGHER)
    per_day: int = param(50, help="Most entries in the trading day.", unit=Unit.TRADES, ge=1, looser=Looser.HIGHER)
    minute_cooldown: Duration = _cooldown(timedelta(seconds=60), "a minute")
    hour_cooldown: Duration = _cooldown(timedelta(minutes=30), "an hour")
    day_cooldown: Duration = _cooldown(UNTIL_RESET, "the day")


_MINUTE = timedelta(seconds=60)
_HOUR = timedelta(hours=1)


class TradeFrequency(Rule[Params]):
    key = "trade_frequency"
    number = "006"
    title = "Trade frequency"
    summary = "Closes the position of an entry that exceeds a per-minute, per-hour or per-day count, then cools down."
    Params = Params
    triggers = Trigger.TRADE | Trigger.RESYNC

    def evaluate(self, ctx: Context) -> list[Decision]:
        p = self.params
        out = []
        entries = ctx.state.entries  # kept sorted: trades from a re-sync may arrive out of order
        for trade in ctx.new_trades:
            if trade.pnl is not None or trade.voided:
                continue
            t = trade.time
            insort(entries, t)
            upto = bisect_right(entries, t)
            windows = (
                ("minute", upto - bisect_right(entries, t - _MINUTE), p.per_minute, p.minute_cooldown),
                ("hour", upto - bisect_right(entries, t - _HOUR), p.per_hour, p.hour_cooldown),
                ("day", len(entries), p.per_day, p.day_cooldown),
            )
            breached = [(name, n, limit, cd) for name, n, limit, cd in windows if n > limit]
            if not breached:
                continue
            # Windows and cooldowns run from the entry's own time, also for an entry the app learns
            # of later (made before it started, or during a gap): rules.md.
            locks = [(ctx.lock_until(cd, at=t), name, n, limit, cd) for name, n, limit, cd in breached]
            (kind, until), name, n, limit, cd = max(locks, key=lambda x: x[0][1])
            reason = (f"entry #{n} in the {name} on {symbol_of(trade.contract_id)} (limit {limit}); "
                      f"cooling down {format_duration(cd)}")
            if trade.contract_id in ctx.state.positions:
                out.append(ctx.close(self.key, reason, trade.contract_id))
            out.append(ctx.lock(self.key, reason, kind, until, since=t))
        return out

    def figure(self, ctx: Context) -> Figure:
        n = len(ctx.state.entries)
        return Figure(n, self.params.per_day, Unit.TRADES, f"{n} / {self.params.per_day} entries today")
