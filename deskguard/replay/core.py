"""Replay one account's fills through a rule set and say what the rules would have changed.

Semantics (README "Rules lab (replay)"; issue 14; rules.md "Replay"):

- Fills are fed to the ``RiskEngine`` in timestamp order (then by id), the clock set to each fill's
  time; the engine's decisions apply from the moment of the fill (or clock tick) that caused them.
  Clock ticks are fed at every deadline the engine names (lock ends, resets, session ends).
- The account's position per contract is rebuilt from the fills. A *round trip* runs from flat to
  flat on one contract (a fill that reverses the position closes one round trip and opens the next).
- A round trip that opens while a lock covers its symbol is **blocked**: all its fills are removed
  from the guarded figures (counted as blocked trades), the fills that close it included.
- A position a rule closes (close, flatten, or the close-on-sight of a lock) is closed in the guarded
  figures at the decision time, valued at the close of the one-minute bar containing the decision
  when bars are given, else at the next fill price of that contract after the decision (the best
  price known without market data; the last fill price when no later fill exists). The rest of that
  round trip is removed: its opening/adding fills count as blocked, its closing fills are replaced by
  the rule's close. The close pays the round trip's fee per contract. A reduction closes part of the
  position the same way; the trader's later closing fills first cover the part already closed.
- Quote-driven rules (004, 005, 012, and the open P&L of 003 and 014) are evaluated on one-minute
  bars when bars are given; otherwise they are skipped and the result says so. 008 (stop-loss grace)
  and 010 (account disabled) need order and account history the gateway does not keep: skipped.
- A trading day is labelled by the date it ends (``TradingCalendar.trading_date``). Figures are net
  of fees unless ``include_fees`` is false.

At about 530 lines this is one cohesive thing: one pass over the fills (``_Run``) that rebuilds
positions, feeds the engine and keeps the guarded figures, plus the result types it fills in; each
rule above touches the same running state, so the pass stays whole.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..engine.clock import FakeClock
from ..engine.decisions import Action, Decision
from ..engine.engine import RiskEngine, Verdict
from ..engine.events import AccountUpdated, ClockTick, Event, PositionUpdated, QuoteUpdated, TradeFilled
from ..engine.instruments import symbol_of
from ..engine.models import Account, Position, PositionType, Quote, Side, Trade, money
from ..engine.rules import RULES_BY_KEY
from ..engine.settings import EngineSettings

BAR = timedelta(minutes=1)
#: A bar's quote is fed just before the bar ends, so a decision it causes lies inside that bar and
#: is valued at its close.
_BAR_QUOTE_AT = BAR - timedelta(milliseconds=1)

#: Rules that need quotes (or their open-P&L part does): evaluated only on bars.
QUOTE_RULES = ("daily_unrealized_loss", "max_unrealized_profit", "trade_management")
#: Rules that need history the gateway does not keep.
NO_HISTORY_RULES = {
    "no_stop_loss_grace": "needs the order history (stops) the gateway does not keep",
    "auth_loss_guard": "needs the account's canTrade history the gateway does not keep",
}


class ReplayCancelled(Exception):
    """The caller's ``cancelled()`` said stop."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One one-minute bar of a contract (``start`` is its opening minute)."""

    contract_id: str
    start: datetime
    open: float
    high: float
    low: float
    close: float


