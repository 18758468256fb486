"""Open positions and working orders of the selected account."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ...engine.instruments import symbol_of
from ...engine.models import Order, OrderType, PositionType, Side
from ...guardian.snapshot import PositionView
from ..display import LOSS_COLOR, money, pnl_color

_ORDER_TYPE = {
    OrderType.LIMIT: "Limit",
    OrderType.MARKET: "Market",
    OrderType.STOP_LIMIT: "Stop limit",
    OrderType.STOP: "Stop",
    OrderType.TRAILING_STOP: "Trailing stop",
    OrderType.JOIN_BID: "Join bid",
    OrderType.JOIN_ASK: "Join ask",
}


def _price(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


class _RecordTable(QTableWidget):
    headers: tuple[str, ...] = ()
    numeric: frozenset[int] = frozenset()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.headers), parent)
        self.setHorizontalHeaderLabels(list(self.headers))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._rows: tuple = ()

    def _fill(self, rows: list[list[tuple[str, str | None]]]) -> None:
        self.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, (text, colour) in enumerate(cells):
                item = self.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if c in self.numeric:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
                item.setForeground(QBrush(QColor(colour)) if colour else QBrush())

    def row_texts(self) -> list[list[str]]:
        return [[self.item(r, c).text() for c in range(self.columnCount())] for r in range(self.rowCount())]


class PositionsTable(_RecordTable):
    headers = ("Symbol", "Side", "Size", "Avg price", "Last", "Open P&L", "Stop", "Safety net")
    numeric = frozenset({2, 3, 4, 5, 7})

    def show_positions(self, positions: tuple[PositionView, ...]) -> None:
        if positions == self._rows:
            return
        self._rows = positions
        rows = []
        for pv in positions:
            pos = pv.position
            grey = "#8a8a8a" if pv.stale else None
            rows.append([
                (pv.symbol, None),
                ("Long" if pos.type == PositionType.LONG else "Short", None),
                (str(pos.size), None),
                (_price(pos.average_price), None),
                (_price(pv.last_price) + (" (stale)" if pv.stale else ""), grey),
                (money(pv.open_pnl), grey or pnl_color(pv.open_pnl)),
                ("yes" if pv.has_stop else "NO", None if pv.has_stop else LOSS_COLOR),
                (_price(pv.safety_net), None),  # the app's own stop at the gateway (rule 018)
            ])
        self._fill(rows)


class OrdersTable(_RecordTable):
    headers = ("Symbol", "Type", "Side", "Size", "Price", "Order id")
    numeric = frozenset({3, 4, 5})

    def show_orders(self, orders: tuple[Order, ...]) -> None:
        if orders == self._rows:
            return
        self._rows = orders
        rows = []
        for o in orders:
            price = o.stop_price if o.type in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP) else o.limit_price
            rows.append([
                (symbol_of(o.contract_id), None),
                (_ORDER_TYPE.get(o.type, str(o.type)) + (" (safety net)" if o.is_safety_net else ""), None),
                ("Buy" if o.side == Side.BUY else "Sell", None),
                (str(o.size), None),
                (_price(price), None),
                (str(o.id), None),
            ])
        self._fill(rows)
