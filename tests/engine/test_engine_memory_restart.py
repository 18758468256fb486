"""Memory (rules.md): stopping and starting the app at any moment changes no decision the rules make.

A differential property test: random event sequences go through the engine and the real SQLite
store twice — once straight, once with a stop and a restore through the store (the guardian's own
``deskguard.guardian.memory`` functions) at a random point — and the decisions must be identical.
At the restart point both runs receive the broker's full picture (a ``Resync`` with the week's
trades), as every start and every reconnect does; only one of them has lost its memory. What a
restart cannot lose because the broker re-sends it — positions, trades, the last quote of each
watched contract — comes back from the broker; everything the rules remember must come back from
the store.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from engine_harness import ACCOUNT, LONG, MES, MNQ, SELL, T0, only
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskguard.engine.clock import FakeClock
from deskguard.engine.decisions import Decision
from deskguard.engine.engine import RiskEngine, Verdict
from deskguard.engine.events import ClockTick, Event, PositionUpdated, QuoteUpdated, Resync, TradeFilled
from deskguard.engine.models import Account, Position, Quote, Trade
from deskguard.engine.rules.cooldown_after_loss import Tier
from deskguard.engine.settings import EngineSettings
from deskguard.guardian import memory
from deskguard.store import Store

RULES = only(
    "daily_realized_loss", "daily_unrealized_loss", "max_unrealized_profit", "trade_frequency",
    "cooldown_after_loss", "losing_streak", "trailing_drawdown", "no_stop_loss_grace", "max_contracts",
    daily_realized_loss={"max_loss": 400.0, "count_open_pnl": True},
    daily_unrealized_loss={"max_loss": 150.0},
    max_unrealized_profit={"target": 200.0},
    trade_frequency={"per_minute": 2, "per_hour": 4, "per_day": 6, "minute_cooldown": timedelta(seconds=60),
                     "hour_cooldown": timedelta(minutes=20)},
    cooldown_after_loss={"tiers": (Tier(60.0, timedelta(minutes=3)), Tier(120.0, timedelta(minutes=10)))},
    losing_streak={"max_losses": 3, "cooldown": timedelta(minutes=15)},
    trailing_drawdown={"mode": "intraday", "max_drawdown": 300.0, "buffer": 50.0},
    no_stop_loss_grace={"grace": timedelta(seconds=40)},
    max_contracts={"limit": 3},
)
PRICE = {MNQ: 21000.0, MES: 6000.0}
STEP = {MNQ: 0.25, MES: 0.25}


@dataclass
class Broker:
    """The broker's truth, which a restart does not lose."""

    clock: FakeClock
    positions: dict[str, Position] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    quotes: dict[str, Quote] = field(default_factory=dict)
    balance: float = 50_000.0
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def resync(self, week_start) -> Resync:
        account = Account(ACCOUNT, "50KTC-V2-123456-789", self.balance, True)
        return Resync(account, tuple(self.positions.values()), (), tuple(self.trades), trades_since=week_start)


def play(step, broker: Broker) -> list[Event]:
    """One random step of the trader or the market, as the events the broker would push."""
    kind, contract, amount, seconds = step
    broker.clock.advance(seconds=seconds)
    now = broker.clock.now()
    if kind == "entry":
        held = broker.positions.get(contract)
        size = (held.size if held else 0) + 1
        trade = Trade(next(broker.ids), ACCOUNT, contract, now, PRICE[contract], None, 0.37, 0, 1, False)
        broker.trades.append(trade)
        broker.balance -= 0.37
        pos = Position(ACCOUNT, contract, LONG, size, PRICE[contract], held.opened_at if held else now)
        broker.positions[contract] = pos
        return [TradeFilled(trade), PositionUpdated(pos)]
    if kind == "close":
        held = broker.positions.pop(contract, None)
        if held is None:
            return [ClockTick(now)]
        pnl = -amount
        trade = Trade(next(broker.ids), ACCOUNT, contract, now, PRICE[contract], pnl, 0.37, SELL, held.size, False)
        broker.trades.append(trade)
        broker.balance += pnl - 0.37
        return [TradeFilled(trade), PositionUpdated(Position(ACCOUNT, contract, LONG, 0, 0.0, None))]
    if kind == "quote":
        quote = Quote(contract, now, PRICE[contract] + amount * STEP[contract] * 4)
        broker.quotes[contract] = quote
        return [QuoteUpdated(quote)]
    return [ClockTick(now)]


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["entry", "entry", "close", "quote", "quote", "tick"]),
        st.sampled_from([MNQ, MES]),
        st.integers(min_value=-60, max_value=60),
        st.integers(min_value=0, max_value=90),
    ),
    min_size=4, max_size=40,
)


