"""A trading desk for engine tests: one account on a RiskEngine with a fake clock, and event builders.

Tests speak in the trader's terms (open a position, fill a trade, a quote arrives, time passes) and
read back the exact decisions and locks the engine produced.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from deskguard.engine.clock import FakeClock
from deskguard.engine.decisions import Action, Decision, Lock, LockKind
from deskguard.engine.engine import RiskEngine, Verdict
from deskguard.engine.events import (
    AccountUpdated,
    ClockTick,
    Event,
    OrderUpdated,
    PositionUpdated,
    QuoteUpdated,
    Resync,
    TradeFilled,
)
from deskguard.engine.models import (
    Account,
    Order,
    OrderStatus,
    OrderType,
    Position,
    PositionType,
    Quote,
    Side,
    Trade,
)
from deskguard.engine.rules import ALL_RULES
from deskguard.engine.settings import EngineSettings
from deskguard.engine.state import AccountState

CT = ZoneInfo("America/Chicago")
NY = ZoneInfo("America/New_York")
ACCOUNT = 1001

#: Tuesday 24 Nov 2026, 09:00 CST (15:00 UTC): inside the default Topstep session (Mon 17:00 → Tue
#: 15:10 CT), well before the 17:00 CT reset, in an ordinary week (Thanksgiving is on Thursday).
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
#: The trading-day reset that ends T0's day: Tue 24 Nov 17:00 CST.
T0_RESET = datetime(2026, 11, 24, 17, 0, tzinfo=CT)
#: The weekly reset that ends T0's week: Sun 29 Nov 17:00 CST.
T0_WEEK_RESET = datetime(2026, 11, 29, 17, 0, tzinfo=CT)

# Contract ids as TopstepX sends them: note the exchange roots EP (= ES), ENQ (= NQ), CLE (= CL).
MNQ = "CON.F.US.MNQ.Z26"
MES = "CON.F.US.MES.Z26"
ES = "CON.F.US.EP.Z26"
ES_MAR = "CON.F.US.EP.H27"
NQ = "CON.F.US.ENQ.Z26"
CL = "CON.F.US.CLE.F27"
CL_FEB = "CON.F.US.CLE.G27"
MCL = "CON.F.US.MCLE.F27"
RTY = "CON.F.US.RTY.Z26"
M2K = "CON.F.US.M2K.Z26"
MYM = "CON.F.US.MYM.Z26"

LONG, SHORT = PositionType.LONG, PositionType.SHORT
BUY, SELL = Side.BUY, Side.SELL


def ct(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A Chicago wall-clock moment."""
    return datetime(year, month, day, hour, minute, second, tzinfo=CT)


def only(*keys: str, **changes: dict[str, Any]) -> EngineSettings:
    """Settings with only the named rules enabled (keyword rules get their params changed too):
    ``only("daily_realized_loss", cooldown_after_loss={"tiers": ...})``."""
    wanted = set(keys) | set(changes)
    settings = EngineSettings()
    for rule in ALL_RULES:
        settings = settings.with_rule(rule.key, enabled=rule.key in wanted)
    for key, params in changes.items():
        settings = settings.with_rule(key, **params)
    return settings


def no_rules() -> EngineSettings:
    return only()


def brief(decisions: list[Decision]) -> list[tuple]:
    """(action, rule, contract, reduce-to size) of each decision, in the merged order."""
    return [(d.action, d.rule, d.contract_id, d.size) for d in decisions]


def lock_of(decisions: list[Decision]) -> Lock:
    locks = [d.lock for d in decisions if d.action == Action.LOCK]
    assert len(locks) == 1, f"expected one lock decision, got {brief(decisions)}"
    assert locks[0] is not None
    return locks[0]


def actions(decisions: list[Decision]) -> list[Action]:
    return [d.action for d in decisions]


