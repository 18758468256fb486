"""A stand-in guardian for running the window before the real one is wired in (and for its tests).

NOT the guardian: no broker, no engine, no store. One practice account, prices that random-walk,
market fills from the practice ticket, and a crude copy of three rules (daily loss limit with its
warning, open-loss stop, lock until the reset) so the screen can be seen doing its job. The real
app replaces it through :func:`deskguard.ui.app.default_startup`.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ..engine.calendar import TradingCalendar
from ..engine.decisions import Lock, LockKind
from ..engine.instruments import instrument_for
from ..engine.models import Order, OrderStatus, OrderType, Position, PositionType, Side
from ..engine.rules import Figure
from ..engine.schema import Unit
from ..engine.settings import EngineSettings
from ..engine.state import AccountStatus
from ..guardian import ConnectionHealth, HubState
from ..guardian.snapshot import AccountSnapshot, GuardianObserver, Notice, NoticeLevel, PnlPoint, PositionView

ACCOUNT_ID = 1001
ACCOUNT_NAME = "PRACTICE-50K"
START_PRICES = {"MNQ": 21000.0, "MES": 6000.0, "NQ": 21000.0, "ES": 6000.0, "M2K": 2200.0, "MYM": 44000.0,
                "MGC": 2400.0, "MCL": 70.0}


@dataclass
class _Holding:
    side: int  # +1 long, -1 short
    size: int
    average: float
    stop: float | None = None
    stop_id: int | None = None


class PreviewPractice:
    """The practice ticket's backend for the preview (see :class:`~deskguard.ui.port.PracticeDesk`)."""

    def __init__(self, guardian: PreviewGuardian) -> None:
        self.g = guardian

    async def place_market(self, account_id: int, symbol: str, side: str, size: int) -> None:
        self.g.fill(symbol, +1 if side == "buy" else -1, size)

    async def place_stop(self, account_id: int, symbol: str, stop_price: float) -> None:
        self.g.set_stop(symbol, stop_price)

    async def close(self, account_id: int, symbol: str) -> None:
        self.g.close(symbol, "closed from the practice ticket")


