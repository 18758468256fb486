"""Distance to breach: how far each firm limit is, for one account, at a glance.

Drawdown left to the trailing floor (and the floor itself), loss left today, contracts allowed now
(with the scaling tier), time to the session's flat, and what today may still make under the
consistency share. Each is ``ok``, ``warning`` (at the rule's ``warn_at``; for contracts, at the cap;
for the session, within its last 15 minutes) or ``breach`` (at the limit). Pure: read from the
account's rules and state, nothing is changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .rules.base import Context, Rule
from .rules.max_contracts import count_contracts

OK, WARNING, BREACH = "ok", "warning", "breach"
_RANK = {OK: 0, WARNING: 1, BREACH: 2}
SESSION_WARNING = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Distance:
    key: str  # "drawdown", "loss_today", "contracts", "session", "consistency"
    rule: str  # the rule key it comes from
    label: str  # "Drawdown left"
    text: str  # "$1,234.50 · floor $48,000.00"
    level: str  # ok / warning / breach
    used: float  # how much of the room is used, 0..1+ (the tightest is the most used)

    @property
    def sentence(self) -> str:
        return f"{self.label}: {self.text}"


def _usd(amount: float) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def _level(used: float, warn_at: float, breach: bool) -> str:
    if breach:
        return BREACH
    return WARNING if used >= warn_at else OK


def _drawdown(rule: Any, ctx: Context) -> Distance | None:
    p = rule.params
    hwm = rule.mark(ctx.state)
    equity = rule.equity(ctx)
    if hwm is None or equity is None:
        return None
    floor = rule.floor(hwm)
    stop_at = floor + p.buffer
    room = hwm - stop_at
    left = equity - stop_at
    used = 1.0 if room <= 0 else max(0.0, (hwm - equity) / room)
    return Distance("drawdown", rule.key, "Drawdown left", f"{_usd(max(0.0, left))} · floor {_usd(floor)}",
                    _level(used, p.warn_at, left <= 0), used)


def _loss_today(rule: Any, ctx: Context) -> Distance:
    p = rule.params
    pnl = rule.day_pnl(ctx)
    used = max(0.0, -pnl / p.max_loss)
    return Distance("loss_today", rule.key, "Loss left today", f"{_usd(max(0.0, p.max_loss + pnl))} of {_usd(p.max_loss)}",
                    _level(used, p.warn_at, pnl <= -p.max_loss), used)


def _contracts(rule: Any, ctx: Context) -> Distance:
    p = rule.params
    n = count_contracts(list(ctx.state.positions.values()), p.count, p.micro_weight)
    limit, tier = rule.limit_now(ctx)
    left = limit - n
    tier_text = f", scaling tier {tier.profit:,.0f}+" if tier is not None else ""
    amount = abs(round(left, 9))
    shown = f"{amount:g}" if amount != int(amount) else str(int(amount))
    used = n / limit if limit > 0 else (1.0 if n > 0 else 0.0)
    level = BREACH if n > limit + 1e-9 else WARNING if n >= limit - 1e-9 and n > 0 else OK
    text = f"{shown} over (limit {limit}{tier_text})" if level == BREACH else f"{shown} more (limit {limit}{tier_text})"
    return Distance("contracts", rule.key, "Contracts allowed now", text, level, used)


def _session(rule: Any, ctx: Context) -> Distance:
    now = ctx.now
    if not rule.is_open(now):
        nxt = rule.sessions.next_open(now)
        when = nxt.astimezone(rule.params.windows[0].to_window().timezone).strftime("%a %H:%M") if nxt else "never"
        return Distance("session", rule.key, "Session", f"closed; opens {when}", BREACH, 1.0)
    close = rule.sessions.next_close(now)
    if close is None:
        return Distance("session", rule.key, "Session", "open", OK, 0.0)
    left = close - now
    minutes = int(left.total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    local = close.astimezone(rule.params.windows[0].to_window().timezone)
    span = f"{hours}h {mins:02d}m" if hours else f"{mins}m"
    used = max(0.0, 1.0 - left / timedelta(hours=1))
    return Distance("session", rule.key, "Flat by", f"{local:%H:%M %Z} (in {span})",
                    WARNING if left <= SESSION_WARNING else OK, used)


def _consistency(rule: Any, ctx: Context) -> Distance:
    p = rule.params
    cap = rule.cap(ctx)
    if cap is None:
        return Distance("consistency", rule.key, "Today may make", "no cap yet (no profit before today)", OK, 0.0)
    today = ctx.state.realized_day
    used = max(0.0, today / cap)
    return Distance("consistency", rule.key, "Today may make", f"{_usd(max(0.0, cap - today))} more (cap {_usd(cap)})",
                    _level(used, p.warn_at, today >= cap), used)


_ORDER: tuple[tuple[str, Any], ...] = (
    ("trailing_drawdown", _drawdown),
    ("daily_realized_loss", _loss_today),
    ("max_contracts", _contracts),
    ("session_block", _session),
    ("consistency", _consistency),
)


def account_distances(rules: list[Rule[Any]], ctx: Context) -> list[Distance]:
    """The distances of the rules that are on, in the panel's order."""
    by_key = {r.key: r for r in rules}
    out: list[Distance] = []
    for key, make in _ORDER:
        rule = by_key.get(key)
        if rule is not None:
            found = make(rule, ctx)
            if found is not None:
                out.append(found)
    return out


def tightest(distances: list[Distance] | tuple[Distance, ...]) -> Distance | None:
    """The one nearest its limit: the worst level, then the most used."""
    return max(distances, key=lambda d: (_RANK[d.level], d.used), default=None)
