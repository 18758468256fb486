"""The rule editor: one page per rule, generated from the rules' schemas.

What it guarantees a trader:
- every field explains itself in plain words, with its unit and bounds;
- a refused value says why, right under the field, in exactly the words ``config.toml`` would get
  (validation is :meth:`DeskGuardConfig.with_rule`), and Save stays disabled until nothing is refused;
- each page says what is in force now, what already waits for the reset, and what saving would do
  ("… (looser) takes effect at 17:00 CT");
- Save writes ``config.toml`` keeping the user's comments, records the change in the rule-change
  history, and applies it to the running guard: tightenings at once, loosenings at the next reset.
  No rule change lifts a lock.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...config import ChangePlan, ConfigError, DeskGuardConfig, config_from_data, load_config, plan_config_change
from ...config.accounts import AccountConfig
from ...config.codec import key_text, to_toml
from ...config.paths import config_path
from ...engine.rules import ALL_RULES, RULES_BY_KEY
from ...engine.rules.trailing_drawdown import TOPSTEP_PRESETS
from ...guardian import texts
from ...store.errors import StoreError
from .field_editors import ERROR_COLOR, HELP_COLOR
from .schema_form import RuleForm

log = logging.getLogger(__name__)

PENDING_COLOR = "#b26a00"


def _preset_changes() -> dict[str, dict[str, dict[str, Any]]]:
    """Topstep account presets, as rule changes: the trailing maximum loss of each account size,
    trailing at end of day and stopping at the starting balance (rules.md, rule 014)."""
    return {
        name: {"trailing_drawdown": {"enabled": True, "max_drawdown": drawdown, "mode": "end_of_day",
                                     "stop_trailing_at": balance}}
        for name, (drawdown, balance) in TOPSTEP_PRESETS.items()
    }


#: Presets offered at the top of the editor: name → {rule key → {field → config value}}.
PRESETS: dict[str, dict[str, dict[str, Any]]] = _preset_changes()


def _figures(key: str, params: Any) -> str:
    """``on — Max loss $500, open P&L not counted, warn at 80 %``."""
    return f"{'on' if params.enabled else 'off'} — {texts.params_summary(key, params)}"


def _belongs(change_key: str, rule: str, scope: str | None = None) -> bool:
    if scope is not None:
        prefix = f"accounts.{key_text(scope)}."
        if not change_key.startswith(prefix):
            return False
        change_key = change_key[len(prefix):]
    elif change_key.startswith("accounts."):
        return False
    return change_key == rule or change_key.startswith(rule + ".")


SHARED_TEXT = "Shared rules (every account without its own value)"


def rule_of(config: DeskGuardConfig, key: str, scope: str | None) -> Any:
    """A rule's params: the shared ones, or one account's effective ones (profile and own values)."""
    return config.rule(key) if scope is None else config.effective(scope).settings.rules[key]


def with_rule(config: DeskGuardConfig, key: str, params: Any, scope: str | None) -> DeskGuardConfig:
    """``config`` with a rule set to ``params``: in the shared rules, or, for an account, as its own
    values — only the parameters that differ from what it has now are written to its table.
    Validated as the file is (a refused value raises ConfigError naming its key)."""
    if scope is None:
        return config.with_rule(key, params)
    found = config.account_table(scope)
    table = found[1] if found is not None else AccountConfig()
    current = config.effective(scope).settings.rules[key]
    overrides = table.overrides
    mine = dict(overrides.get(key, {}))
    for f in dataclasses.fields(params):
        if getattr(params, f.name) != getattr(current, f.name):
            mine[f.name] = getattr(params, f.name)
    overrides[key] = mine
    data: dict[str, Any] = table.model_dump(mode="python")
    data["rules"] = {k: {n: to_toml(v) for n, v in values.items()} for k, values in overrides.items() if values}
    whole = config.to_data()
    whole.setdefault("accounts", {})[found[0] if found is not None else scope] = data
    return config_from_data(whole).with_written(config.written)


class RulePage(QWidget):
    """One rule: what it does, what is in force, the form, and what saving would do."""

    def __init__(self, rule: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rule = rule
        lay = QVBoxLayout(self)
        title = QLabel(f"{rule.number}  {rule.title}")
        font = title.font()
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.3)
        title.setFont(font)
        lay.addWidget(title)
        summary = QLabel(rule.summary)
        summary.setToolTip(f"In config.toml: [rules.{rule.key}]")
        summary.setWordWrap(True)
        lay.addWidget(summary)

        self.status = QFrame()
        self.status.setFrameShape(QFrame.Shape.StyledPanel)
        status_lay = QVBoxLayout(self.status)
        self.in_force = QLabel()
        self.in_force.setWordWrap(True)
        self.waiting = QLabel()
        self.waiting.setWordWrap(True)
        self.waiting.setStyleSheet(f"QLabel {{ color: {PENDING_COLOR}; }}")
        self.if_saved = QLabel()
        self.if_saved.setWordWrap(True)
        for label in (self.in_force, self.waiting, self.if_saved):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            status_lay.addWidget(label)
        lay.addWidget(self.status)

        self.form = RuleForm(rule.key, rule.Params)
        lay.addWidget(self.form)
        lay.addStretch(1)

    def show_state(self, in_force: Any | None, waiting: list[str]) -> None:
        if in_force is None:
            self.in_force.setText("DeskGuard is not guarding right now: saved rules apply when it starts "
                                  "(loosenings still wait for the next trading-day reset).")
        else:
            self.in_force.setText("In force now: " + _figures(self.rule.key, in_force))
        self.waiting.setText("\n".join("Waiting for the reset: " + line for line in waiting))
        self.waiting.setVisible(bool(waiting))

    def show_preview(self, lines: list[str]) -> None:
        self.if_saved.setText("\n".join("If you save: " + line for line in lines))
        self.if_saved.setVisible(bool(lines))


class RuleEditorDialog(QDialog):
    """Edit every rule of ``config.toml``. Open it with ``open()`` (never ``exec()``: the guard keeps
    running underneath).

    ``runtime`` is the running guard's :class:`~deskguard.runtime.Runtime` (None when nobody is
    signed in: then Save writes the file only, and the next start plans the change)."""

    saved = Signal(object)  # the ChangePlan applied (None without a running guard)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        config_file: Path | None = None,
        runtime: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit rules — DeskGuard")
        self.resize(1120, 760)
        self.config_file = Path(config_file) if config_file is not None else config_path()
        self.runtime = runtime
        self.clock = clock
        self.original: DeskGuardConfig = load_config(self.config_file)  # a bad file: ConfigError, shown by the app
        self.in_force: DeskGuardConfig | None = None
        self.waiting: tuple[Any, ...] = ()
        if runtime is not None:
            from ...runtime import plan_from_store

            plan = plan_from_store(runtime.store, self.original, clock())
            self.in_force, self.waiting = plan.effective, plan.pending_changes
        self.candidates: dict[str, DeskGuardConfig | None] = {}  # per rule: validated config, None if refused
        self.plan: ChangePlan | None = None
        self.scope: str | None = None  # None: the shared rules; else the account whose own rules are edited

        top = QHBoxLayout()
        top.addWidget(QLabel("Rules of:"))
        self.scopes = QComboBox()
        self.scopes.addItem(SHARED_TEXT, None)
        names = list(self.original.accounts)
        if runtime is not None:
            guardian = getattr(runtime, "guardian", None)
            for info in getattr(guardian, "account_info", {}).values():
                if all(info.name.lower() != n.lower() for n in names):
                    names.append(info.name)
        for name in names:
            profile = self.original.effective(name).settings.profile
            self.scopes.addItem(f"{name}" + (f" ({profile})" if profile else ""), name)
        self.scopes.setToolTip("Edit the rules every account shares, or one account's own values (they beat "
                               "its firm profile and the shared rules).")
        self.scopes.activated.connect(self._scope_chosen)
        top.addWidget(self.scopes)
        top.addWidget(QLabel("Preset:"))
        self.presets = QComboBox()
        self.presets.addItem("Choose an account size…")
        self.presets.addItems(list(PRESETS))
        self.presets.setToolTip("Fills in the trailing maximum loss of a Topstep account (rule 014); "
                                "nothing is saved until you press Save.")
        self.presets.activated.connect(self._preset_chosen)
        top.addWidget(self.presets)
        top.addStretch(1)
        note = QLabel("Tighter limits apply at once; looser limits and switched-off rules wait for the next "
                      "trading-day reset. Saving never lifts a lock.")
        note.setWordWrap(True)
        note.setStyleSheet(f"QLabel {{ color: {HELP_COLOR}; }}")

        self.rule_list = QListWidget()
        self.rule_list.setMinimumWidth(290)
        self.stack = QStackedWidget()
        self.pages: dict[str, RulePage] = {}
        for rule in ALL_RULES:
            page = RulePage(rule)
            page.form.set_params(self.original.rule(rule.key))
            page.show_state(self.in_force.rule(rule.key) if self.in_force is not None else None,
                            [texts.config_change_sentence(c) for c in self.waiting if _belongs(c.key, rule.key)])
            page.form.changed.connect(lambda key=rule.key: self.validate(key))
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(page)
            self.stack.addWidget(scroll)
            self.pages[rule.key] = page
            self.rule_list.addItem(QListWidgetItem(""))
        self.rule_list.currentRowChanged.connect(self.stack.setCurrentIndex)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.rule_list)
        split.addWidget(self.stack)
        split.setStretchFactor(1, 1)

        self.problems = QLabel()
        self.problems.setStyleSheet(f"QLabel {{ color: {ERROR_COLOR}; }}")
        self.problems.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(note)
        lay.addWidget(split, 1)
        lay.addWidget(self.problems)
        lay.addWidget(self.buttons)

        for rule in ALL_RULES:
            self.validate(rule.key)
        self.rule_list.setCurrentRow(0)

    # -- pages ------------------------------------------------------------------------------------

    def page(self, key: str) -> RulePage:
        return self.pages[key]

    def form(self, key: str) -> RuleForm:
        return self.pages[key].form

    def show_rule(self, key: str) -> None:
        self.rule_list.setCurrentRow(list(self.pages).index(key))

    def _label(self, key: str) -> str:
        rule = RULES_BY_KEY[key]
        config = self.candidates.get(key)
        if config is None:
            state = "⚠ fix"
        else:
            state = "on" if rule_of(config, key, self.scope).enabled else "off"
        changed = config is not None and rule_of(config, key, self.scope) != rule_of(self.original, key, self.scope)
        return f"{rule.number}  {rule.title}  ({state}){'  •' if changed else ''}"

    # -- whose rules ------------------------------------------------------------------------------

    def _scope_chosen(self, index: int) -> None:
        scope = self.scopes.itemData(index)
        if scope == self.scope:
            return
        if self.requested_or_none() != self.original:
            self.scopes.setCurrentIndex(self.scopes.findData(self.scope))
            self.problems.setText("Save or cancel these changes before editing other rules.")
            return
        self.set_scope(scope)

    def set_scope(self, scope: str | None) -> None:
        """Edit the shared rules (None) or one account's own values; the forms show what applies."""
        self.scope = scope
        self.scopes.setCurrentIndex(max(0, self.scopes.findData(scope)))
        for rule in ALL_RULES:
            page = self.pages[rule.key]
            page.form.set_params(rule_of(self.original, rule.key, scope))
            in_force = rule_of(self.in_force, rule.key, scope) if self.in_force is not None else None
            page.show_state(in_force, [texts.config_change_sentence(c) for c in self.waiting
                                       if _belongs(c.key, rule.key, scope)])
        for rule in ALL_RULES:
            self.validate(rule.key)

    def requested_or_none(self) -> DeskGuardConfig | None:
        try:
            return self.requested()
        except (ValueError, ConfigError):
            return None

    # -- validation -------------------------------------------------------------------------------

    def validate(self, key: str) -> bool:
        """Check one rule's form exactly as the file would be checked; show each reason next to
        its field; enable Save only when every rule is valid."""
        page = self.pages[key]
        problems: list[tuple[str, str]] = []
        config: DeskGuardConfig | None = None
        try:
            params = dataclasses.replace(rule_of(self.original, key, self.scope), **page.form.values())
            config = with_rule(self.original, key, params, self.scope)
        except ConfigError as exc:
            prefix = f"rules.{key}." if self.scope is None else f"accounts.{key_text(self.scope)}.rules.{key}."
            for err in exc.errors:
                sub = err.key[len(prefix):] if err.key and err.key.startswith(prefix) else (err.key or "")
                problems.append((sub, err.problem))
        except (TypeError, ValueError) as exc:  # a value the dataclass itself refused
            problems.append(("", str(exc)))
        page.form.show_problems(problems)
        if page.form.has_problems:
            config = None
        self.candidates[key] = config
        self.rule_list.item(list(self.pages).index(key)).setText(self._label(key))
        self._preview(key, config)
        self._refresh_save()
        return config is not None

    def _preview(self, key: str, config: DeskGuardConfig | None) -> None:
        page = self.pages[key]
        scope = self.scope
        if config is None or rule_of(config, key, scope) == rule_of(self.original, key, scope):
            page.show_preview([])
            return
        # Measured against what is in force (the file, when no guard runs), like Save will be.
        base = self.in_force or self.original
        try:
            asked = with_rule(base, key, rule_of(config, key, scope), scope)
        except ConfigError:
            page.show_preview([])
            return
        plan = plan_config_change(base, asked, self.clock())
        lines = [texts.config_change_sentence(c) for c in (*plan.applied_changes, *plan.pending_changes)
                 if _belongs(c.key, key, scope)]
        page.show_preview(lines)

    def invalid_rules(self) -> list[str]:
        return [key for key, config in self.candidates.items() if config is None]

    def _refresh_save(self) -> None:
        bad = self.invalid_rules()
        self.save_button.setEnabled(not bad)
        if bad:
            names = ", ".join(f"{RULES_BY_KEY[k].number} {RULES_BY_KEY[k].title}" for k in bad)
            self.problems.setText(f"Fix the values marked in red before saving: {names}.")
        else:
            self.problems.setText("")

    # -- presets ----------------------------------------------------------------------------------

    def _preset_chosen(self, index: int) -> None:
        if index <= 0:
            return
        self.apply_preset(self.presets.itemText(index))
        self.presets.setCurrentIndex(0)

    def apply_preset(self, name: str) -> None:
        """Fill the forms with a preset's values (saved only with Save)."""
        for key, changes in PRESETS[name].items():
            form = self.form(key)
            for field, value in changes.items():
                form.editor(field).set_value(value)
            self.validate(key)
            self.show_rule(key)

    # -- saving -----------------------------------------------------------------------------------

    def requested(self) -> DeskGuardConfig:
        """The config the forms describe (every rule must be valid)."""
        config = self.original
        for key in self.pages:
            candidate = self.candidates.get(key)
            if candidate is None:
                raise ValueError(f"{key} has values that are refused")
            wanted = rule_of(candidate, key, self.scope)
            if wanted != rule_of(config, key, self.scope):
                config = with_rule(config, key, wanted, self.scope)
        return config

    def save(self) -> None:
        if self.invalid_rules():
            return
        requested = self.requested()
        if requested == self.original:
            self.accept()
            return
        try:
            on_disk = load_config(self.config_file)
        except ConfigError as exc:
            self.problems.setText(f"config.toml was changed outside DeskGuard and now has a problem; nothing was saved:\n{exc}")
            return
        if on_disk != self.original:
            self.problems.setText("config.toml was changed outside DeskGuard while this editor was open; "
                                  "nothing was saved. Close the editor and open it again.")
            return
        from ...runtime import change_config

        try:
            self.plan = change_config(requested, runtime=self.runtime, path=self.config_file, now=self.clock())
        except (OSError, ConfigError, RuntimeError, StoreError) as exc:
            log.exception("saving the rules failed")
            self.problems.setText(f"Could not save config.toml; nothing was changed: {exc}")
            return
        self.saved.emit(self.plan)
        self.accept()
