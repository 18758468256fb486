"""Form widgets generated from a rule's declarative schema: a new rule needs no UI code.

Each field of a rule's ``Params`` dataclass becomes an editor chosen from its type and its
:class:`~deskguard.engine.schema.ParamInfo`: a checkbox for a bool, a combo for choices, a spin box
(with the unit) for a number, a line edit for a duration or text, time and date pickers, a list of
rows for a tuple (tiers, windows, symbols, holidays), a key/value list for a map (per-symbol limits,
early closes), and a small sub-form for a nested dataclass (breakeven, trailing).

Editors hold values in their ``config.toml`` form (``"30m"``, ``"17:00"``, ``{ loss = 100, ... }``)
and never judge them: the dialog validates with :meth:`DeskGuardConfig.with_rule`, so a message
next to a field is word for word what the file would say. Spin boxes therefore accept any number
(a trader who types -500 reads "must be a positive amount (got -500)" instead of watching the box
silently refuse the minus sign); the bounds are written under the field.

The single-value editors, labels and hints live in :mod:`.field_editors`; this module composes
them (nested dataclasses, lists, maps) and lays out a rule's form.
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import date, datetime, time
from typing import Any, Literal, get_args, get_origin

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...config.codec import to_toml
from ...engine.schema import Duration, ParamInfo, param_info
from .field_editors import (
    HELP_COLOR,
    BoolEditor,
    ChoiceEditor,
    DateEditor,
    DurationEditor,
    ErrorLabel,
    FieldEditor,
    FloatEditor,
    IntEditor,
    TextEditor,
    TimeEditor,
    field_label,
    hint_text,
    small_label,
)

# --- composite values ----------------------------------------------------------------------------


class StructEditor(FieldEditor):
    """A nested dataclass (a tier, a session window, the breakeven settings): one editor per field,
    in a row (list items) or as a small form."""

    def __init__(self, cls: type, path: str, *, compact: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cls = cls
        self.editors: dict[str, FieldEditor] = {}
        hints = typing.get_type_hints(cls)
        if compact:
            lay: QHBoxLayout | QFormLayout = QHBoxLayout(self)
            lay.setContentsMargins(0, 0, 0, 0)
        else:
            lay = QFormLayout(self)
        for f in dataclasses.fields(cls):
            info = param_info(f)
            editor = editor_for(hints[f.name], info, f"{path}.{f.name}")
            tip = f"{f.name}: {info.help}" + (f" ({hint_text(info)})" if hint_text(info) else "")
            editor.setToolTip(tip)
            editor.changed.connect(self.changed)
            self.editors[f.name] = editor
            label = QLabel(field_label(f.name))
            label.setToolTip(tip)
            if isinstance(lay, QHBoxLayout):
                lay.addWidget(label)
                lay.addWidget(editor, 2 if isinstance(editor, TextEditor) else 1)
            else:
                lay.addRow(label, editor)

    def value(self) -> dict[str, Any]:
        return {name: editor.value() for name, editor in self.editors.items()}

    def set_value(self, value: Any) -> None:
        data = to_toml(value) if dataclasses.is_dataclass(value) else dict(value or {})
        for name, editor in self.editors.items():
            if name in data:
                editor.set_value(data[name])


def default_item(hint: Any) -> Any:
    """A new list item's value in config form: the dataclass's own defaults where it has them."""
    if dataclasses.is_dataclass(hint):
        try:
            return to_toml(hint())
        except TypeError:  # a field without default (a tier's loss): start from blanks
            hints = typing.get_type_hints(hint)
            return {f.name: default_item(hints[f.name]) for f in dataclasses.fields(hint)}
    if hint is date:
        return datetime.now().date().isoformat()
    if hint == Duration:
        return ""
    if hint is int:
        return 1
    if hint is float:
        return 0.0
    if hint is bool:
        return False
    return ""


class _Row(QWidget):
    """One row of a list or map editor: its editors, a Remove button, its own error label."""

    removeRequested = Signal(object)

    def __init__(self, widgets: list[QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        line = QHBoxLayout()
        for w in widgets:
            line.addWidget(w, 0 if isinstance(w, QLabel) else 1)
        self.remove = QPushButton("Remove")
        self.remove.clicked.connect(lambda: self.removeRequested.emit(self))
        line.addWidget(self.remove)
        outer.addLayout(line)
        self.error = ErrorLabel()
        outer.addWidget(self.error)


class ListEditor(FieldEditor):
    """A list (TOML array): tiers, session windows, blocked symbols, holidays."""

    def __init__(self, item_hint: Any, info: ParamInfo, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item_hint = item_hint
        self.info = info
        self.path = path
        self.rows: list[tuple[_Row, FieldEditor]] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.rows_box = QVBoxLayout()
        lay.addLayout(self.rows_box)
        self.empty = QLabel("(none)")
        small_label(self.empty, HELP_COLOR)
        lay.addWidget(self.empty)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_item)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)

    def _new_editor(self) -> FieldEditor:
        return editor_for(self.item_hint, self.info, f"{self.path}.*", in_list=True)

    def add_item(self, value: Any = None) -> FieldEditor:
        if value is None or value is False:  # clicked(bool) passes False
            value = self.rows[-1][1].value() if self.rows else default_item(self.item_hint)
        editor = self._new_editor()
        editor.set_value(value)
        row = _Row([editor])
        row.removeRequested.connect(self._remove)
        editor.changed.connect(self.changed)
        self.rows.append((row, editor))
        self.rows_box.addWidget(row)
        self.empty.setVisible(False)
        self.changed.emit()
        return editor

    def _remove(self, row: _Row) -> None:
        self.rows = [(r, e) for r, e in self.rows if r is not row]
        row.setParent(None)
        row.deleteLater()
        self.empty.setVisible(not self.rows)
        self.changed.emit()

    def value(self) -> list[Any]:
        return [editor.value() for _, editor in self.rows]

    def set_value(self, value: Any) -> None:
        for row, _ in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        for item in list(to_toml(value) or []):
            self.add_item(item)
        self.empty.setVisible(not self.rows)
        self.changed.emit()

    def show_problems(self, problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
        per_row: dict[int, list[str]] = {}
        rest = []
        for sub, text in problems:
            if sub.startswith("["):
                index_text, _, tail = sub[1:].partition("]")
                if index_text.isdigit() and int(index_text) < len(self.rows):
                    where = tail.lstrip(".")
                    per_row.setdefault(int(index_text), []).append(f"{field_label(where)}: {text}" if where else text)
                    continue
            rest.append((sub, text))
        for i, (row, _) in enumerate(self.rows):
            row.error.show_problems(per_row.get(i, []))
        return rest


class MapEditor(FieldEditor):
    """A map (TOML table): per-symbol limits ``{ MNQ = 2 }``, early closes ``{ 2026-11-27 = 12:00 }``."""

    def __init__(self, key_hint: Any, value_hint: Any, info: ParamInfo, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key_hint, self.value_hint, self.info, self.path = key_hint, value_hint, info, path
        self.rows: list[tuple[_Row, FieldEditor, FieldEditor]] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.rows_box = QVBoxLayout()
        lay.addLayout(self.rows_box)
        self.empty = QLabel("(none)")
        small_label(self.empty, HELP_COLOR)
        lay.addWidget(self.empty)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(lambda: self.add_entry())
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)

    def add_entry(self, key: Any = None, value: Any = None) -> tuple[FieldEditor, FieldEditor]:
        key_editor = editor_for(self.key_hint, ParamInfo(help=""), self.path, in_list=True)
        if isinstance(key_editor, TextEditor):
            key_editor.line.setPlaceholderText("symbol, e.g. MNQ")
        value_editor = editor_for(self.value_hint, self.info, self.path, in_list=True)
        key_editor.set_value(key if key is not None else default_item(self.key_hint))
        value_editor.set_value(value if value is not None else default_item(self.value_hint))
        row = _Row([key_editor, QLabel("="), value_editor])
        row.removeRequested.connect(self._remove)
        key_editor.changed.connect(self.changed)
        value_editor.changed.connect(self.changed)
        self.rows.append((row, key_editor, value_editor))
        self.rows_box.addWidget(row)
        self.empty.setVisible(False)
        self.changed.emit()
        return key_editor, value_editor

    def _remove(self, row: _Row) -> None:
        self.rows = [r for r in self.rows if r[0] is not row]
        row.setParent(None)
        row.deleteLater()
        self.empty.setVisible(not self.rows)
        self.changed.emit()

    def duplicates(self) -> list[str]:
        """Keys written twice: a map keeps only one of them, so the editor refuses the pair."""
        seen: set[str] = set()
        twice = []
        for _, k, _ in self.rows:
            name = str(k.value()).strip().upper()
            if name in seen and name not in twice:
                twice.append(name)
            seen.add(name)
        return twice

    def value(self) -> dict[str, Any]:
        return {str(k.value()): v.value() for _, k, v in self.rows}

    def set_value(self, value: Any) -> None:
        for row, _, _ in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        for k, v in (to_toml(value) or {}).items():
            self.add_entry(k, v)
        self.empty.setVisible(not self.rows)
        self.changed.emit()


def editor_for(hint: Any, info: ParamInfo, path: str, *, in_list: bool = False) -> FieldEditor:
    """The editor for one schema field (``path`` is its dotted config key, for messages)."""
    if info.choices:
        return ChoiceEditor(info.choices)
    if get_origin(hint) is Literal:
        return ChoiceEditor(tuple(str(a) for a in get_args(hint)))
    if hint == Duration:
        return DurationEditor(info)
    if hint is bool:
        return BoolEditor()
    if hint is int:
        return IntEditor(info)
    if hint is float:
        return FloatEditor(info)
    if hint is str:
        return TextEditor()
    if hint is time:
        return TimeEditor()
    if hint is date:
        return DateEditor()
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return StructEditor(hint, path, compact=in_list)
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return ListEditor(args[0], info, path)
    if origin is dict and len(args) == 2:
        return MapEditor(args[0], args[1], info, path)
    raise TypeError(f"{path}: no editor for {hint!r}")


# --- a whole rule ----------------------------------------------------------------------------------


class FieldRow(QWidget):
    """A top-level field of a rule: the editor, its help in plain words, and the reason it is
    refused (if it is)."""

    def __init__(self, name: str, editor: FieldEditor, info: ParamInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.editor = editor
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(editor)
        hint = hint_text(info)
        self.help = small_label(QLabel(info.help + (f" ({hint})" if hint else "")), HELP_COLOR)
        lay.addWidget(self.help)
        self.error = ErrorLabel()
        lay.addWidget(self.error)
        editor.setToolTip(f"config.toml key: {name}")

    def show_problems(self, problems: list[tuple[str, str]]) -> None:
        rest = self.editor.show_problems(problems)
        if isinstance(self.editor, MapEditor):
            rest = rest + [("", f"{k} is listed twice; keep one") for k in self.editor.duplicates()]
        self.error.show_problems([(f"{sub.lstrip('.')}: {text}" if sub else text) for sub, text in rest])

    @property
    def has_problems(self) -> bool:
        if self.error.shown:
            return True
        rows = getattr(self.editor, "rows", [])
        return any(r[0].error.shown for r in rows)


class RuleForm(QWidget):
    """Every field of one rule's ``Params``, generated from its schema."""

    changed = Signal()

    def __init__(self, key: str, params_cls: type, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.rows: dict[str, FieldRow] = {}
        hints = typing.get_type_hints(params_cls)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for f in dataclasses.fields(params_cls):
            info = param_info(f)
            hint = hints[f.name]
            if f.name == "enabled":
                editor: FieldEditor = BoolEditor("Enforce this rule")
            else:
                editor = editor_for(hint, info, f"rules.{key}.{f.name}")
            row = FieldRow(f.name, editor, info)
            editor.changed.connect(self.changed)
            self.rows[f.name] = row
            label = QLabel(field_label(f.name))
            label.setToolTip(f"config.toml key: {f.name}")
            if dataclasses.is_dataclass(hint):
                box = QGroupBox(field_label(f.name))
                QVBoxLayout(box).addWidget(row)
                form.addRow(box)
            else:
                form.addRow(label, row)

    def editor(self, name: str) -> FieldEditor:
        return self.rows[name].editor

    def values(self) -> dict[str, Any]:
        return {name: row.editor.value() for name, row in self.rows.items()}

    def set_params(self, params: Any) -> None:
        data = to_toml(params)
        for name, row in self.rows.items():
            row.editor.set_value(data[name])

    def show_problems(self, problems: list[tuple[str, str]]) -> None:
        """``problems`` are ``(key, text)`` with keys below ``rules.<key>.``: ``max_loss``,
        ``windows[0].start``."""
        by_field: dict[str, list[tuple[str, str]]] = {name: [] for name in self.rows}
        for key, text in problems:
            name = key
            for i, ch in enumerate(key):
                if ch in ".[":
                    name = key[:i]
                    break
            if name in by_field:
                by_field[name].append((key[len(name):], text))
        for name, row in self.rows.items():
            row.show_problems(by_field[name])

    @property
    def has_problems(self) -> bool:
        return any(row.has_problems for row in self.rows.values())


__all__ = [
    "FieldRow",
    "ListEditor",
    "MapEditor",
    "RuleForm",
    "StructEditor",
    "editor_for",
]
