"""The account header: selector, balance, today's realized and open P&L, the state — in big type."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...engine.state import AccountStatus
from ...guardian.snapshot import AccountSnapshot
from ..display import STATUS_COLOR, STATUS_LABEL, STATUS_TEXT_COLOR, money, pnl_color


def _scaled(widget: QWidget, scale: float, bold: bool = False) -> None:
    font = QFont(widget.font())
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    widget.setFont(font)


class StatePill(QLabel):
    """The account's state as a coloured pill: OK / WARNING / ENFORCING / LOCKED / NOT GUARDING."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        _scaled(self, 1.9, bold=True)
        self.status: AccountStatus | None = None
        self.set_status(AccountStatus.NOT_GUARDING)

    def set_status(self, status: AccountStatus) -> None:
        if status == self.status:
            return
        self.status = status
        self.setText(f"  {STATUS_LABEL[status]}  ")
        self.setStyleSheet(
            f"QLabel {{ background: {STATUS_COLOR[status]}; color: {STATUS_TEXT_COLOR[status]};"
            " border-radius: 6px; padding: 6px 14px; }"
        )


class Figure(QWidget):
    """A caption over a big number."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(caption)
        self.value = QLabel("—")
        _scaled(self.value, 2.0, bold=True)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.caption)
        lay.addWidget(self.value)

    def set_value(self, text: str, colour: str | None = None, *, greyed: bool = False) -> None:
        self.value.setText(text)
        if greyed:
            self.value.setStyleSheet("QLabel { color: #8a8a8a; }")
        else:
            self.value.setStyleSheet(f"QLabel {{ color: {colour}; }}" if colour else "")


class AccountSummary(QWidget):
    """Account selector and the day's figures for the selected account."""

    accountSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.selector = QComboBox()
        self.selector.setMinimumContentsLength(18)
        self.selector.setToolTip("Which account to show (all of them are guarded)")
        _scaled(self.selector, 1.2)
        self.selector.currentIndexChanged.connect(self._selected)
        self.balance = Figure("Balance")
        self.realized = Figure("Realized today")
        self.open_pnl = Figure("Open P&L")
        self.week = Figure("Realized this week")
        self.state = StatePill()
        grid = QGridLayout()
        grid.setHorizontalSpacing(28)
        for col, fig in enumerate((self.balance, self.realized, self.open_pnl, self.week)):
            grid.addWidget(fig, 0, col)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.addWidget(QLabel("Account"))
        left.addWidget(self.selector)
        lay.addLayout(left)
        lay.addSpacing(16)
        lay.addLayout(grid, 1)
        lay.addWidget(self.state)
        self._names: dict[int, str] = {}

    # -- accounts -----------------------------------------------------------------------------

    def set_accounts(self, accounts: list[int]) -> None:
        current = self.current_account()
        self.selector.blockSignals(True)
        self.selector.clear()
        for account_id in accounts:
            self.selector.addItem(self._label(account_id), account_id)
        index = self.selector.findData(current) if current is not None else 0
        self.selector.setCurrentIndex(max(0, index))
        self.selector.blockSignals(False)
        if self.current_account() != current and self.current_account() is not None:
            self.accountSelected.emit(self.current_account())

    def current_account(self) -> int | None:
        data = self.selector.currentData()
        return int(data) if data is not None else None

    def select(self, account_id: int) -> None:
        index = self.selector.findData(account_id)
        if index >= 0:
            self.selector.setCurrentIndex(index)

    def _label(self, account_id: int) -> str:
        name = self._names.get(account_id)
        return f"{name} ({account_id})" if name else str(account_id)

    def _selected(self, index: int) -> None:
        account_id = self.selector.itemData(index)
        if account_id is not None:
            self.accountSelected.emit(int(account_id))

    # -- figures ------------------------------------------------------------------------------

    def remember_name(self, snapshot: AccountSnapshot) -> None:
        if snapshot.name and self._names.get(snapshot.account_id) != snapshot.name:
            self._names[snapshot.account_id] = snapshot.name
            index = self.selector.findData(snapshot.account_id)
            if index >= 0:
                self.selector.setItemText(index, self._label(snapshot.account_id))

    def show_snapshot(self, snap: AccountSnapshot) -> None:
        self.balance.set_value(money(snap.balance, signed=False))
        self.realized.set_value(money(snap.realized_day), pnl_color(snap.realized_day))
        stale = " (stale)" if snap.open_pnl_stale else ""
        self.open_pnl.set_value(money(snap.open_pnl) + stale, pnl_color(snap.open_pnl), greyed=snap.open_pnl_stale)
        self.week.set_value(money(snap.realized_week), pnl_color(snap.realized_week))
        self.state.set_status(snap.status)
