"""Demo mode only: a small order ticket against the built-in simulator, and the DEMO badge.

It lets a new user trip a rule within a minute: buy, then move the market (± N points, or to a loss
of $X on the open position) and watch the guard flatten and lock. Orders go to an injected
:class:`~deskguard.ui.port.PracticeDesk`, prices move through a :class:`~deskguard.ui.port.PracticeMarket`;
the guardian then sees them exactly as it would see the TopstepX web screen and the real market.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)
from qasync import asyncSlot

from ...engine.instruments import instrument_for
from ...guardian.snapshot import AccountSnapshot
from ..display import LOSS_COLOR, PROFIT_COLOR
from ..port import PracticeDesk, PracticeMarket

_WAITING = "Waiting for the simulator…"
#: The guided first step: with the default rules (daily loss limit $500) 3 MNQ × 100 points × $2 is
#: a $600 loss, so the account is flattened and locked within seconds.
FIRST_STEP = "First step: buy 3 MNQ, then press Drop 100 pts (3 × 100 pts × $2 = $600 lost, past the $500 daily limit)."
DEFAULT_POINTS = 100
DEFAULT_LOSS = 600.0
PRACTICE_SYMBOLS = ("MNQ", "MES", "NQ", "ES", "M2K", "MYM", "MGC", "MCL")


class DemoBadge(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("DEMO", parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setToolTip("Practice against the built-in simulator: no real account, no real money")
        font = self.font()
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.4)
        self.setFont(font)
        self.setStyleSheet("QLabel { background: #6a1b9a; color: #ffffff; border-radius: 6px; padding: 4px 12px; }")


class PracticeTicket(QGroupBox):
    """Symbol, quantity, Buy/Sell at market, place/move a stop, close."""

    busyChanged = Signal(bool)
    finished = Signal(str, bool)  # message, ok

    def __init__(self, desk: PracticeDesk | None, account: Callable[[], int | None], parent: QWidget | None = None,
                 market: PracticeMarket | None = None) -> None:
        super().__init__("Practice ticket", parent)
        self.desk = desk
        self.market = market
        self.account = account
        self.guide = QLabel(FIRST_STEP)
        self.guide.setWordWrap(True)
        font = self.guide.font()
        font.setBold(True)
        self.guide.setFont(font)
        self.symbol = QComboBox()
        self.symbol.setEditable(True)
        self.symbol.addItems(PRACTICE_SYMBOLS)
        self.quantity = QSpinBox()
        self.quantity.setRange(1, 50)
        self.quantity.setValue(3)
        self.buy = QPushButton("Buy market")
        self.sell = QPushButton("Sell market")
        self.buy.setStyleSheet(f"QPushButton {{ color: {PROFIT_COLOR}; font-weight: bold; }}")
        self.sell.setStyleSheet(f"QPushButton {{ color: {LOSS_COLOR}; font-weight: bold; }}")
        self.stop_price = QDoubleSpinBox()
        self.stop_price.setRange(0.0, 10_000_000.0)
        self.stop_price.setDecimals(2)
        self.stop_price.setSingleStep(0.25)
        self.stop_price.setSpecialValueText("—")
        self.place_stop = QPushButton("Place / move stop")
        self.close_button = QPushButton("Close position")
        # Market controls: move the chosen symbol's price, as the real market would.
        self.points = QSpinBox()
        self.points.setRange(1, 100_000)
        self.points.setValue(DEFAULT_POINTS)
        self.points.setSuffix(" pts")
        self.drop = QPushButton()
        self.raise_ = QPushButton()
        self.drop.setStyleSheet(f"QPushButton {{ color: {LOSS_COLOR}; }}")
        self._name_moves(self.points.value())
        self.loss = QDoubleSpinBox()
        self.loss.setRange(1.0, 1_000_000.0)
        self.loss.setDecimals(0)
        self.loss.setSingleStep(50.0)
        self.loss.setPrefix("$")
        self.loss.setValue(DEFAULT_LOSS)
        self.to_loss = QPushButton("Move to this open loss")
        self.to_loss.setToolTip("Sets the price where the open position of the chosen symbol loses this much "
                                "(from its average price, size and the contract's tick value)")
        self.message = QLabel()
        self.message.setWordWrap(True)
        sides = QHBoxLayout()
        sides.addWidget(self.buy)
        sides.addWidget(self.sell)
        stop = QHBoxLayout()
        stop.addWidget(self.stop_price, 1)
        stop.addWidget(self.place_stop)
        moves = QHBoxLayout()
        moves.addWidget(self.points)
        moves.addWidget(self.drop)
        moves.addWidget(self.raise_)
        to_loss = QHBoxLayout()
        to_loss.addWidget(self.loss, 1)
        to_loss.addWidget(self.to_loss)
        form = QFormLayout(self)
        form.addRow(self.guide)
        form.addRow("Symbol", self.symbol)
        form.addRow("Quantity", self.quantity)
        form.addRow(sides)
        form.addRow("Stop price", stop)
        form.addRow(self.close_button)
        form.addRow("Market", moves)
        form.addRow("Open loss", to_loss)
        form.addRow(self.message)
        self.buy.clicked.connect(self.on_buy)
        self.sell.clicked.connect(self.on_sell)
        self.place_stop.clicked.connect(self.on_place_stop)
        self.close_button.clicked.connect(self.on_close)
        self.points.valueChanged.connect(self._name_moves)
        self.drop.clicked.connect(self.on_drop)
        self.raise_.clicked.connect(self.on_raise)
        self.to_loss.clicked.connect(self.on_move_to_loss)
        self.symbol.currentTextChanged.connect(self._adjust_step)
        self._adjust_step(self.symbol.currentText())
        self._busy = False
        self._last_prices: dict[str, float] = {}
        self._set_enabled()

    @property
    def chosen_symbol(self) -> str:
        return self.symbol.currentText().strip().upper()

    def set_desk(self, desk: PracticeDesk | None, market: PracticeMarket | None = None) -> None:
        self.desk = desk
        self.market = market
        self._set_enabled()

    def _name_moves(self, points: int) -> None:
        self.drop.setText(f"Drop {points} pts")
        self.raise_.setText(f"Raise {points} pts")

    def show_snapshot(self, snap: AccountSnapshot) -> None:
        """Remember last prices, so the stop field starts near the market."""
        for pv in snap.positions:
            if pv.last_price is not None:
                self._last_prices[pv.symbol.upper()] = pv.last_price
        if self.stop_price.value() == 0.0 and self.chosen_symbol in self._last_prices:
            self.stop_price.setValue(self._last_prices[self.chosen_symbol])

    def _adjust_step(self, text: str) -> None:
        inst = instrument_for(text.strip().upper() or "X")
        if inst is not None:
            self.stop_price.setSingleStep(inst.tick_size)

    def _set_enabled(self) -> None:
        ready = self.desk is not None and not self._busy
        for w in (self.buy, self.sell, self.place_stop, self.close_button):
            w.setEnabled(ready)
        market = ready and self.market is not None
        for w in (self.drop, self.raise_, self.to_loss):
            w.setEnabled(market)
            w.setToolTip("" if market or self.desk is None else "Market controls need the built-in simulator")
        if self.desk is None:
            self.message.setText(_WAITING)
        elif self.message.text() == _WAITING:
            self.message.setText("Ready: buy or sell at market, then watch the rules work.")

    async def _run(self, what: str, call, *, needs_desk: bool = True) -> None:
        account_id = self.account()
        if (needs_desk and self.desk is None) or account_id is None or self._busy:
            return
        self._busy = True
        self._set_enabled()
        self.busyChanged.emit(True)
        self.message.setText(f"{what}…")
        try:
            result = await call(account_id)
        except Exception as exc:  # any refusal is shown to the user as it came
            text, ok = f"{what} failed: {exc}", False
        else:
            text, ok = f"{what}: {result if isinstance(result, str) and result else 'done'}", True
        finally:
            self._busy = False
            self._set_enabled()
            self.busyChanged.emit(False)
        self.message.setText(text)
        self.finished.emit(text, ok)

    @asyncSlot()
    async def on_buy(self) -> None:
        symbol, size = self.chosen_symbol, self.quantity.value()
        await self._run(f"Buy {size} {symbol}", lambda acct: self.desk.place_market(acct, symbol, "buy", size))

    @asyncSlot()
    async def on_sell(self) -> None:
        symbol, size = self.chosen_symbol, self.quantity.value()
        await self._run(f"Sell {size} {symbol}", lambda acct: self.desk.place_market(acct, symbol, "sell", size))

    @asyncSlot()
    async def on_place_stop(self) -> None:
        symbol, price = self.chosen_symbol, self.stop_price.value()
        if price <= 0:
            self.message.setText("Type a stop price first")
            return
        await self._run(f"Stop {symbol} at {price:,.2f}", lambda acct: self.desk.place_stop(acct, symbol, price))

    @asyncSlot()
    async def on_drop(self) -> None:
        await self._move(-self.points.value())

    @asyncSlot()
    async def on_raise(self) -> None:
        await self._move(self.points.value())

    async def _move(self, points: int) -> None:
        symbol, market = self.chosen_symbol, self.market
        if market is None:
            return
        word = "Drop" if points < 0 else "Raise"

        async def move(_account: int) -> str:
            price = await market.move_price(symbol, points)
            self._last_prices[symbol] = price
            return f"{symbol} now {price:,.2f}"

        await self._run(f"{word} {symbol} {abs(points)} pts", move, needs_desk=False)

    @asyncSlot()
    async def on_move_to_loss(self) -> None:
        symbol, market, loss = self.chosen_symbol, self.market, self.loss.value()
        if market is None:
            return

        async def move(account_id: int) -> str:
            price = await market.move_to_open_loss(account_id, symbol, loss)
            self._last_prices[symbol] = price
            return f"{symbol} now {price:,.2f}"

        await self._run(f"Move {symbol} to an open loss of ${loss:,.0f}", move, needs_desk=False)

    @asyncSlot()
    async def on_close(self) -> None:
        symbol = self.chosen_symbol
        await self._run(f"Close {symbol}", lambda acct: self.desk.close(acct, symbol))
