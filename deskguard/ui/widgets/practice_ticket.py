"""Demo mode only: a small order ticket against the built-in simulator, and the DEMO badge.

It lets a new user trip a rule within a minute (buy, watch the P&L, close at a loss). Orders go to
an injected :class:`~deskguard.ui.port.PracticeDesk`; the guardian then sees them exactly as it
would see orders from the TopstepX web screen.
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
from ..port import PracticeDesk

_WAITING = "Waiting for the simulator…"
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

    def __init__(self, desk: PracticeDesk | None, account: Callable[[], int | None], parent: QWidget | None = None) -> None:
        super().__init__("Practice ticket", parent)
        self.desk = desk
        self.account = account
        self.symbol = QComboBox()
        self.symbol.setEditable(True)
        self.symbol.addItems(PRACTICE_SYMBOLS)
        self.quantity = QSpinBox()
        self.quantity.setRange(1, 50)
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
        self.message = QLabel()
        self.message.setWordWrap(True)
        sides = QHBoxLayout()
        sides.addWidget(self.buy)
        sides.addWidget(self.sell)
        stop = QHBoxLayout()
        stop.addWidget(self.stop_price, 1)
        stop.addWidget(self.place_stop)
        form = QFormLayout(self)
        form.addRow("Symbol", self.symbol)
        form.addRow("Quantity", self.quantity)
        form.addRow(sides)
        form.addRow("Stop price", stop)
        form.addRow(self.close_button)
        form.addRow(self.message)
        self.buy.clicked.connect(self.on_buy)
        self.sell.clicked.connect(self.on_sell)
        self.place_stop.clicked.connect(self.on_place_stop)
        self.close_button.clicked.connect(self.on_close)
        self.symbol.currentTextChanged.connect(self._adjust_step)
        self._adjust_step(self.symbol.currentText())
        self._busy = False
        self._last_prices: dict[str, float] = {}
        self._set_enabled()

    @property
    def chosen_symbol(self) -> str:
        return self.symbol.currentText().strip().upper()

    def set_desk(self, desk: PracticeDesk | None) -> None:
        self.desk = desk
        self._set_enabled()

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
        if self.desk is None:
            self.message.setText(_WAITING)
        elif self.message.text() == _WAITING:
            self.message.setText("Ready: buy or sell at market, then watch the rules work.")

    async def _run(self, what: str, call) -> None:
        account_id = self.account()
        if self.desk is None or account_id is None or self._busy:
            return
        self._busy = True
        self._set_enabled()
        self.busyChanged.emit(True)
        self.message.setText(f"{what}…")
        try:
            await call(account_id)
        except Exception as exc:  # any refusal is shown to the user as it came
            text, ok = f"{what} failed: {exc}", False
        else:
            text, ok = f"{what}: done", True
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
    async def on_close(self) -> None:
        symbol = self.chosen_symbol
        await self._run(f"Close {symbol}", lambda acct: self.desk.close(acct, symbol))