class PreviewGuardian:
    def __init__(self, *, tick_s: float = 0.25, seed: int | None = None, clock=lambda: datetime.now(UTC)) -> None:
        self.settings = EngineSettings()
        self.accounts = [ACCOUNT_ID]
        self.health = ConnectionHealth()
        self.calendar = TradingCalendar()
        self.clock = clock
        self.tick_s = tick_s
        self.rng = random.Random(seed)
        self.prices = dict(START_PRICES)
        self.holdings: dict[str, _Holding] = {}
        self.balance = 50_000.0
        self.realized = 0.0
        self.locks: list[Lock] = []
        self.warned = False
        self.history: list[PnlPoint] = []
        self.observers: list[GuardianObserver] = []
        self.practice = PreviewPractice(self)
        self._next_order_id = 1
        self._task: asyncio.Task | None = None

    # -- GuardianPort -------------------------------------------------------------------------

    def add_observer(self, observer: GuardianObserver) -> None:
        self.observers.append(observer)

    def remove_observer(self, observer: GuardianObserver) -> None:
        self.observers.remove(observer)

    def pnl_history(self, account_id: int) -> list[PnlPoint]:
        return list(self.history)

    async def start(self) -> None:
        self.health = ConnectionHealth(HubState.CONNECTED, HubState.CONNECTED, time.monotonic(), time.monotonic(),
                                       detail="preview (no broker)")
        for o in list(self.observers):
            o.on_health(self.health)
        self.publish()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def snapshot(self, account_id: int) -> AccountSnapshot:
        now = self.clock()
        views = []
        open_pnl = 0.0
        for sym, h in self.holdings.items():
            pnl = self._open_pnl(sym, h)
            open_pnl += pnl
            pos = Position(ACCOUNT_ID, _contract(sym), PositionType.LONG if h.side > 0 else PositionType.SHORT, h.size, h.average)
            views.append(PositionView(pos, sym, self.prices[sym], pnl, False, h.stop is not None))
        orders = tuple(
            Order(h.stop_id, ACCOUNT_ID, _contract(sym), OrderStatus.OPEN, OrderType.STOP,
                  Side.SELL if h.side > 0 else Side.BUY, h.size, stop_price=h.stop)
            for sym, h in self.holdings.items() if h.stop is not None and h.stop_id is not None
        )
        loss_rule = self.settings.rules["daily_realized_loss"]
        open_rule = self.settings.rules["daily_unrealized_loss"]
        gross = sum(h.size for h in self.holdings.values())
        worst = max([0.0] + [-self._open_pnl(s, h) for s, h in self.holdings.items()])
        loss = max(0.0, -self.realized)
        figures = {
            "daily_realized_loss": Figure(loss, loss_rule.max_loss, Unit.USD,
                                          f"loss {loss:,.2f} of {loss_rule.max_loss:,.2f}"),
            "daily_unrealized_loss": Figure(worst, open_rule.max_loss, Unit.USD,
                                            f"worst open loss {worst:,.2f} of {open_rule.max_loss:,.2f}"),
            "max_contracts": Figure(gross, self.settings.rules["max_contracts"].limit, Unit.CONTRACTS,
                                    f"{gross} / {self.settings.rules['max_contracts'].limit} contracts"),
        }
        self.locks = [lk for lk in self.locks if lk.until is None or lk.until > now]
        status = AccountStatus.LOCKED if self.locks else AccountStatus.WARNING if self.warned else AccountStatus.OK
        if not self.health.guarding:
            status = AccountStatus.NOT_GUARDING
        return AccountSnapshot(
            account_id=ACCOUNT_ID, name=ACCOUNT_NAME, at=now, status=status, balance=self.balance,
            realized_day=self.realized, open_pnl=open_pnl, open_pnl_stale=False, realized_week=self.realized,
            locks=tuple(self.locks), positions=tuple(views), orders=orders, figures=figures,
            warnings=("daily_realized_loss",) if self.warned else (), day_start=self.calendar.day_start(now),
            next_reset=self.calendar.next_reset(now),
        )

    # -- the pretend market and rules ---------------------------------------------------------

    def publish(self) -> None:
        snap = self.snapshot(ACCOUNT_ID)
        self.history.append(PnlPoint(snap.at, snap.realized_day, snap.total_pnl))
        if len(self.history) > 20_000:
            del self.history[: len(self.history) // 2]
        for o in list(self.observers):
            o.on_snapshot(snap)

    def notice(self, level: NoticeLevel, rule: str | None, text: str) -> None:
        n = Notice(self.clock(), level, ACCOUNT_ID, rule, text)
        for o in list(self.observers):
            o.on_notice(n)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.step()

    def step(self) -> None:
        for sym, price in self.prices.items():
            inst = instrument_for(sym)
            tick = inst.tick_size if inst else 0.25
            self.prices[sym] = round(price + self.rng.choice((-2, -1, -1, 0, 1, 1, 2)) * tick, 6)
        for sym, h in list(self.holdings.items()):
            if h.stop is not None and (self.prices[sym] - h.stop) * h.side <= 0:
                self.close(sym, f"stop at {h.stop:,.2f} filled", react=False)
        self.health.last_market_event = time.monotonic()
        self.evaluate()
        self.publish()

    def evaluate(self) -> None:
        rule = self.settings.rules["daily_unrealized_loss"]
        for sym, h in list(self.holdings.items()):
            if rule.enabled and self._open_pnl(sym, h) <= -rule.max_loss:
                self.notice(NoticeLevel.ENFORCEMENT, "daily_unrealized_loss",
                            f"closed {sym}: open loss reached {rule.max_loss:,.2f}")
                self.close(sym, "open-loss stop", react=False)
        loss = self.settings.rules["daily_realized_loss"]
        if loss.enabled and self.realized <= -loss.max_loss and not any(lk.rule == "daily_realized_loss" for lk in self.locks):
            reason = f"day's P&L {self.realized:,.2f} reached the daily loss limit of {loss.max_loss:,.2f}"
            now = self.clock()
            self.locks.append(Lock(ACCOUNT_ID, LockKind.UNTIL_RESET, "daily_realized_loss", reason, now,
                                   self.calendar.next_reset(now)))
            for sym in list(self.holdings):
                self.close(sym, "flatten", react=False)
            self.notice(NoticeLevel.ENFORCEMENT, "daily_realized_loss", f"flattened and locked until the reset: {reason}")
        elif loss.enabled and not self.warned and self.realized <= -loss.warn_at * loss.max_loss:
            self.warned = True
            self.notice(NoticeLevel.WARNING, "daily_realized_loss",
                        f"day's P&L {self.realized:,.2f} is past {loss.warn_at:.0%} of the limit")

    def fill(self, symbol: str, side: int, size: int) -> None:
        symbol = symbol.upper()
        if symbol not in self.prices:
            raise ValueError(f"unknown symbol {symbol}")
        if self.locks:
            raise PermissionError(f"the account is locked ({self.locks[0].reason}): the order would be closed on sight")
        price = self.prices[symbol]
        h = self.holdings.get(symbol)
        if h is None:
            self.holdings[symbol] = _Holding(side, size, price)
        elif h.side == side:
            h.average = (h.average * h.size + price * size) / (h.size + size)
            h.size += size
        else:
            closed = min(size, h.size)
            self._realize(symbol, h, closed)
            h.size -= closed
            if h.size == 0:
                del self.holdings[symbol]
            if size > closed:
                self.holdings[symbol] = _Holding(side, size - closed, price)
        self.notice(NoticeLevel.INFO, None, f"{'bought' if side > 0 else 'sold'} {size} {symbol} at {price:,.2f}")
        self.evaluate()
        self.publish()

    def set_stop(self, symbol: str, price: float) -> None:
        h = self.holdings.get(symbol.upper())
        if h is None:
            raise ValueError(f"no open {symbol} position to protect")
        h.stop = price
        if h.stop_id is None:
            h.stop_id, self._next_order_id = self._next_order_id, self._next_order_id + 1
        self.publish()

    def close(self, symbol: str, why: str, *, react: bool = True) -> None:
        symbol = symbol.upper()
        h = self.holdings.pop(symbol, None)
        if h is None:
            if react:
                raise ValueError(f"no open {symbol} position")
            return
        self._realize(symbol, h, h.size)
        self.notice(NoticeLevel.INFO, None, f"closed {h.size} {symbol} at {self.prices[symbol]:,.2f} ({why})")
        if react:
            self.evaluate()
            self.publish()

    def _realize(self, symbol: str, h: _Holding, size: int) -> None:
        inst = instrument_for(symbol)
        tick, value = (inst.tick_size, inst.tick_value) if inst else (0.25, 0.5)
        pnl = (self.prices[symbol] - h.average) / tick * value * size * h.side - 0.74 * size
        self.realized += pnl
        self.balance += pnl

    def _open_pnl(self, symbol: str, h: _Holding) -> float:
        inst = instrument_for(symbol)
        tick, value = (inst.tick_size, inst.tick_value) if inst else (0.25, 0.5)
        return (self.prices[symbol] - h.average) / tick * value * h.size * h.side


def _contract(symbol: str) -> str:
    inst = instrument_for(symbol)
    root = inst.roots[0] if inst and inst.roots else symbol
    return f"CON.F.US.{root}.H26"
