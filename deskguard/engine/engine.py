"""The RiskEngine: an event in, decisions and the new account state out. Pure: no I/O, no awaiting.

For each event the engine (1) rolls the trading day if a reset passed, (2) applies the broker's
word to the account state, (3) ends locks that are over, (4) asks every enabled rule that reacts to
this kind of event, (5) adds any positions or orders inside an active lock's scope (close on sight),
and (6) merges everything so the harshest decision wins. New locks are recorded in the state at once.

At about 500 lines this is one cohesive thing: the six steps share each account's state and must run
in this order within one call. The rules, the state, the decisions' merge and the distances already
live in their own modules; what stays here is the pipeline that orders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .clock import Clock
from .decisions import Action, Decision, Lock, LockKind, merge
from .distance import Distance, account_distances
from .events import (
    AccountUpdated,
    ClockTick,
    Event,
    OrderUpdated,
    PositionUpdated,
    QuoteUpdated,
    Resync,
    TradeFilled,
)
from .instruments import symbol_of
from .models import ContractSpec, Position, Trade, money
from .pricing import Pricing
from .rules import ALL_RULES, Context, Figure, Rule, Trigger
from .rules.symbol_blocks import SymbolBlocks
from .settings import AccountSettings, EngineSettings
from .state import AccountState

_TRIGGER_OF: dict[type, Trigger] = {
    AccountUpdated: Trigger.ACCOUNT,
    PositionUpdated: Trigger.POSITION,
    OrderUpdated: Trigger.ORDER,
    TradeFilled: Trigger.TRADE,
    QuoteUpdated: Trigger.QUOTE,
    ClockTick: Trigger.TICK,
    Resync: Trigger.RESYNC,
}


@dataclass(slots=True)
class Verdict:
    """What one event means for one account."""

    account_id: int
    decisions: list[Decision]
    state: AccountState
    new_locks: list[Lock] = field(default_factory=list)
    ended_locks: list[Lock] = field(default_factory=list)
    day_rolled: bool = False
    new_trades: list[Trade] = field(default_factory=list)  # trades seen for the first time
    end_of_day: float | None = None  # the balance recorded at the reset this event rolled over


@dataclass(slots=True)
class RuleSet:
    """One account's rules, built from its effective settings (accounts sharing settings share it)."""

    settings: AccountSettings
    rules: list[Rule[Any]]
    by_trigger: dict[Trigger, list[Rule[Any]]]


def build_rules(account: AccountSettings, start: float | None = None) -> RuleSet:
    """The rule objects of one account's settings. ``start``: the starting balance 014 stops
    trailing at, when the settings leave it to run time (a funded account's first balance seen)."""
    params = dict(account.rules)
    if start is not None:
        p14 = params["trailing_drawdown"]
        params["trailing_drawdown"] = replace(p14, stop_trailing_at=p14.stop_trailing_at or start,
                                              high_water_mark=p14.high_water_mark or start)
    rules: list[Rule[Any]] = [r(params[r.key]) for r in ALL_RULES if params[r.key].enabled]
    for rule in rules:
        rule.bind(rules)  # a rule that reads another's settings (018 reads 003's and 014's) finds it here
    by_trigger = {t: [r for r in rules if r.triggers & t] for t in _TRIGGER_OF.values()}
    by_trigger[Trigger.QUOTE] = [r for r in rules if r.wants_quotes()]
    return RuleSet(account, rules, by_trigger)