@dataclass(slots=True)
class DayResult:
    day: date  # the trading day's label: the date it ends
    actual: float = 0.0  # net P&L the account made
    guarded: float = 0.0  # net P&L under the rule set
    blocked: int = 0  # fills the rules would have prevented
    first_lock_rule: str | None = None
    first_lock_at: datetime | None = None
    fired: set[str] = field(default_factory=set)  # rules that closed, reduced, flattened or locked


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment a rule acted (for the chart)."""

    time: datetime
    day: date
    rule: str
    action: str
    reason: str


@dataclass(slots=True)
class ReplayResult:
    days: list[DayResult]
    markers: list[Marker]
    notes: list[str]  # what was skipped or approximated, in plain English
    engine_seconds: float = 0.0
    fills: int = 0

    @property
    def actual_total(self) -> float:
        return money(sum(d.actual for d in self.days))

    @property
    def guarded_total(self) -> float:
        return money(sum(d.guarded for d in self.days))

    @property
    def blocked_total(self) -> int:
        return sum(d.blocked for d in self.days)

    @property
    def worst_actual(self) -> DayResult | None:
        return min(self.days, key=lambda d: d.actual, default=None)

    @property
    def worst_guarded(self) -> DayResult | None:
        return min(self.days, key=lambda d: d.guarded, default=None)

    def rule_days(self) -> dict[str, int]:
        """How many trading days each rule fired on, in rule-book order."""
        counts: dict[str, int] = {}
        for key in RULES_BY_KEY:
            n = sum(1 for d in self.days if key in d.fired)
            if n:
                counts[key] = n
        return counts


def replay_settings(settings: EngineSettings, with_bars: bool) -> tuple[EngineSettings, list[str]]:
    """The rule set as the replay can run it, and notes on what it had to leave out."""
    notes: list[str] = []
    out = settings
    for key, why in NO_HISTORY_RULES.items():
        if out.rules[key].enabled:
            out = out.with_rule(key, enabled=False)
            notes.append(f"{RULES_BY_KEY[key].number} {key} skipped: {why}")
    if with_bars:
        return out, notes
    for key in QUOTE_RULES:
        if out.rules[key].enabled:
            out = out.with_rule(key, enabled=False)
            notes.append(f"{RULES_BY_KEY[key].number} {key} skipped: it needs quotes (run with --bars)")
    if out.rules["daily_realized_loss"].enabled and out.rules["daily_realized_loss"].count_open_pnl:
        out = out.with_rule("daily_realized_loss", count_open_pnl=False)
        notes.append("003 daily_realized_loss counted realized P&L only: open P&L needs quotes (run with --bars)")
    if out.rules["trailing_drawdown"].enabled:
        notes.append("014 trailing_drawdown counted on the balance only: open P&L needs quotes (run with --bars)")
    return out, notes


# ----- the fills, split into pieces that each open/add or reduce ---------------------------------


@dataclass(slots=True)
class _Piece:
    trade: Trade  # the fill (a part of it, for a reversal), as the engine will see it
    original_id: int  # the gateway's trade id (blocked counts are per fill)
    signed: int  # +size for a buy, -size for a sell
    opening: bool  # opens or adds to the position
    starts_trip: bool  # opens from flat
    ends_trip: bool  # leaves the position flat


def _pieces(trades: Sequence[Trade], synthetic_ids: Callable[[], int]) -> list[_Piece]:
    out: list[_Piece] = []
    actual: dict[str, int] = {}
    for t in trades:
        if t.voided or t.size <= 0:
            continue
        a = actual.get(t.contract_id, 0)
        s = t.size if t.side == Side.BUY else -t.size
        if a == 0 or (a > 0) == (s > 0):
            out.append(_Piece(t, t.id, s, True, a == 0, False))
        elif abs(s) <= abs(a):
            out.append(_Piece(t, t.id, s, False, False, abs(s) == abs(a)))
        else:  # a reversal: close what was open, open the rest
            close_n, open_n = abs(a), abs(s) - abs(a)
            fee_close = money(t.fees * close_n / t.size)
            closing = dataclasses.replace(t, size=close_n, fees=fee_close)
            opening = dataclasses.replace(t, id=synthetic_ids(), size=open_n, pnl=None, fees=money(t.fees - fee_close))
            sign = 1 if s > 0 else -1
            out.append(_Piece(closing, t.id, sign * close_n, False, False, True))
            out.append(_Piece(opening, t.id, sign * open_n, True, True, False))
        actual[t.contract_id] = a + s
    return out


# ----- the guarded account ------------------------------------------------------------------------


@dataclass(slots=True)
class _Guarded:
    size: int = 0  # signed
    avg: float = 0.0
    opened_at: datetime | None = None
    mode: str = "normal"  # normal | cut (a rule closed it) | blocked (opened while locked)
    fee_per_contract: float = 0.0
    stop: float | None = None  # 012's stop (bars only)


class _Run:
    def __init__(self, trades: Sequence[Trade], settings: EngineSettings, bars: Sequence[Bar] | None,
                 account_id: int, starting_balance: float | None) -> None:
        self.settings = settings
        self.calendar = settings.calendar
        self.account_id = account_id
        self.include_fees = settings.include_fees
        first = trades[0].time if trades else (bars[0].start if bars else datetime.now().astimezone())
        self.clock = FakeClock(first)
        self.engine = RiskEngine(settings, self.clock)
        self._next_id = -1
        self.balance = starting_balance
        self.days: dict[date, DayResult] = {}
        self.markers: list[Marker] = []
        self.notes: list[str] = []
        self.positions: dict[str, _Guarded] = {}
        self.blocked_ids: set[int] = set()
        self.actual: dict[str, int] = {}  # the trader's real signed size per contract
        # Fill prices per contract (all fills, blocked ones too: they are prices the market gave).
        self.fill_times: dict[str, list[datetime]] = {}
        self.fill_prices: dict[str, list[float]] = {}
        for t in trades:
            if not t.voided:
                self.fill_times.setdefault(t.contract_id, []).append(t.time)
                self.fill_prices.setdefault(t.contract_id, []).append(t.price)
        self.bars: dict[str, dict[datetime, Bar]] = {}
        for b in bars or ():
            self.bars.setdefault(b.contract_id, {})[b.start] = b
        self._noted_last_price = False
        self._day_span: tuple[datetime, datetime, date] | None = None
        self._deadline: datetime | None = None
        self._deadline_stale = True
        self.engine.state(account_id)
        if starting_balance is not None:
            self._account_update()

    def synthetic_id(self) -> int:
        self._next_id -= 1
        return self._next_id

    def day(self, moment: datetime) -> DayResult:
        span = self._day_span
        if span is not None and span[0] <= moment < span[1]:
            label = span[2]
        else:  # zoneinfo arithmetic once per trading day, not once per fill
            start = self.calendar.day_start(moment)
            end = self.calendar.next_reset(moment)
            label = end.astimezone(self.calendar.timezone).date()
            self._day_span = (start, end, label)
        found = self.days.get(label)
        if found is None:
            found = self.days[label] = DayResult(label)
        return found

    # ----- time ---------------------------------------------------------------------------

    def advance(self, to: datetime) -> None:
        """Feed clock ticks at every deadline up to ``to`` (lock ends, resets, session ends)."""
        while True:
            if self._deadline_stale:
                # The next deadline moves only when a lock starts or ends, the day rolls, a
                # deadline passes (a session's end) or a position changes: read it again only then.
                self._deadline = self.engine.next_deadline(self.account_id)
                self._deadline_stale = False
            deadline = self._deadline
            if deadline is None or deadline > to or deadline <= self.clock.now():
                break
            self.clock.set(deadline)
            self._deadline_stale = True
            self.handle(self.engine.process(ClockTick(deadline)))
        if to > self.clock.now():
            self.clock.set(to)

    def locked(self, contract_id: str, now: datetime) -> bool:
        sym = symbol_of(contract_id)
        return any(lock.covers(sym) and not lock.is_over(now, True) for lock in self.engine.state(self.account_id).locks)

    # ----- fills --------------------------------------------------------------------------

    def fill(self, piece: _Piece) -> None:
        t = piece.trade
        c = t.contract_id
        g = self.positions.setdefault(c, _Guarded())
        a_before = self.actual.get(c, 0)
        self.actual[c] = a_before + piece.signed
        day = self.day(t.time)
        if piece.starts_trip:
            g.mode = "blocked" if self.locked(c, t.time) else "normal"
            g.fee_per_contract = t.fees / t.size if t.size else 0.0
        try:
            if g.mode == "blocked" or (g.mode == "cut" and piece.opening):
                if piece.original_id not in self.blocked_ids:  # a reversal's two pieces are one fill
                    self.blocked_ids.add(piece.original_id)
                    day.blocked += 1
                return
            if g.mode == "cut":
                return  # a closing fill of a position the rule already closed
            if piece.opening:
                new = g.size + piece.signed
                g.avg = (g.avg * abs(g.size) + t.price * abs(piece.signed)) / abs(new)
                if g.size == 0:
                    g.opened_at = t.time
                g.size = new
                self.feed_fill(t, c, g)
                return
            already_closed = abs(a_before) - abs(g.size)
            rest = abs(piece.signed) - min(abs(piece.signed), already_closed)
            if rest <= 0:
                return
            if rest != abs(piece.signed):
                share = rest / abs(piece.signed)
                t = dataclasses.replace(t, id=self.synthetic_id(), size=rest, fees=money(t.fees * share),
                                        pnl=None if t.pnl is None else money(t.pnl * share))
            g.size += rest if g.size < 0 else -rest
            if g.size == 0:
                g.avg, g.opened_at, g.stop = 0.0, None, None
            self.feed_fill(t, c, g)
        finally:
            if piece.ends_trip:
                g.mode = "normal"

    def feed_fill(self, trade: Trade, contract_id: str, g: _Guarded) -> None:
        """The engine sees the position change, then the fill (as the gateway's hub sends them)."""
        # A position now open may face a session's end that was not the next deadline while the
        # market was closed (a day-session window): read the deadline again.
        self._deadline_stale = True
        self.feed(PositionUpdated(self._position(contract_id, g)))
        self.day(trade.time).guarded += trade.net_pnl(self.include_fees)
        self.feed(TradeFilled(trade))
        if self.balance is not None:
            self.balance = money(self.balance + trade.net_pnl(True))
            self._account_update()

    def _account_update(self) -> None:
        assert self.balance is not None
        self.feed(AccountUpdated(Account(self.account_id, "replay", self.balance)))

    def _position(self, contract_id: str, g: _Guarded) -> Position:
        return Position(self.account_id, contract_id, PositionType.LONG if g.size >= 0 else PositionType.SHORT,
                        abs(g.size), g.avg, g.opened_at)

    def feed(self, event: Event) -> None:
        self.handle(self.engine.process(event))

    # ----- bars ---------------------------------------------------------------------------

    def bar(self, b: Bar) -> None:
        g = self.positions.get(b.contract_id)
        if g is not None and g.size != 0 and g.stop is not None and g.mode == "normal":
            hit = b.low <= g.stop if g.size > 0 else b.high >= g.stop
            if hit:  # the stop 012 would have placed traded through: filled at its price
                day = self.day(b.start)
                day.fired.add("trade_management")
                self.markers.append(Marker(b.start, day.day, "trade_management", "stop_filled",
                                           f"{symbol_of(b.contract_id)} stop at {g.stop} filled"))
                self.close(b.contract_id, g, 0, "trade_management", b.start, price=g.stop)
        t = b.start + _BAR_QUOTE_AT
        self.feed(QuoteUpdated(Quote(b.contract_id, t, last=b.close)))

    # ----- decisions ----------------------------------------------------------------------

    def handle(self, verdicts: Iterable[Verdict]) -> None:
        now = self.clock.now()
        closes: list[tuple[str, int, str]] = []
        for verdict in verdicts:
            if verdict.new_locks or verdict.ended_locks or verdict.day_rolled:
                self._deadline_stale = True
            for d in verdict.decisions:
                self._note_decision(d, now, closes)
        for contract_id, size, rule in closes:
            g = self.positions.get(contract_id)
            if g is not None and g.size != 0 and abs(g.size) > size:
                self.close(contract_id, g, size, rule, now)

    def _note_decision(self, d: Decision, now: datetime, closes: list[tuple[str, int, str]]) -> None:
        day = self.day(now)
        if d.action == Action.LOCK and d.lock is not None:
            if day.first_lock_rule is None:
                day.first_lock_rule, day.first_lock_at = d.rule, now
        elif d.action == Action.FLATTEN:
            closes.extend((c, 0, d.rule) for c, g in self.positions.items() if g.size != 0)
        elif d.action == Action.CLOSE_POSITION and d.contract_id is not None:
            closes.append((d.contract_id, 0, d.rule))
        elif d.action == Action.REDUCE_POSITION and d.contract_id is not None:
            closes.append((d.contract_id, d.size or 0, d.rule))
        elif d.action in (Action.PLACE_STOP, Action.MOVE_STOP) and d.contract_id is not None:
            g = self.positions.get(d.contract_id)
            if g is not None and d.stop_price is not None:
                g.stop = d.stop_price
            return
        else:
            return
        day.fired.add(d.rule)
        self.markers.append(Marker(now, day.day, d.rule, str(d.action), d.reason))

    def close(self, contract_id: str, g: _Guarded, to_size: int, rule: str, now: datetime,
              price: float | None = None) -> None:
        """Close (or reduce to ``to_size``) the guarded position at the valuation price."""
        n = abs(g.size) - to_size
        exit_price = price if price is not None else self.valuation(contract_id, now)
        tick = self.engine.pricing.tick(contract_id)
        direction = 1 if g.size > 0 else -1
        if tick is None:
            pnl = 0.0
            self.notes.append(f"{contract_id}: no tick size known; a position closed by a rule was valued at 0")
        else:
            pnl = money(round((exit_price - g.avg) / tick[0], 6) * tick[1] * n * direction)
        trade = Trade(self.synthetic_id(), self.account_id, contract_id, now, exit_price, pnl,
                      money(g.fee_per_contract * n), Side.SELL if direction > 0 else Side.BUY, n)
        g.size -= n * direction
        if g.size == 0:
            g.avg, g.opened_at, g.stop = 0.0, None, None
            if self.actual.get(contract_id, 0) != 0:
                g.mode = "cut"
        self.feed_fill(trade, contract_id, g)

    def valuation(self, contract_id: str, now: datetime) -> float:
        bars = self.bars.get(contract_id)
        if bars:
            start = now - timedelta(seconds=now.second, microseconds=now.microsecond)
            found = bars.get(start)
            if found is not None:
                return found.close
        times = self.fill_times.get(contract_id, [])
        prices = self.fill_prices.get(contract_id, [])
        i = bisect.bisect_right(times, now)
        if i < len(prices):
            return prices[i]
        if not self._noted_last_price:
            self._noted_last_price = True
            self.notes.append("a position closed by a rule after the last fill of its contract was valued "
                              "at that last fill's price")
        return prices[i - 1] if i else 0.0


def replay(
    trades: Iterable[Trade],
    settings: EngineSettings,
    *,
    account_id: int | None = None,
    bars: Sequence[Bar] | None = None,
    starting_balance: float | None = None,
    days: tuple[date, date] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ReplayResult:
    """Replay ``trades`` (the gateway's Trade/search records of one account) through ``settings``.

    ``days``: only trading days from..to (inclusive) are fed and reported. ``bars``: one-minute bars
    (quote-driven rules run on them, and rule closes are valued at their close). ``starting_balance``:
    the balance before the first fill (014 needs it; without it 014 is skipped). ``progress(done,
    total)`` is called every few hundred events; ``cancelled()`` returning true raises
    :class:`ReplayCancelled`."""
    steps = replay_steps(trades, settings, account_id=account_id, bars=bars, starting_balance=starting_balance,
                         days=days)
    while True:
        try:
            done, total = next(steps)
        except StopIteration as stop:
            result: ReplayResult = stop.value
            if progress is not None:
                progress(result.fills, result.fills)
            return result
        if cancelled is not None and cancelled():
            steps.close()
            raise ReplayCancelled()
        if progress is not None:
            progress(done, total)


def replay_steps(
    trades: Iterable[Trade],
    settings: EngineSettings,
    *,
    account_id: int | None = None,
    bars: Sequence[Bar] | None = None,
    starting_balance: float | None = None,
    days: tuple[date, date] | None = None,
    chunk: int = 256,
) -> Generator[tuple[int, int], None, ReplayResult]:
    """:func:`replay` in chunks: yields (events done, events in all) every ``chunk`` events and
    returns the result, so a window can run it on its own loop between paints (no thread)."""
    items = sorted((t for t in trades if account_id is None or t.account_id == account_id), key=lambda t: (t.time, t.id))
    if days is not None:
        items = [t for t in items if days[0] <= settings.calendar.trading_date(t.time) <= days[1]]
    acct = account_id if account_id is not None else (items[0].account_id if items else 0)
    with_bars = bars is not None
    settings, notes = replay_settings(settings, with_bars)
    if starting_balance is None and settings.rules["trailing_drawdown"].enabled:
        settings = settings.with_rule("trailing_drawdown", enabled=False)
        notes = [n for n in notes if not n.startswith("014")]
        notes.append("014 trailing_drawdown skipped: the account's starting balance is not known")
    bar_list = sorted(bars or (), key=lambda b: (b.start, b.contract_id))
    if days is not None and bar_list:
        bar_list = [b for b in bar_list if days[0] <= settings.calendar.trading_date(b.start) <= days[1]]
    run = _Run(items, settings, bar_list, acct, starting_balance)
    pieces = _pieces(items, run.synthetic_id)
    # One timeline: fills and bars by time (a bar's quote comes just before the bar's end).
    timeline: list[tuple[datetime, int, _Piece | Bar]] = [(p.trade.time, 0, p) for p in pieces]
    timeline += [(b.start + _BAR_QUOTE_AT, 1, b) for b in bar_list]
    timeline.sort(key=lambda x: (x[0], x[1]))
    for t in items:
        run.day(t.time).actual += t.net_pnl(settings.include_fees)
    elapsed = 0.0  # engine time only: not the time spent suspended between chunks
    started = time.perf_counter()
    total = len(timeline)
    for i, (moment, _kind, item) in enumerate(timeline):
        if i and i % chunk == 0:
            elapsed += time.perf_counter() - started
            yield i, total
            started = time.perf_counter()
        run.advance(moment)
        if isinstance(item, Bar):
            run.bar(item)
            continue
        run.fill(item)
    elapsed += time.perf_counter() - started
    for day in run.days.values():
        day.actual, day.guarded = money(day.actual), money(day.guarded)
    result_days = sorted(run.days.values(), key=lambda d: d.day)
    if days is not None:
        result_days = [d for d in result_days if days[0] <= d.day <= days[1]]
    return ReplayResult(result_days, run.markers, notes + run.notes, elapsed, len(items))
