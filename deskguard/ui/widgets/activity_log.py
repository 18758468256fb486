"""What happened today, in plain English: notices as they come, plus the audit log's history.

Filterable (any column, as you type) and exportable to CSV (the rows the filter shows).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...guardian import texts
from ...guardian.snapshot import Notice, NoticeLevel
from ..display import AMBER, LOSS_COLOR, PROFIT_COLOR, RED, rule_title
from ..port import AuditRow

COLUMNS = ("Time", "Account", "Kind", "Rule", "What happened")
CSV_COLUMNS = ("time", "account_id", "kind", "rule", "text", "source")
MAX_ROWS = 5000  # a day of enforcement fits; the full history stays in the audit log

_KIND_COLOUR = {
    NoticeLevel.WARNING.value: AMBER,
    NoticeLevel.ENFORCEMENT.value: LOSS_COLOR,
    NoticeLevel.LOCK_ENDED.value: PROFIT_COLOR,
    NoticeLevel.ALERT.value: RED,
}


@dataclass(frozen=True, slots=True)
class LogRow:
    at: datetime
    account_id: int | None
    kind: str  # a notice level, or the audit row's event
    rule: str | None
    text: str
    source: str  # "notice" or "audit"

    @staticmethod
    def from_notice(notice: Notice) -> LogRow:
        return LogRow(notice.at, notice.account_id, notice.level.value, notice.rule, notice.text, "notice")

    @staticmethod
    def from_audit(row: AuditRow) -> LogRow:
        parts = [row.detail]
        if getattr(row, "decision", None):
            parts.append(f"[{row.decision}]")
        if getattr(row, "result", None):
            parts.append(f"→ {row.result}")
        return LogRow(row.at, row.account_id, row.event, row.rule, " ".join(p for p in parts if p), "audit")


class ActivityLog(QWidget):
    exported = Signal(str)  # the path written

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.verticalHeader().setVisible(False)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        for col in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter (rule, kind, words…)")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self.proxy.setFilterFixedString)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.ask_export)
        self.status = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.filter_box, 1)
        top.addWidget(self.export_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.status)
        self.rows: list[LogRow] = []  # newest first, like the view
        self._seen: set[LogRow] = set()
        self._dialog: QFileDialog | None = None

    # -- rows ---------------------------------------------------------------------------------

    def add_notice(self, notice: Notice) -> None:
        self._insert([LogRow.from_notice(notice)])

    def add_audit_rows(self, rows: Iterable[AuditRow]) -> None:
        self._insert([LogRow.from_audit(r) for r in rows])

    def _insert(self, rows: list[LogRow]) -> None:
        rows = [r for r in rows if r not in self._seen]
        if not rows:
            return
        rows.sort(key=lambda r: r.at)
        for row in rows:
            self._seen.add(row)
            # Keep newest first; history loaded late goes below anything newer.
            index = 0
            while index < len(self.rows) and self.rows[index].at > row.at:
                index += 1
            self.rows.insert(index, row)
            self.model.insertRow(index, self._items(row))
        while len(self.rows) > MAX_ROWS:
            dropped = self.rows.pop()
            self._seen.discard(dropped)
            self.model.removeRow(self.model.rowCount() - 1)

    @staticmethod
    def _items(row: LogRow) -> list[QStandardItem]:
        local = row.at.astimezone()
        cells = [
            QStandardItem(local.strftime("%H:%M:%S")),
            QStandardItem("" if row.account_id is None else str(row.account_id)),
            QStandardItem(row.kind.replace("_", " ")),
            QStandardItem(rule_title(row.rule)),
            QStandardItem(texts.plain(row.text)),
        ]
        cells[0].setToolTip(local.isoformat(timespec="seconds"))
        cells[4].setToolTip(texts.plain(row.text))
        colour = _KIND_COLOUR.get(row.kind)
        if colour:
            cells[2].setForeground(QBrush(QColor(colour)))
        return cells

    def visible_rows(self) -> list[LogRow]:
        """The rows the filter lets through, in the order shown."""
        out = []
        for r in range(self.proxy.rowCount()):
            source = self.proxy.mapToSource(self.proxy.index(r, 0)).row()
            out.append(self.rows[source])
        return out

    # -- export -------------------------------------------------------------------------------

    def export_csv(self, path: str | Path) -> int:
        """Write the rows the filter shows (oldest first) to ``path``; returns how many."""
        rows = list(reversed(self.visible_rows()))
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            for row in rows:
                writer.writerow([row.at.isoformat(), "" if row.account_id is None else row.account_id,
                                 row.kind, row.rule or "", row.text, row.source])
        self.status.setText(f"Exported {len(rows)} rows to {path}")
        self.exported.emit(str(path))
        return len(rows)

    def ask_export(self) -> None:
        """A non-blocking save dialog (``open()``, never ``exec()``: the guardian keeps running)."""
        dialog = QFileDialog(self, "Export the activity log", f"deskguard-activity-{datetime.now():%Y%m%d-%H%M}.csv",
                             "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.fileSelected.connect(self._export_to)
        dialog.finished.connect(dialog.deleteLater)
        self._dialog = dialog
        dialog.open()

    def _export_to(self, path: str) -> None:
        try:
            self.export_csv(path)
        except OSError as exc:
            self.status.setText(f"Could not export to {path}: {exc.strerror or exc}")
