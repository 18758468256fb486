"""The Rules lab (Rules → Replay history…): what would these rules have done to my last month?

Pick an account, a range of trading days and a rule set (the rules in force, or a copy edited in
the rule editor); Run reads the account's trades from the gateway through the running guard's
broker (its request budget, routine priority: enforcement stays first) and replays them through
the engine in chunks on the window's loop, so the window never freezes; Cancel stops either phase between two
requests or between two chunks of a few hundred fills. The result: a chart of cumulative actual vs guarded P&L
with a marker on each day a rule fired, the per-day table, the notes (what was skipped), Export
CSV, and "Use these rules", which saves the edited rules the normal way (tighten now, loosen at the
next reset, runtime.change_config).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...config import DeskGuardConfig, load_config
from ...engine.rules import RULES_BY_KEY
from ...replay import ReplayCancelled, ReplayResult, replay_steps, write_csv
from ...replay_fetch import default_range, fetch_history
from ..display import LOSS_COLOR, PROFIT_COLOR, money

ACTUAL_COLOR = "#757575"
GUARDED_COLOR = PROFIT_COLOR
COLUMNS = ("Trading day", "Actual", "Guarded", "Blocked", "First lock", "Rules fired")


def _qdate(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _date(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


class ReplayLab(QDialog):
    """Open with ``open()`` or ``show()`` (never ``exec()``). ``runtime``: the running guard (None:
    nobody signed in, and Run says so)."""

    finishedRun = Signal(str)  # "done", "cancelled" or "failed: …"
    rulesUsed = Signal(object)  # the ChangePlan of "Use these rules"

    def __init__(self, parent: QWidget | None = None, *, runtime: Any = None, config_file: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rules lab — replay your history — DeskGuard")
        self.resize(1000, 760)
        self.runtime = runtime
        from ...config import config_path

        # The running guard's own file (the demo's lives in its own home), else the user's.
        if config_file is None:
            config_file = runtime.config_file if runtime is not None else config_path()
        self.config_file = Path(config_file)
        in_force = getattr(runtime, "config", None)
        self.start_rules: DeskGuardConfig = in_force if in_force is not None else load_config(self.config_file)
        self.rules: DeskGuardConfig = self.start_rules
        self.result: ReplayResult | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancel = threading.Event()
        self._copy_dir: Path | None = None  # the edited copy's folder, removed when the lab closes
        self._build()

    # ----- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.account_box = QComboBox()
        guardian = getattr(self.runtime, "guardian", None)
        for account in (getattr(guardian, "account_info", None) or {}).values():
            self.account_box.addItem(f"{account.name} ({account.id})", account)
        form.addRow("Account", self.account_box)
        first, last = default_range(self.rules.calendar, datetime.now(UTC))
        dates = QHBoxLayout()
        self.from_edit = QDateEdit(_qdate(first))
        self.to_edit = QDateEdit(_qdate(last))
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        dates.addWidget(self.from_edit)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.to_edit)
        dates.addWidget(QLabel("(trading days, labelled by the date they end; both included)"))
        dates.addStretch(1)
        form.addRow("Trading days", dates)
        rules_row = QHBoxLayout()
        self.rules_label = QLabel("The rules in force")
        self.edit_button = QPushButton("Edit a copy…")
        self.edit_button.clicked.connect(self.edit_copy)
        self.use_button = QPushButton("Use these rules")
        self.use_button.setEnabled(False)
        self.use_button.setToolTip("Save the edited rules: tighter ones apply now, looser ones at the next reset")
        self.use_button.clicked.connect(self.use_rules)
        rules_row.addWidget(self.rules_label, 1)
        rules_row.addWidget(self.edit_button)
        rules_row.addWidget(self.use_button)
        form.addRow("Rule set", rules_row)
        self.bars_box = QCheckBox("Fetch one-minute bars (runs the quote-driven rules 004, 005, 012; slower)")
        form.addRow("", self.bars_box)
        layout.addLayout(form)

        run_row = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel("")
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress, 1)
        layout.addLayout(run_row)
        layout.addWidget(self.status)
        if guardian is None or self.account_box.count() == 0:
            self.run_button.setEnabled(False)
            self.status.setText("Sign in (or start the demo) to read an account's history.")

        self.chart = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.chart.setBackground(None)
        self.chart.showGrid(x=True, y=True, alpha=0.2)
        self.chart.addLegend(offset=(10, 10))
        self.chart.setLabel("left", "cumulative net P&L")
        self.actual_curve = self.chart.plot([], [], pen=pg.mkPen(ACTUAL_COLOR, width=2), name="Actual")
        self.guarded_curve = self.chart.plot([], [], pen=pg.mkPen(GUARDED_COLOR, width=2), name="Guarded")
        self.markers = pg.ScatterPlotItem(size=10, symbol="t", brush=pg.mkBrush(LOSS_COLOR), name="A rule fired")
        self.chart.addItem(self.markers)
        layout.addWidget(self.chart, 3)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 2)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        bottom = QHBoxLayout()
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export_clicked)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        bottom.addWidget(self.export_button)
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout.addLayout(bottom)

    # ----- the rule set ---------------------------------------------------------------------

    def edit_copy(self) -> Any:
        """Edit a copy of the rule set in the rule editor; the lab replays the copy once saved."""
        from ...config import save_config
        from .rule_editor import RuleEditorDialog

        if self._copy_dir is None:
            self._copy_dir = Path(tempfile.mkdtemp(prefix="deskguard-lab-"))
        path = self._copy_dir / "config.toml"
        save_config(self.rules, path)
        dialog = RuleEditorDialog(self, config_file=path, runtime=None)
        dialog.setWindowTitle("Edit a copy of the rules — Rules lab")
        dialog.saved.connect(lambda _plan: self.set_rules(load_config(path)))
        dialog.open()
        return dialog

    def set_rules(self, rules: DeskGuardConfig) -> None:
        self.rules = rules
        changed = self.changed_rules()
        self.rules_label.setText("An edited copy: " + ", ".join(f"{RULES_BY_KEY[k].number} {k}" for k in changed)
                                 if changed else "The rules in force")
        self.use_button.setEnabled(bool(changed))

    def changed_rules(self) -> list[str]:
        return [k for k in RULES_BY_KEY if self.rules.rule(k) != self.start_rules.rule(k)]

    def use_rules(self) -> Any:
        """Save the edited rules into config.toml the normal way: tighter at once, looser at the reset."""
        from ...runtime import change_config

        requested = load_config(self.config_file)
        for key in self.changed_rules():
            requested = requested.with_rule(key, self.rules.rule(key))
        plan = change_config(requested, runtime=self.runtime, path=self.config_file)
        self.start_rules = self.rules
        self.set_rules(self.rules)
        if plan is None:
            self.status.setText("Rules saved; they apply when DeskGuard starts guarding.")
        else:
            text = f"Rules saved: {len(plan.applied_changes)} change(s) applied now"
            if plan.pending_changes:
                text += f", {len(plan.pending_changes)} waiting for the next reset"
            self.status.setText(text + ".")
        self.rulesUsed.emit(plan)
        return plan

    # ----- running --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[None] | None:
        if self.running:
            return self._task
        account = self.account_box.currentData()
        first, last = _date(self.from_edit.date()), _date(self.to_edit.date())
        if account is None:
            return None
        if first > last:
            self.status.setText(f"The first day ({first.isoformat()}) is after the last ({last.isoformat()}).")
            return None
        self._cancel = threading.Event()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText("Reading the account's trades…")
        self._task = asyncio.ensure_future(self._run(account, first, last, self.rules, self.bars_box.isChecked()))
        return self._task

    def cancel(self) -> None:
        self._cancel.set()
        self.status.setText("Cancelling…")

    async def _run(self, account: Any, first: date, last: date, rules: DeskGuardConfig, with_bars: bool) -> None:
        outcome = "done"
        try:
            broker = self.runtime.guardian.broker
            cancel = self._cancel

            def fetched(text: str, done: int, total: int) -> None:
                self.status.setText(text)
                self.progress.setValue(int(50 * done / max(1, total)))

            history = await fetch_history(broker, account.id, account.name, first, last, rules.calendar,
                                          with_bars=with_bars, balance_now=account.balance, progress=fetched,
                                          cancelled=cancel.is_set)
            self.status.setText(f"Replaying {len(history.trades)} fills…")
            # On the window's own loop, a few hundred events at a time between paints: no thread
            # (a worker thread could end up running the destructors of Qt objects).
            steps = replay_steps(history.trades, rules.engine_settings(), account_id=account.id, bars=history.bars,
                                 starting_balance=history.starting_balance, days=(first, last))
            while True:
                try:
                    done, total = next(steps)
                except StopIteration as stop:
                    result: ReplayResult = stop.value
                    break
                if cancel.is_set():
                    steps.close()
                    raise ReplayCancelled()
                self.progress.setValue(50 + int(50 * done / max(1, total)))
                await asyncio.sleep(0)
            self.show_result(result)
            self.status.setText(f"Replayed {result.fills} fills over {len(result.days)} trading days with trades "
                                f"({result.engine_seconds:.2f} s of engine time).")
        except ReplayCancelled:
            outcome = "cancelled"
            self.status.setText("Cancelled.")
            self.progress.setValue(0)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the user; the guard is untouched
            outcome = f"failed: {exc}"
            self.status.setText(f"Could not replay: {exc}")
        finally:
            with contextlib.suppress(RuntimeError):  # the dialog may be gone at shutdown
                self.run_button.setEnabled(True)
                self.cancel_button.setEnabled(False)
            self.finishedRun.emit(outcome)

    # ----- the result -----------------------------------------------------------------------

    def show_result(self, result: ReplayResult) -> None:
        self.result = result
        self.progress.setValue(100)
        tz = self.rules.calendar.timezone
        xs = [datetime.combine(d.day, time(12), tz).timestamp() for d in result.days]
        actual, guarded, a, g = [], [], 0.0, 0.0
        for d in result.days:
            a += d.actual
            g += d.guarded
            actual.append(round(a, 2))
            guarded.append(round(g, 2))
        self.actual_curve.setData(xs, actual)
        self.guarded_curve.setData(xs, guarded)
        fired = [(x, y, d) for x, y, d in zip(xs, guarded, result.days, strict=True) if d.fired]
        self.markers.setData([x for x, _, _ in fired], [y for _, y, _ in fired],
                             data=[", ".join(sorted(d.fired)) for _, _, d in fired])
        self.table.setRowCount(len(result.days))
        for row, d in enumerate(result.days):
            lock = "-"
            if d.first_lock_rule and d.first_lock_at:
                at = d.first_lock_at.astimezone(tz)
                lock = f"{RULES_BY_KEY[d.first_lock_rule].number} {d.first_lock_rule} at {at:%H:%M:%S}"
            cells = (d.day.isoformat(), money(d.actual), money(d.guarded), str(d.blocked), lock,
                     ", ".join(f"{RULES_BY_KEY[k].number} {k}" for k in RULES_BY_KEY if k in d.fired))
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        lines = [f"Total: actual {money(result.actual_total)}, guarded {money(result.guarded_total)}, "
                 f"{result.blocked_total} trades blocked."]
        wa, wg = result.worst_actual, result.worst_guarded
        if wa is not None and wg is not None:
            lines.append(f"Worst day: actual {money(wa.actual)} ({wa.day.isoformat()}), "
                         f"guarded {money(wg.guarded)} ({wg.day.isoformat()}).")
        fired_days = result.rule_days()
        lines.append("Days each rule fired: " + (", ".join(
            f"{RULES_BY_KEY[k].number} {k}: {n}" for k, n in fired_days.items()) or "none") + ".")
        lines += result.notes
        self.summary.setText("\n".join(lines))
        self.export_button.setEnabled(True)

    def curves(self) -> dict[str, tuple[list[float], list[float]]]:
        """The chart's curves by name (for tests and screenshots)."""
        out: dict[str, tuple[list[float], list[float]]] = {}
        for name, curve in (("actual", self.actual_curve), ("guarded", self.guarded_curve)):
            x, y = curve.getData()
            out[name] = ([] if x is None else [float(v) for v in x], [] if y is None else [float(v) for v in y])
        return out

    def export_csv(self, path: str | Path) -> Path:
        if self.result is None:
            raise ValueError("nothing to export: run the replay first")
        target = Path(path)
        with target.open("w", encoding="utf-8", newline="") as fh:
            write_csv(self.result, fh, self.rules.calendar.timezone)
        return target

    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the replay", "replay.csv", "CSV files (*.csv)")
        if path:
            try:
                self.export_csv(path)
            except OSError as exc:
                self.status.setText(f"Could not write {path}: {exc.strerror or exc}")
                return
            self.status.setText(f"Exported to {path}.")

    def done(self, result: int) -> None:
        self._cancel.set()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        if self._copy_dir is not None:
            shutil.rmtree(self._copy_dir, ignore_errors=True)
            self._copy_dir = None
        super().done(result)