class RiskEngine:
    def __init__(self, settings: EngineSettings, clock: Clock) -> None:
        self.clock = clock
        self.pricing = Pricing(settings.stale_quote_seconds)
        self.accounts: dict[int, AccountState] = {}
        self.apply_settings(settings)

    # ----- configuration -------------------------------------------------------------------

    def apply_settings(self, settings: EngineSettings) -> list[Lock]:
        """Swap in new settings (already split into now/pending by the config layer).

        Rule changes never lift an active lock, except a symbol block's permanent lock when the
        symbol is no longer blocked (rules.md: permanent "while the rule stays configured").
        Returns the locks that ended."""
        self.settings = settings
        self.calendar = settings.calendar
        self.pricing.stale_after = settings.stale_quote_seconds
        self._built: dict[tuple[int, float | None], RuleSet] = {}
        self._bound: dict[int, tuple[str | None, float | None, RuleSet]] = {}
        shared = self._build(settings.shared, None)
        #: The shared rules (accounts without a table of their own).
        self.rules: list[Rule[Any]] = shared.rules
        ended: list[Lock] = []
        for state in self.accounts.values():
            blocker = next((r for r in self._ruleset(state).rules if isinstance(r, SymbolBlocks)), None)
            for lock in list(state.locks):
                if (lock.kind == LockKind.PERMANENT and lock.symbol is not None
                        and (blocker is None or not blocker.blocks(lock.symbol))):
                    state.locks.remove(lock)
                    ended.append(lock)
        return ended

    def _build(self, account: AccountSettings, start: float | None) -> RuleSet:
        key = (id(account), start)
        built = self._built.get(key)
        if built is None or built.settings is not account:
            built = self._built[key] = build_rules(account, start)
        return built

    def _ruleset(self, state: AccountState) -> RuleSet:
        """The account's own rules (by its id or name), rebuilt only when what picks them changes:
        its name arriving, new settings, or the starting balance becoming known."""
        name = state.account.name if state.account is not None else None
        bound = self._bound.get(state.account_id)
        if bound is not None and bound[0] == name and bound[1] == state.start_balance:
            return bound[2]
        account = self.settings.for_account(state.account_id, name)
        state.starting_balance = account.starting_balance
        start = state.start_balance if account.trail_to_start else None
        ruleset = self._build(account, start)
        self._bound[state.account_id] = (name, state.start_balance, ruleset)
        return ruleset

    def account_settings(self, account_id: int) -> AccountSettings:
        """The effective settings the account is guarded by."""
        return self._ruleset(self.state(account_id)).settings

    def add_contract_spec(self, spec: ContractSpec) -> None:
        self.pricing.add_spec(spec)

    # ----- state ---------------------------------------------------------------------------

    def state(self, account_id: int) -> AccountState:
        state = self.accounts.get(account_id)
        if state is None:
            state = AccountState(account_id)
            self.accounts[account_id] = state
            self._roll(state, self.clock.now())
        return state

    def restore(
        self,
        account_id: int,
        *,
        locks: Iterable[Lock] = (),
        seen_trade_ids: Iterable[int] = (),
        high_water_mark: float | None = None,
        realized_week_before_today: float = 0.0,
        losing_streak: int = 0,
        memory: Mapping[str, Any] | None = None,
        end_of_day_high: float | None = None,
    ) -> None:
        """Load what the store kept across a restart. Restarting never lifts a lock, and with
        ``memory`` (from :meth:`memory`) it changes no decision the rules make."""
        state = self.state(account_id)
        for lock in locks:
            if lock not in state.locks:
                state.locks.append(lock)
        state.seen_trade_ids.update(seen_trade_ids)
        if high_water_mark is not None:
            state.high_water_mark = max(high_water_mark, state.high_water_mark or high_water_mark)
        state.realized_week_before_today = realized_week_before_today
        state.losing_streak = losing_streak
        if memory:
            state.restore_memory(memory)
        if end_of_day_high is not None and (state.eod_high is None or end_of_day_high > state.eod_high):
            state.eod_high = end_of_day_high  # the highest balance recorded at a reset (the store's)

    def forget_stop_request(self, account_id: int, contract_id: str, rule: str = "trade_management") -> None:
        """012 or 018 asked for a stop that was not placed or moved (the call failed): ask again next time."""
        state = self.accounts.get(account_id)
        if state is not None:
            (state.safety_net if rule == "safety_net" else state.requested_stops).pop(contract_id, None)

    def note_safety_net_order(self, account_id: int, order_id: int) -> None:
        """018's stop was placed with this id: it is the app's own, whatever its updates carry."""
        self.state(account_id).safety_net_ids.add(order_id)

    def memory(self, account_id: int) -> dict[str, Any]:
        """What the rules of one account remember, JSON-ready, for the store (rules.md "Memory")."""
        return self.state(account_id).memory()

    # ----- evaluation ----------------------------------------------------------------------

    def process(self, event: Event) -> list[Verdict]:
        now = self.clock.now()
        trigger = _TRIGGER_OF[type(event)]
        if trigger is Trigger.QUOTE:
            return self._on_quote(event, now)  # type: ignore[arg-type]  # QUOTE is the quote event's trigger only
        if trigger is Trigger.TICK:
            return [self._evaluate(s, event, trigger, now) for s in list(self.accounts.values())]
        state = self.state(event.account_id)  # type: ignore[union-attr]  # every event but a tick names an account
        return [self._evaluate(state, event, trigger, now)]

    def _on_quote(self, event: QuoteUpdated, now: datetime) -> list[Verdict]:
        """The hot path (90 % of events): only accounts holding the contract, only the rules that
        quotes can move, and no allocation for an account where nothing happens."""
        quote = event.quote
        self.pricing.update(quote)
        out: list[Verdict] = []
        contract = quote.contract_id
        for state in self.accounts.values():
            if contract not in state.positions:
                continue
            rules = self._ruleset(state).by_trigger[Trigger.QUOTE]
            if state.next_reset is not None and now >= state.next_reset:
                out.append(self._evaluate(state, event, Trigger.QUOTE, now, rules))  # rolls the day
                continue
            if not rules and not state.locks:
                continue
            ended = self._end_locks(state, now) if state.locks else []
            ctx = Context(state, event, Trigger.QUOTE, now, self.calendar, self.pricing,
                          self.settings.include_fees, quote=quote)
            decisions: list[Decision] = []
            new_locks: list[Lock] = []
            for rule in rules:
                proposed = rule.evaluate(ctx)
                if proposed:
                    self._accept(state, proposed, decisions, new_locks, now)
            if decisions or ended:
                out.append(Verdict(state.account_id, merge(decisions), state, new_locks, ended))
        return out

    def _evaluate(
        self, state: AccountState, event: Event, trigger: Trigger, now: datetime, rules: list[Rule[Any]] | None = None
    ) -> Verdict:
        rolled = state.next_reset is not None and now >= state.next_reset
        end_of_day = self._roll(state, now) if rolled else None
        ctx = Context(state, event, trigger, now, self.calendar, self.pricing, self.settings.include_fees)
        self._apply(state, event, ctx)
        ended = self._end_locks(state, now)
        decisions: list[Decision] = []
        new_locks: list[Lock] = []
        for rule in rules if rules is not None else self._ruleset(state).by_trigger[trigger]:
            proposed = list(rule.evaluate(ctx))
            if proposed:
                self._accept(state, proposed, decisions, new_locks, now)
        if trigger is not Trigger.QUOTE and state.locks:
            decisions.extend(self._close_on_sight(state))
        return Verdict(state.account_id, merge(decisions) if decisions else decisions, state, new_locks, ended, rolled,
                       ctx.new_trades, end_of_day)

    def _accept(self, state: AccountState, proposed: list[Decision], decisions: list[Decision],
                new_locks: list[Lock], now: datetime) -> None:
        """Take a rule's decisions, recording its new lock in the state at once.

        Of the locks a rule proposes (several when a resync brings several missed trades), only the
        longest per scope counts, and only if no standing lock of the rule outlasts it. When none is
        left, the standing lock's close on sight covers the breach and the rule's decisions are dropped."""
        locks = [d.lock for d in proposed if d.action == Action.LOCK and d.lock is not None]
        if locks:
            longest: dict[str, Lock] = {}
            for lock in locks:
                best = longest.get(lock.scope)
                if best is None or not best.outlasts(lock):
                    longest[lock.scope] = lock
            kept = [lock for lock in longest.values() if not self._already_locked(state, lock)]
            if not kept:
                return
            if all(lock.until is not None and lock.until <= now for lock in kept):
                # A trade the app did not see live is judged at its own time (rules.md): its
                # cooldown has already run out, so it is written down and enforces nothing.
                lock = max(kept, key=lambda k: k.until)  # type: ignore[arg-type, return-value]  # all set (just checked)
                decisions.append(Decision(
                    state.account_id, Action.WARN, lock.rule,
                    f"{lock.reason} — already over at {lock.until:%H:%M:%S} when the app learned of the trade; "
                    "nothing to enforce",
                ))
                return
            proposed = [d for d in proposed if d.action != Action.LOCK or any(d.lock is k for k in kept)]
        for d in proposed:
            if d.action == Action.LOCK and d.lock is not None:
                state.locks.append(d.lock)
                new_locks.append(d.lock)
        decisions.extend(proposed)

    @staticmethod
    def _already_locked(state: AccountState, new: Lock) -> bool:
        """Whether a standing lock of the same rule and scope outlasts a proposed one."""
        return any(held.rule == new.rule and held.symbol == new.symbol and held.outlasts(new) for held in state.locks)

    def _close_on_sight(self, state: AccountState) -> list[Decision]:
        """While a lock is active, any position in its scope is closed and any order cancelled."""
        out: list[Decision] = []
        for contract in state.positions:
            for lock in state.locks_covering(contract):
                out.append(Decision(state.account_id, Action.CLOSE_POSITION, lock.rule,
                                    f"locked ({lock.reason}): closing {symbol_of(contract)}", contract_id=contract))
                break
        for order in state.orders.values():
            for lock in state.locks_covering(order.contract_id):
                out.append(Decision(state.account_id, Action.CANCEL_ORDERS, lock.rule,
                                    f"locked ({lock.reason}): cancelling {symbol_of(order.contract_id)} orders",
                                    contract_id=order.contract_id))
                break
        return out

    def _end_locks(self, state: AccountState, now: datetime) -> list[Lock]:
        if not state.locks:
            return []
        # Until the broker has reported the account (e.g. after a restart) canTrade is unknown, and an
        # until_can_trade lock must stand: restarting never lifts a lock.
        can_trade = state.account is not None and state.account.can_trade
        ended = [lock for lock in state.locks if lock.is_over(now, can_trade)]
        for lock in ended:
            state.locks.remove(lock)
        return ended

    # ----- applying the broker's word --------------------------------------------------------

    def _apply(self, state: AccountState, event: Event, ctx: Context) -> None:
        match event:
            case QuoteUpdated(quote=quote):
                ctx.quote = quote
            case PositionUpdated(position=pos):
                ctx.previous_position = state.positions.get(pos.contract_id)
                self._set_position(state, pos)
            case OrderUpdated(order=order):
                if order.is_working:
                    state.orders[order.id] = order
                else:
                    state.orders.pop(order.id, None)
            case TradeFilled(trade=trade):
                ctx.new_trades = self._add_trades(state, [trade])
            case AccountUpdated(account=account):
                state.account = account
            case Resync(account=account, positions=positions, orders=orders, trades=trades, trades_since=since):
                state.account = account
                state.positions = {p.contract_id: p for p in positions if p.is_open}
                state.orders = {o.id: o for o in orders if o.is_working}
                ordered = sorted(trades, key=lambda t: (t.time, t.id))
                if since is not None and state.week_start is not None and since <= state.week_start:
                    self._take_week(state, ordered)
                ctx.new_trades = self._add_trades(state, ordered, ctx.earlier_trades)
                self._note_balance(state, resync=True)
                return
            case _:
                pass
        if isinstance(event, AccountUpdated):
            self._note_balance(state, resync=False)

    @staticmethod
    def _note_balance(state: AccountState, *, resync: bool) -> None:
        """The first balance seen, and the balance at the last reset when the app did not see that
        reset: the current balance minus the day's realized net P&L (rules.md "End-of-day balance").
        Worked out once a day, from the first re-sync (which brings the day's trades); the first
        balance seen stands in until then."""
        balance = state.balance
        if balance is None:
            return
        if state.first_balance is None:
            state.first_balance = balance
        if state.day_open_balance is None or (resync and state.day_open_source == "first"):
            # Fees count here whatever include_fees says: the balance paid them.
            day_net = sum(t.net_pnl(True) for t in state.trades_today.values())
            state.day_open_balance = money(balance - day_net)
            state.day_open_source = "resync" if resync else "first"
            if state.eod_high is None or state.day_open_balance > state.eod_high:
                state.eod_high = state.day_open_balance

    @staticmethod
    def _set_position(state: AccountState, pos: Position) -> None:
        if pos.is_open:
            state.positions[pos.contract_id] = pos
        else:
            state.positions.pop(pos.contract_id, None)

    def _take_week(self, state: AccountState, trades: list[Trade]) -> None:
        """The week's realized P&L before today, from the broker's trades of the week (rules.md:
        weekly figures include days on which the app did not run)."""
        include_fees = self.settings.include_fees
        week_start, day_start = state.week_start, state.day_start
        assert week_start is not None and day_start is not None
        state.realized_week_before_today = money(sum(
            t.net_pnl(include_fees) for t in trades if week_start <= t.time < day_start
        ))

    def _add_trades(self, state: AccountState, trades: list[Trade], earlier: list[Trade] | None = None) -> list[Trade]:
        """Count each of today's trades once; return the ones not seen before (to be evaluated).

        Trades already seen (before a restart, or twice in the feed) count towards the day's P&L but
        are not evaluated again. An earlier day's trade of this week not seen before goes to
        ``earlier`` (the losing streak runs across days)."""
        fresh: list[Trade] = []
        include_fees = self.settings.include_fees
        for trade in trades:
            if state.day_start is not None and trade.time < state.day_start:
                if (earlier is not None and trade.id not in state.seen_trade_ids
                        and state.week_start is not None and trade.time >= state.week_start):
                    earlier.append(trade)
                state.seen_trade_ids.add(trade.id)  # an earlier day's trade: never today's P&L
                continue
            held = state.trades_today.get(trade.id)
            if held is not None:
                if held != trade:  # the broker corrected it (e.g. voided it): its latest word counts
                    state.trades_today[trade.id] = trade
                    state.realized_day = money(state.realized_day - held.net_pnl(include_fees) + trade.net_pnl(include_fees))
                continue
            state.trades_today[trade.id] = trade
            state.realized_day = money(state.realized_day + trade.net_pnl(include_fees))
            if trade.id in state.seen_trade_ids:
                continue
            state.seen_trade_ids.add(trade.id)
            fresh.append(trade)
        return fresh

    def _roll(self, state: AccountState, now: datetime) -> float | None:
        """Start a new trading day (and week). Applied at once after a clock jump or a sleep.
        Returns the end-of-day balance it recorded (None when the balance is not known yet)."""
        cal = self.calendar
        new_week = cal.week_start(now)
        recorded: float | None = None
        if state.day_start is not None and state.balance is not None:
            recorded = state.balance
        if state.day_start is not None:
            if state.week_start == new_week:
                state.realized_week_before_today = money(state.realized_week_before_today + state.realized_day)
            else:
                state.realized_week_before_today = 0.0
            for rule in self._ruleset(state).rules:
                hook = getattr(rule, "on_new_day", None)
                if hook is not None:
                    hook(state)
            if state.week_start == new_week:  # the week's ids: a re-sync reads the whole week
                state.seen_trade_ids |= set(state.trades_today)
            else:  # last week's last day guards against late copies
                state.seen_trade_ids = set(state.trades_today)
        state.day_start = cal.day_start(now)
        state.next_reset = cal.next_reset(now)
        state.week_start = new_week
        state.realized_day = 0.0
        state.trades_today = {}
        state.entries.clear()
        state.warned.clear()
        state.day_open_balance, state.day_open_source = recorded, "reset" if recorded is not None else ""
        if recorded is not None and (state.eod_high is None or recorded > state.eod_high):
            state.eod_high = recorded
        return recorded

    # ----- what the UI and the guardian ask --------------------------------------------------

    def next_deadline(self, account_id: int | None = None) -> datetime | None:
        """The next moment a ClockTick is needed: a lock's end, a reset, a grace timer, a session end."""
        now = self.clock.now()
        states = [self.accounts[account_id]] if account_id is not None else list(self.accounts.values())
        moments: list[datetime] = []
        for state in states:
            if state.next_reset is not None:
                moments.append(state.next_reset)
            moments.extend(lock.until for lock in state.locks if lock.until is not None)
            for rule in self._ruleset(state).rules:
                d = rule.deadline(state, now)
                if d is not None:
                    moments.append(d)
        return min(moments, default=None)

    def figures(self, account_id: int) -> dict[str, Figure]:
        """Each enabled rule's current figure against its limit (for the rules panel)."""
        state = self.state(account_id)
        ctx = Context(state, ClockTick(self.clock.now()), Trigger.TICK, self.clock.now(), self.calendar,
                      self.pricing, self.settings.include_fees)
        out: dict[str, Figure] = {}
        for rule in self._ruleset(state).rules:
            fig = rule.figure(ctx)
            if fig is not None:
                out[rule.key] = fig
        return out

    def distances(self, account_id: int) -> list[Distance]:
        """How far each firm limit is for the account (the window's distance-to-breach panel)."""
        state = self.state(account_id)
        now = self.clock.now()
        ctx = Context(state, ClockTick(now), Trigger.TICK, now, self.calendar, self.pricing, self.settings.include_fees)
        return account_distances(self._ruleset(state).rules, ctx)

    def open_pnl(self, account_id: int) -> tuple[float, bool]:
        state = self.state(account_id)
        now = self.clock.now()
        total, stale = 0.0, False
        for pos in state.positions.values():
            v, s = self.pricing.unrealized(pos, now)
            total += v
            stale = stale or s
        return total, stale

    def rule(self, key: str, account_id: int | None = None) -> Rule[Any] | None:
        """A rule in force (for one account; without one, of the shared rules), None when it is off."""
        rules = self.rules if account_id is None else self._ruleset(self.state(account_id)).rules
        return next((r for r in rules if r.key == key), None)


def params_of(settings: EngineSettings, key: str) -> Any:
    return settings.rules[key]