class Desk:
    """One account (id ``ACCOUNT``) on a RiskEngine driven by a fake clock."""

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        start: datetime = T0,
        balance: float | None = 50_000.0,
    ) -> None:
        self.clock = FakeClock(start)
        self.engine = RiskEngine(settings if settings is not None else EngineSettings(), self.clock)
        self._trade_ids = itertools.count(1)
        self._order_ids = itertools.count(9001)
        if balance is not None:
            self.send(AccountUpdated(Account(ACCOUNT, "50KTC-V2-123456-789", balance, True)))

    # ----- reading ---------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def state(self) -> AccountState:
        return self.engine.state(ACCOUNT)

    @property
    def locks(self) -> list[Lock]:
        return list(self.state.locks)

    # ----- sending ---------------------------------------------------------------------------

    def send(self, event: Event) -> Verdict:
        """Process an event; this account's verdict (an empty one if the engine had nothing to say)."""
        verdicts = self.engine.process(event)
        mine = [v for v in verdicts if v.account_id == ACCOUNT]
        assert len(mine) <= 1
        return mine[0] if mine else Verdict(ACCOUNT, [], self.state)

    def position(self, contract: str, size: int, avg: float, type: PositionType = LONG, *,
                 opened_at: datetime | None = None) -> Position:
        """A position record; a position that is already open keeps its creation time, as the broker's does."""
        if opened_at is None:
            held = self.state.positions.get(contract)
            opened_at = held.opened_at if held is not None and held.type == type else self.now
        return Position(ACCOUNT, contract, type, size, avg, opened_at)

    def open(self, contract: str, size: int, avg: float = 100.0, type: PositionType = LONG, **kw: Any) -> Verdict:
        """The broker reports the contract's position (opened, grown or shrunk) at this size."""
        return self.send(PositionUpdated(self.position(contract, size, avg, type, **kw)))

    def flat(self, contract: str) -> Verdict:
        """The broker reports the contract's position closed."""
        return self.send(PositionUpdated(Position(ACCOUNT, contract, LONG, 0, 0.0, None)))

    def trade(
        self,
        contract: str = MNQ,
        pnl: float | None = None,
        *,
        fees: float = 0.0,
        side: Side = BUY,
        size: int = 1,
        voided: bool = False,
        id: int | None = None,
        at: datetime | None = None,
        price: float = 21000.0,
    ) -> Trade:
        return Trade(
            next(self._trade_ids) if id is None else id, ACCOUNT, contract, at or self.now, price, pnl, fees,
            side, size, voided,
        )

    def fill(self, contract: str = MNQ, pnl: float | None = None, **kw: Any) -> Verdict:
        """A fill: ``pnl=None`` is an entry (the opening half of a round trip), a number a close."""
        return self.send(TradeFilled(self.trade(contract, pnl, **kw)))

    def entry(self, contract: str = MNQ, **kw: Any) -> Verdict:
        return self.fill(contract, None, **kw)

    def loss(self, amount: float, contract: str = MNQ, *, fees: float = 0.0, **kw: Any) -> Verdict:
        """A closing fill losing ``amount`` before fees."""
        return self.fill(contract, -amount, fees=fees, side=SELL, **kw)

    def order(
        self,
        contract: str = MNQ,
        *,
        type: OrderType = OrderType.STOP,
        side: Side = SELL,
        status: OrderStatus = OrderStatus.OPEN,
        stop_price: float | None = None,
        limit_price: float | None = None,
        size: int = 1,
        id: int | None = None,
    ) -> Verdict:
        oid = next(self._order_ids) if id is None else id
        return self.send(OrderUpdated(Order(oid, ACCOUNT, contract, status, type, side, size, limit_price, stop_price,
                                            self.now, self.now)))

    def quote(
        self,
        contract: str,
        last: float | None = None,
        *,
        bid: float | None = None,
        ask: float | None = None,
        age: float = 0.0,
    ) -> Verdict:
        """A quote stamped ``age`` seconds before now."""
        return self.send(QuoteUpdated(Quote(contract, self.now - timedelta(seconds=age), last, bid, ask)))

    def account(self, balance: float = 50_000.0, can_trade: bool = True) -> Verdict:
        return self.send(AccountUpdated(Account(ACCOUNT, "50KTC-V2-123456-789", balance, can_trade)))

    def resync(self, *, positions=(), orders=(), trades=(), balance: float = 50_000.0, can_trade: bool = True) -> Verdict:
        account = Account(ACCOUNT, "50KTC-V2-123456-789", balance, can_trade)
        return self.send(Resync(account, tuple(positions), tuple(orders), tuple(trades)))

    def tick(self, **delta: float) -> Verdict:
        """Time passes (``seconds=10``, ``minutes=5``…) and the guardian's timer fires."""
        self.clock.advance(**delta)
        return self.send(ClockTick(self.now))

    def tick_at(self, moment: datetime) -> Verdict:
        assert moment >= self.now, "the fake clock only moves forward in these tests"
        self.clock.set(moment)
        return self.send(ClockTick(self.now))

    def advance(self, **delta: float) -> datetime:
        """Time passes with no event."""
        return self.clock.advance(**delta)


__all__ = [
    "ACCOUNT", "CT", "NY", "T0", "T0_RESET", "T0_WEEK_RESET",
    "MNQ", "MES", "ES", "ES_MAR", "NQ", "CL", "CL_FEB", "MCL", "RTY", "M2K", "MYM",
    "LONG", "SHORT", "BUY", "SELL",
    "Action", "Decision", "Lock", "LockKind", "OrderStatus", "OrderType", "Side", "PositionType",
    "Desk", "ct", "only", "no_rules", "brief", "lock_of", "actions",
]