def persist(store: Store, v: Verdict, now) -> None:
    """What the guardian writes for a verdict: its locks and trades."""
    for lock in v.new_locks:
        store.save_lock(lock)
    for lock in v.ended_locks:
        store.end_lock(lock, now, "ended")
    if v.new_trades:
        store.record_trades(ACCOUNT, v.new_trades)


def run(steps, resync_at: int, restart: bool, folder: Path, settings: EngineSettings = RULES) -> list[tuple[int, list[Decision]]]:
    """Every decision, by step. Before step ``resync_at`` the broker's full picture arrives, as at
    every start and reconnect; with ``restart`` the guard is stopped and started just before."""
    clock = FakeClock(T0)
    broker = Broker(clock)
    path = folder / "state.db"
    store = Store(path, clock=clock)
    engine = RiskEngine(settings, clock)
    out: list[tuple[int, list[Decision]]] = []

    def feed(i: int, event: Event) -> None:
        for v in engine.process(event):
            persist(store, v, clock.now())
            if v.decisions:
                out.append((i, v.decisions))
        # The guardian writes the rules' memory with the account's next snapshot (within ~0.1 s of
        # any event, quotes of held contracts included); here, after every event.
        memory.save_memory(store, ACCOUNT, memory.memory_text(engine, ACCOUNT), engine.state(ACCOUNT).high_water_mark,
                           clock.now())

    feed(-1, broker.resync(engine.calendar.week_start(clock.now())))
    try:
        for i, step in enumerate(steps):
            if restart and i == resync_at:
                store.close()  # stop...
                store = Store(path, clock=clock)  # ...and start: a new engine, memory from the store
                old, engine = engine, RiskEngine(settings, clock)
                for quote in old.pricing.quotes.values():  # the market hub sends the last quotes again
                    engine.pricing.update(quote)
                kept = memory.read_kept(store, ACCOUNT, engine.calendar, clock.now())
                memory.restore(engine, ACCOUNT, kept)
            if i == resync_at:
                feed(i, broker.resync(engine.calendar.week_start(clock.now())))  # connect: the broker's picture
            for event in play(step, broker):
                feed(i, event)
    finally:
        store.close()
    return out


@settings(max_examples=int(os.environ.get("DESKGUARD_RESTART_EXAMPLES", "80")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, data=st.data())
def test_a_restart_at_any_moment_changes_no_decision(steps, data):
    restart_at = data.draw(st.integers(min_value=0, max_value=len(steps) - 1), label="restart_at")
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        straight = run(steps, restart_at, False, Path(a))  # the same Resync at the same moment
        restarted = run(steps, restart_at, True, Path(b))
    assert restarted == straight


def test_the_overtrading_brake_survives_a_restart(tmp_path):
    """Issue 11 item 4, by hand: two entries, a restart, a third entry inside the minute breaches."""
    steps = [("entry", MNQ, 0, 1), ("entry", MNQ, 0, 1), ("entry", MNQ, 0, 1)]
    settings_ = only("trade_frequency", trade_frequency={"per_minute": 2})
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    straight = run(steps, 2, False, tmp_path / "a", settings_)
    restarted = run(steps, 2, True, tmp_path / "b", settings_)
    assert [d.action.value for _, ds in straight for d in ds if d.rule == "trade_frequency"][:2] == ["close_position", "lock"]
    assert restarted == straight


def test_the_memory_s_entries_follow_every_change_between_two_writes() -> None:
    """The entries' texts are kept between memory() calls (a busy day has thousands): an entry
    learnt late (out of order), and a new day's reset, show in the next memory all the same."""
    from bisect import insort
    from datetime import UTC, datetime, timedelta

    from deskguard.engine.state import AccountState

    state = AccountState(1)
    t0 = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    state.entries = [t0, t0 + timedelta(minutes=2)]
    assert state.memory()["entries"] == [t0.isoformat(), (t0 + timedelta(minutes=2)).isoformat()]
    insort(state.entries, t0 + timedelta(minutes=1))  # a trade from a re-sync, older than the last
    assert state.memory()["entries"] == [(t0 + timedelta(minutes=m)).isoformat() for m in (0, 1, 2)]
    state.entries.clear()  # the trading day rolled
    assert state.memory()["entries"] == []
    state.entries.extend(t0 + timedelta(days=1, seconds=s) for s in range(200))
    assert state.memory()["entries"] == [(t0 + timedelta(days=1, seconds=s)).isoformat() for s in range(200)]
    state.entries[:] = [t0 + timedelta(days=2, seconds=s) for s in range(10)]  # a quiet next day
    assert state.memory()["entries"] == [(t0 + timedelta(days=2, seconds=s)).isoformat() for s in range(10)]
    assert len(state._entry_texts) == 10  # the busy day's texts were let go
