"""Each enabled rule: its current figure against its limit (with a bar), its state, pending changes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ...engine.rules import ALL_RULES, RULES_BY_KEY, Figure
from ...engine.schema import Unit
from ...engine.settings import EngineSettings
from ...guardian import texts
from ...guardian.snapshot import AccountSnapshot
from ..display import AMBER, LOSS_COLOR, PROFIT_COLOR, RED
from ..port import PendingChange

COLUMNS = ("Rule", "Now", "State", "Pending")


#: Figures that count things a rule allows up to its limit: exactly at the cap is allowed (the
#: state after a reduce), only past it is a breach. Money limits are breached on reaching them.
_ALLOWED_AT_CAP = (Unit.CONTRACTS, Unit.TRADES)


def rule_state(key: str, snap: AccountSnapshot | None, figure: Figure | None, warn_at: float | None) -> str:
    """``locked``, ``breached``, ``at limit``, ``warning`` or ``ok`` for one rule of one account."""
    if snap is not None:
        if any(lock.rule == key for lock in snap.locks):
            return "locked"
        if any(w == key or w.startswith(key + ":") or w.startswith(key + "/") or w.startswith(key + ".") for w in snap.warnings):
            return "warning"
    if figure is not None and figure.limit > 0:
        if figure.unit in _ALLOWED_AT_CAP and figure.value == figure.limit:
            return "at limit"
        if figure.used >= 1:
            return "breached"
        if warn_at is not None and figure.used >= warn_at:
            return "warning"
    return "ok"


def _own_key(change_key: str, account: str | None) -> str | None:
    """A change's ``rule.param`` key for the account shown: shared changes as they are, an
    account's own (``accounts.NAME.rule.param``) only when NAME is that account."""
    if not change_key.startswith("accounts."):
        return change_key
    if account is None:
        return None
    for prefix in (f"accounts.{account}.", f'accounts."{account}".'):
        if change_key.lower().startswith(prefix.lower()):
            return change_key[len(prefix):]
    return None


def pending_text(key: str, changes: list[PendingChange], account: str | None = None) -> str:
    parts = []
    for change in changes:
        own = _own_key(change.key, account)
        if own is None:
            continue
        rule, _, _name = own.partition(".")
        if rule != key:
            continue
        when = f"at {change.effective_at.astimezone():%a %H:%M}" if change.effective_at else "at the reset"
        parts.append(texts.change_sentence(own, change.old, change.new, when))
    return "; ".join(parts)


_STATE_COLOUR = {"ok": PROFIT_COLOR, "warning": AMBER, "at limit": AMBER, "breached": LOSS_COLOR, "locked": RED}


class RulesPanel(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.setColumnHidden(3, True)  # shown only while a change waits for the reset
        self.settings: EngineSettings | None = None
        self.changes: list[PendingChange] = []
        self.keys: list[str] = []
        self._snap: AccountSnapshot | None = None
        self._bars: dict[str, QProgressBar] = {}
        self._shown: dict[str, tuple] = {}

    def _rules(self, snap: AccountSnapshot | None) -> dict:
        """The rules of the account shown (its own table or firm profile), else the shared ones."""
        assert self.settings is not None
        if snap is None:
            return self.settings.rules
        return self.settings.for_account(snap.account_id, snap.name).rules

    def set_settings(self, settings: EngineSettings, changes: list[PendingChange]) -> None:
        self.settings, self.changes = settings, changes
        rules = self._rules(self._snap)
        keys = [r.key for r in ALL_RULES if rules[r.key].enabled]
        if keys != self.keys:
            self._rebuild(keys)
        any_pending = False
        account = self._snap.name if self._snap is not None else None
        for row, key in enumerate(self.keys):
            text = pending_text(key, changes, account)
            any_pending = any_pending or bool(text)
            self.item(row, 3).setText(text)
            rule = RULES_BY_KEY[key]
            self.item(row, 0).setToolTip(rule.summary + (f"\nPending: {text}" if text else ""))
        self.setColumnHidden(3, not any_pending)
        self._shown.clear()
        self.show_snapshot(self._snap)

    def _rebuild(self, keys: list[str]) -> None:
        self.keys = keys
        self.setRowCount(len(keys))
        self._bars.clear()
        for row, key in enumerate(keys):
            rule = RULES_BY_KEY[key]
            title = QTableWidgetItem(f"{rule.number}  {rule.title}")
            title.setToolTip(rule.summary)
            self.setItem(row, 0, title)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.setCellWidget(row, 1, bar)
            self._bars[key] = bar
            self.setItem(row, 2, QTableWidgetItem(""))
            self.setItem(row, 3, QTableWidgetItem(""))

    def show_snapshot(self, snap: AccountSnapshot | None) -> None:
        before, self._snap = self._snap, snap
        if self.settings is None:
            return
        rules = self._rules(snap)
        other_account = (before.account_id if before else None) != (snap.account_id if snap else None)
        if other_account or [r.key for r in ALL_RULES if rules[r.key].enabled] != self.keys:
            self.set_settings(self.settings, self.changes)  # another account: its rules, its pending changes
            return
        for row, key in enumerate(self.keys):
            figure = snap.figures.get(key) if snap is not None else None
            warn_at = getattr(rules[key], "warn_at", None)
            state = rule_state(key, snap, figure, warn_at)
            lock = next((lk for lk in snap.locks if lk.rule == key), None) if snap is not None else None
            shown = (figure, state, lock)
            if self._shown.get(key) == shown:
                continue
            self._shown[key] = shown
            bar = self._bars[key]
            if figure is None:
                bar.setValue(0)
                bar.setFormat("—")
            else:
                bar.setValue(int(min(1.0, figure.used) * 1000))
                bar.setFormat(figure.text)
            colour = _STATE_COLOUR[state]
            bar.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")
            label = state.upper()
            if lock is not None and lock.symbol:
                label = f"LOCKED ({lock.symbol})"
            item = self.item(row, 2)
            item.setText(label)
            item.setForeground(self.palette().text() if state == "ok" else QBrush(QColor(colour)))

    def row_of(self, key: str) -> dict[str, str]:
        """What the panel shows for one rule (for tests and screen readers)."""
        row = self.keys.index(key)
        return {
            "rule": self.item(row, 0).text(),
            "now": self._bars[key].format(),
            "used": str(self._bars[key].value() / 1000),
            "state": self.item(row, 2).text(),
            "pending": self.item(row, 3).text(),
        }
