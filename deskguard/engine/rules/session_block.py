"""009 session_block — trade only inside your hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..calendar import SessionCalendar, SessionWindow, parse_days
from ..decisions import Decision, LockKind
from ..models import Order, PositionType, Side
from ..schema import Unit, param
from ..state import AccountState
from .base import Context, Figure, Rule, Trigger, enabled_param


@dataclass(frozen=True, slots=True)
class Window:
    days: str = param("Sun-Thu", help='Days the window starts on: "Mon-Fri", "Sun-Thu", "Mon,Wed".')
    start: time = param(time(17, 0), help="Opening time (HH:MM).")
    end: time = param(time(15, 10), help="Closing time (HH:MM); not after the start means the next day.")
    timezone: str = param("America/Chicago", help="IANA time zone of the times, e.g. America/New_York.")

    def __post_init__(self) -> None:
        parse_days(self.days)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if self.start == self.end:
            raise ValueError("start and end are the same time: the window would be empty or a whole day; "
                             "write e.g. 17:00 to 16:00")

    def to_window(self) -> SessionWindow:
        return SessionWindow(parse_days(self.days), self.start, self.end, ZoneInfo(self.timezone))


@dataclass(frozen=True, slots=True)
class Params:
    enabled: bool = enabled_param(True)
    windows: tuple[Window, ...] = param(
        (Window(),), help="When trading is allowed (default: Topstep's session, 17:00 CT to 15:10 CT next day)."
    )
    holidays: tuple[date, ...] = param(
        (date(2026, 1, 1), date(2026, 12, 25), date(2027, 1, 1)),
        help="Trading dates with no session (the date a session would end on).",
    )
    early_closes: dict[date, time] = param(
        default_factory=lambda: {date(2026, 11, 27): time(12, 0), date(2026, 12, 24): time(12, 0)},
        help="Trading dates whose session closes early, e.g. { 2026-11-27 = 12:00 }.",
    )
    flatten_at_end: bool = param(True, help="Flatten positions still open when a window ends.")


class SessionBlock(Rule[Params]):
    key = "session_block"
    number = "009"
    title = "Trading hours"
    summary = "Flattens and locks until the next session when anything is open outside your hours."
    # An alias (not a `type` statement, whose value is no class): __init__ names it in its signature.
    Params: TypeAlias = Params  # noqa: UP040
    triggers = Trigger.POSITION | Trigger.ORDER | Trigger.TICK | Trigger.RESYNC

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.sessions = SessionCalendar(
            tuple(w.to_window() for w in params.windows), frozenset(params.holidays), dict(params.early_closes)
        )
        self._known: tuple[datetime, datetime, bool] | None = None  # [from, to): open or closed

    def is_open(self, now: datetime) -> bool:
        """Whether trading is allowed now, remembered for the stretch where the answer holds
        (zoneinfo arithmetic on every event would dominate the engine's cost)."""
        known = self._known
        if known is not None and known[0] <= now < known[1]:
            return known[2]
        span = self.sessions.current(now)
        if span is not None:
            self._known = (span[0], span[1], True)
            return True
        nxt = self.sessions.next_open(now)
        self._known = (now, nxt if nxt is not None else now + timedelta(days=1), False)
        return False

    def evaluate(self, ctx: Context) -> list[Decision]:
        state = ctx.state
        if self.is_open(ctx.now):
            state.session_carry.clear()
            return []
        carry = state.session_carry
        if not self.params.flatten_at_end:
            ended_at = _just_closed(self, ctx.now)
            if ended_at is not None and not carry:  # the end-of-window sweep: let open positions through
                carry.update(c for c, p in state.positions.items() if p.opened_at is None or p.opened_at < ended_at)
            carry.intersection_update(state.positions)  # a carried position, once closed, has no pass
        offenders = [c for c in state.positions if c not in carry]
        offenders += [o.contract_id for o in state.orders.values() if not _exits_carried(o, state)]
        if not offenders:
            return []
        if state.has_lock(self.key, LockKind.UNTIL_SESSION):
            return []  # the lock's close-on-sight already handles what is open
        until = self.sessions.next_open(ctx.now)
        when = until.astimezone(self.params.windows[0].to_window().timezone).strftime("%a %H:%M") if until else "never"
        reason = f"outside trading hours with {len(offenders)} position(s)/order(s) open; next session {when}"
        return [ctx.flatten(self.key, reason), ctx.lock(self.key, reason, LockKind.UNTIL_SESSION, until)]

    def deadline(self, state: AccountState, now: datetime) -> datetime | None:
        return self.sessions.next_close(now)

    def figure(self, ctx: Context) -> Figure:
        close = self.sessions.next_close(ctx.now)
        if close is None:
            nxt = self.sessions.next_open(ctx.now)
            return Figure(0, 0, Unit.NONE, f"closed; opens {nxt:%a %H:%M %Z}" if nxt else "closed")
        return Figure(0, 0, Unit.NONE, f"open until {close:%a %H:%M %Z}")


def _just_closed(rule: SessionBlock, now: datetime) -> datetime | None:
    """When the window closed, if it closed within the last minute (the end-of-window sweep)."""
    span = rule.sessions.current(now - timedelta(seconds=60))
    return span[1] if span is not None else None


def _exits_carried(order: Order, state: AccountState) -> bool:
    """A working order that can only close a position let through the window end (its stop, its
    target): it rides through with the position."""
    pos = state.positions.get(order.contract_id)
    if pos is None or order.contract_id not in state.session_carry:
        return False
    return order.side == (Side.SELL if pos.type == PositionType.LONG else Side.BUY)


