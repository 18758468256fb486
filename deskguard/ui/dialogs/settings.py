"""Settings: when the trading day resets, which accounts to guard, which instruments to stream,
notifications (tray, and webhooks with "Send test"), start at login (with a check that it will),
theme.

Values are checked by the config itself (``DeskGuardConfig.with_section``), so a refused value
reads as config.toml would report it. Save writes config.toml (comments kept) and, with a guard
running, plans the change like any other: moving the trading-day reset shifts every daily limit,
so it waits for the next reset, like a loosening.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from ... import autostart
from ...config import ConfigError, DeskGuardConfig, load_config
from ...config.paths import config_path
from ...engine.schema import ParamInfo
from ...store.errors import StoreError
from ..theme import THEMES
from .field_editors import ERROR_COLOR, HELP_COLOR, ErrorLabel
from .notifications import OK_COLOR, NotificationsBox
from .profile_choice import ProfileChoice, with_profile
from .schema_form import ListEditor

log = logging.getLogger(__name__)

COMMON_ZONES = (
    "America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles", "America/Phoenix",
    "America/Toronto", "Europe/London", "Europe/Berlin", "Europe/Paris", "Asia/Tokyo", "Asia/Singapore",
    "Australia/Sydney", "UTC",
)


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(f"QLabel {{ color: {HELP_COLOR}; }}")
    return label


class SettingsDialog(QDialog):
    """Open with ``open()``. ``saved(DeskGuardConfig)`` after a successful Save."""

    saved = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        config_file: Path | None = None,
        runtime: Any = None,
        known_accounts: Sequence[tuple[int, str]] = (),
        autostart_env: Mapping[str, str] | None = None,
        autostart_command: Sequence[str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings — DeskGuard")
        self.setMinimumWidth(600)
        self.config_file = Path(config_file) if config_file is not None else config_path()
        self.runtime, self.clock = runtime, clock
        self.autostart_env = autostart_env
        self.autostart_command = autostart_command
        self.original: DeskGuardConfig = load_config(self.config_file)
        self.candidate: DeskGuardConfig | None = self.original
        self.plan: Any = None
        cfg = self.original

        # Trading day
        day = QGroupBox("Trading day")
        day_form = QFormLayout(day)
        self.reset_time = QTimeEdit(QTime(cfg.trading_day.reset_time.hour, cfg.trading_day.reset_time.minute))
        self.reset_time.setDisplayFormat("HH:mm")
        self.reset_time.setMaximumWidth(110)
        self.timezone = QComboBox()
        self.timezone.setEditable(True)
        self.timezone.addItems(list(COMMON_ZONES))
        self.timezone.setCurrentText(cfg.trading_day.timezone)
        self.day_error = ErrorLabel()
        day_form.addRow("Resets at", self.reset_time)
        day_form.addRow("Time zone", self.timezone)
        day_form.addRow(self.day_error)
        day_form.addRow(_note("Every daily figure (realized P&L, trade counts, daily locks) starts over at this time. "
                              "Topstep's day rolls at 17:00 America/Chicago. A change waits for the next reset, "
                              "like a looser rule."))

        # Accounts
        acc = QGroupBox("Accounts to guard")
        acc_lay = QVBoxLayout(acc)
        self.every_account = QCheckBox("Every active account (new ones included)")
        self.every_account.setChecked(not cfg.connection.accounts)
        self.account_list = QListWidget()
        self.account_list.setMaximumHeight(120)
        configured = [str(a) for a in cfg.connection.accounts]
        seen: set[str] = set()
        for account_id, name in known_accounts:
            chosen = not configured or name.lower() in {c.lower() for c in configured} or str(account_id) in configured
            self._add_account(name, chosen, f"{name}  (id {account_id})")
            seen |= {name.lower(), str(account_id)}
        for name in configured:
            if name.lower() not in seen:
                self._add_account(name, True)
        self.new_account = QLineEdit()
        self.new_account.setPlaceholderText("account name or id")
        add = QPushButton("Add")
        add.clicked.connect(self._add_typed_account)
        add_row = QHBoxLayout()
        add_row.addWidget(self.new_account, 1)
        add_row.addWidget(add)
        self.accounts_error = ErrorLabel()
        acc_lay.addWidget(self.every_account)
        acc_lay.addWidget(self.account_list)
        acc_lay.addLayout(add_row)
        acc_lay.addWidget(self.accounts_error)
        acc_lay.addWidget(_note("Applies the next time DeskGuard connects (sign in again, or restart)."))

        # Each account's firm profile and starting balance
        prof = QGroupBox("Firm profiles")
        prof_form = QFormLayout(prof)
        self.profile_rows: dict[str, tuple[ProfileChoice, QLineEdit]] = {}
        names = [name for _id, name in known_accounts]
        names += [n for n in cfg.accounts if all(n.lower() != k.lower() for k in names)]
        for name in names:
            found = cfg.account_table(name)
            table = found[1] if found is not None else None
            choice = ProfileChoice(table.profile if table is not None else "")
            start = QLineEdit("" if table is None or table.starting_balance is None else f"{table.starting_balance:g}")
            start.setPlaceholderText("starting balance: the profile's, or the first balance seen")
            row = QHBoxLayout()
            row.addWidget(choice, 2)
            row.addWidget(start, 1)
            prof_form.addRow(name, row)
            self.profile_rows[name] = (choice, start)
            choice.currentIndexChanged.connect(self.validate)
            start.textChanged.connect(self.validate)
        self.profiles_error = ErrorLabel()
        prof_form.addRow(self.profiles_error)
        prof_form.addRow(_note("The firm's rules each account is guarded by (its own rule values stay in "
                               "config.toml). A looser profile, or none, takes effect at the next reset."))
        prof.setVisible(bool(names))

        # Instruments
        ins = QGroupBox("Instruments to stream")
        ins_lay = QVBoxLayout(ins)
        self.instruments = ListEditor(str, ParamInfo(help=""), "connection.instruments")
        self.instruments.set_value(list(cfg.connection.instruments))
        self.instruments_error = ErrorLabel()
        ins_lay.addWidget(self.instruments)
        ins_lay.addWidget(self.instruments_error)
        ins_lay.addWidget(_note("Quotes for open P&L, e.g. MNQ, MES. Symbols of open positions are always added. "
                                "Applies the next time DeskGuard connects."))

        # Notifications, start at login, theme
        other = QGroupBox("Desktop")
        other_form = QFormLayout(other)
        self.notify = QCheckBox("Show notifications for warnings, enforcement and lock ends")
        self.notify.setChecked(cfg.notifications.enabled)
        self.sound = QCheckBox("Play a sound with notifications")
        self.sound.setChecked(cfg.notifications.sound)
        self.notify.toggled.connect(self.sound.setEnabled)
        self.sound.setEnabled(cfg.notifications.enabled)
        self.start_at_login = QCheckBox("Start DeskGuard when I log in")
        self.start_at_login.setChecked(self._autostart_enabled())
        self.check_start = QPushButton("Check")
        self.check_start.setToolTip("Will DeskGuard start at the next login on this computer?")
        self.check_start.clicked.connect(self.check_autostart)
        self.start_check = QLabel()
        self.start_check.setWordWrap(True)
        self.start_check.setVisible(False)
        start_row = QHBoxLayout()
        start_row.addWidget(self.start_at_login, 1)
        start_row.addWidget(self.check_start)
        self.theme = QComboBox()
        self.theme.addItems(list(THEMES))
        self.theme.setCurrentText(cfg.ui.theme)
        other_form.addRow("Notifications", self.notify)
        other_form.addRow("", self.sound)
        other_form.addRow("Start at login", start_row)
        other_form.addRow("", self.start_check)
        other_form.addRow("Theme", self.theme)
        self.notifications = NotificationsBox(cfg.notifications)
        self.finished.connect(lambda _result: self.notifications.cancel_tests())

        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(f"QLabel {{ color: {ERROR_COLOR}; }}")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        content = QWidget()
        content_lay = QVBoxLayout(content)
        for w in (day, acc, prof, ins, other, self.notifications):
            content_lay.addWidget(w)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        scroll.setMinimumHeight(min(content.sizeHint().height() + 4, 640))
        lay = QVBoxLayout(self)
        for w in (scroll, self.problems, self.buttons):
            lay.addWidget(w)

        self.reset_time.timeChanged.connect(self.validate)
        self.timezone.currentTextChanged.connect(self.validate)
        self.every_account.toggled.connect(self.validate)
        self.account_list.itemChanged.connect(self.validate)
        self.instruments.changed.connect(self.validate)
        self.notifications.changed.connect(self.validate)
        self.validate()

    # -- accounts ---------------------------------------------------------------------------------

    def _add_account(self, value: str, checked: bool, text: str | None = None) -> None:
        item = QListWidgetItem(text or value)
        item.setData(Qt.ItemDataRole.UserRole, value)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.account_list.addItem(item)

    def _add_typed_account(self) -> None:
        text = self.new_account.text().strip()
        if text:
            self._add_account(text, True)
            self.new_account.clear()
            self.every_account.setChecked(False)
            self.validate()

    def chosen_accounts(self) -> list[str | int]:
        if self.every_account.isChecked():
            return []
        out: list[str | int] = []
        for i in range(self.account_list.count()):
            item = self.account_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                value = str(item.data(Qt.ItemDataRole.UserRole))
                out.append(int(value) if value.isdigit() else value)
        return out

    def _autostart_enabled(self) -> bool:
        try:
            return autostart.is_enabled(self.autostart_env)
        except Exception:  # a platform quirk must not keep the settings from opening
            log.exception("cannot read the autostart entry")
            return False

    def check_autostart(self) -> autostart.StartCheck:
        """One click: will DeskGuard start at the next login on this OS? (What is saved, not the
        box: an unsaved change is named as such.)"""
        result = autostart.check(self.autostart_env)
        text = result.text
        if self.start_at_login.isChecked() != self._autostart_enabled():
            text += " (Start at login was changed here: Save first.)"
        self.start_check.setText(text)
        self.start_check.setStyleSheet(f"QLabel {{ color: {OK_COLOR if result.will_start else ERROR_COLOR}; }}")
        self.start_check.setVisible(True)
        return result

    # -- validation -------------------------------------------------------------------------------

    def requested(self) -> DeskGuardConfig:
        t = self.reset_time.time()
        cfg = self.original
        cfg = cfg.with_section("trading_day", reset_time=f"{t.hour():02d}:{t.minute():02d}",
                               timezone=self.timezone.currentText().strip())
        cfg = cfg.with_section("connection", accounts=self.chosen_accounts(), instruments=self.instruments.value())
        cfg = cfg.with_section("notifications", enabled=self.notify.isChecked(), sound=self.sound.isChecked(),
                               **self.notifications.values())
        for name, (choice, start) in self.profile_rows.items():
            text = start.text().strip().replace(",", "")
            try:
                balance = float(text) if text else None
            except ValueError:
                raise ConfigError(None, f"accounts.{name}.starting_balance",
                                  f"must be an amount like 50000 (got {text!r})") from None
            cfg = with_profile(cfg, name, choice.profile(), balance)
        return cfg.with_section("ui", theme=self.theme.currentText())

    def validate(self, *_: object) -> bool:
        self.account_list.setEnabled(not self.every_account.isChecked())
        errors: dict[str, list[str]] = {"trading_day": [], "accounts": [], "profiles": []}
        instruments: list[tuple[str, str]] = []
        notifications: list[tuple[str, str]] = []
        try:
            self.candidate = self.requested()
        except ConfigError as exc:
            self.candidate = None
            for err in exc.errors:
                key = err.key or ""
                if key.startswith("trading_day"):
                    errors["trading_day"].append(f"{key.split('.', 1)[-1].replace('_', ' ')}: {err.problem}")
                elif key.startswith("connection.instruments"):
                    instruments.append((key[len("connection.instruments"):], err.problem))
                elif key.startswith("notifications"):
                    notifications.append((key, err.problem))
                elif key.startswith("accounts."):
                    errors["profiles"].append(f"{key.removeprefix('accounts.')}: {err.problem}")
                else:
                    errors["accounts"].append(err.problem)
        if not self.every_account.isChecked() and not self.chosen_accounts():
            errors["accounts"].append("tick at least one account, or guard every active account")
            self.candidate = None
        self.day_error.show_problems(errors["trading_day"])
        self.accounts_error.show_problems(errors["accounts"])
        self.notifications.show_problems(notifications)
        self.profiles_error.show_problems(errors["profiles"])
        rest = self.instruments.show_problems(instruments)  # "[1]: must not be empty" goes under row 1
        self.instruments_error.show_problems([f"{sub}: {text}" if sub else text for sub, text in rest])
        self.save_button.setEnabled(self.candidate is not None)
        self.problems.setText("" if self.candidate is not None else "Fix the values marked in red before saving.")
        return self.candidate is not None

    # -- saving -----------------------------------------------------------------------------------

    def save(self) -> None:
        if not self.validate() or self.candidate is None:
            return
        requested = self.candidate
        try:
            if requested != self.original:
                from ...runtime import change_config

                self.plan = change_config(requested, runtime=self.runtime, path=self.config_file, now=self.clock())
            want = self.start_at_login.isChecked()
            if want != self._autostart_enabled():
                autostart.set_enabled(want, self.autostart_command, self.autostart_env)
        except (OSError, ConfigError, RuntimeError, StoreError) as exc:
            log.exception("saving the settings failed")
            self.problems.setText(f"Could not save: {exc}")
            return
        self.saved.emit(requested)
        self.accept()
