"""The field editors of a schema form: one per kind of value (bool, choice, number, text, duration,
time, date), with the labels, hints and error line every form shows.

Editors hold values in their ``config.toml`` form and never judge them (see :mod:`.schema_form`,
which composes them into lists, maps and sub-forms, and the dialog, which validates).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTimeEdit,
    QWidget,
)

from ...config.codec import render
from ...engine.schema import ParamInfo, Unit
from ...guardian import texts

ERROR_COLOR = "#c62828"
HELP_COLOR = "#666666"
_BIG = 1_000_000_000  # spin boxes take any number: the schema's bounds are checked, with a message

_UNIT_WORDS = {
    Unit.USD: "US dollars",
    Unit.CONTRACTS: "contracts",
    Unit.TRADES: "trades",
    Unit.TICKS: "ticks",
    Unit.RATIO: "a share of the limit (0.8 = 80 %)",
}
_SUFFIX = {Unit.CONTRACTS: " contracts", Unit.TRADES: " trades", Unit.TICKS: " ticks"}


def field_label(name: str) -> str:
    """``count_open_pnl`` → ``Count open P&L`` (the key itself is in the tooltip: it is what
    config.toml says)."""
    return texts.field_label(name)


def hint_text(info: ParamInfo) -> str:
    """Unit and bounds in plain words: ``US dollars, more than 0``."""
    parts: list[str] = []
    if info.unit is Unit.DURATION:
        parts.append('a duration like "45s", "10m" or "1h30m"' + (', or "until_reset"' if info.allow_until_reset else ""))
    elif info.unit in _UNIT_WORDS:
        parts.append(_UNIT_WORDS[info.unit])
    money = info.unit is Unit.USD
    show = (lambda v: f"${render(float(v))}") if money else (lambda v: render(float(v)))
    if info.gt is not None:
        parts.append(f"more than {show(info.gt)}")
    if info.ge is not None:
        parts.append(f"at least {show(info.ge)}")
    if info.le is not None:
        parts.append(f"at most {show(info.le)}")
    if info.choices:
        parts.append("one of " + ", ".join(texts.words(c) for c in info.choices))
    return "; ".join(parts)


def small_label(label: QLabel, colour: str) -> QLabel:
    label.setWordWrap(True)
    label.setStyleSheet(f"QLabel {{ color: {colour}; }}")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ErrorLabel(QLabel):
    """The reason a value is refused, in red, right under the field; hidden when all is well."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        small_label(self, ERROR_COLOR)
        self.setVisible(False)

    def show_problems(self, problems: list[str]) -> None:
        self.setText("\n".join(problems))
        # isHidden, not isVisible: a page not on screen still knows whether it shows an error.
        self.setVisible(bool(problems))

    @property
    def shown(self) -> bool:
        return not self.isHidden() and bool(self.text())


# --- one value -----------------------------------------------------------------------------------


class FieldEditor(QWidget):
    """One value in its config.toml form. ``changed`` fires on every edit."""

    changed = Signal()

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def show_problems(self, problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Show the problems this editor can place itself (``(subpath, text)``); return the rest
        for the field's own error label."""
        return problems

    def _single(self, widget: QWidget) -> None:
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(widget)


class BoolEditor(FieldEditor):
    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = QCheckBox(text)
        self.box.toggled.connect(self.changed)
        self._single(self.box)

    def value(self) -> bool:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.setChecked(bool(value))


class ChoiceEditor(FieldEditor):
    def __init__(self, choices: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        for choice in choices:  # shown in words ("end of day"), held as config.toml writes it
            self.combo.addItem(texts.words(choice), choice)
        self.combo.currentIndexChanged.connect(self.changed)
        self._single(self.combo)

    def value(self) -> str:
        return str(self.combo.currentData())

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(str(value))
        if index < 0:  # not a known choice: shown as it is, so validation can name it
            self.combo.addItem(str(value), str(value))
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)


class IntEditor(FieldEditor):
    def __init__(self, info: ParamInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin = QSpinBox()
        self.spin.setRange(-_BIG, _BIG)
        self.spin.setSuffix(_SUFFIX.get(info.unit, ""))
        self.spin.setMinimumWidth(140)
        self.spin.valueChanged.connect(self.changed)
        self._single(self.spin)
        self.layout().addStretch(1)

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.setValue(int(value))


class FloatEditor(FieldEditor):
    def __init__(self, info: ParamInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(-_BIG, _BIG)
        self.spin.setDecimals(2)
        self.spin.setMinimumWidth(140)
        if info.unit is Unit.USD:
            self.spin.setPrefix("$ ")
            self.spin.setSingleStep(50)
            self.spin.setGroupSeparatorShown(True)
        elif info.unit is Unit.RATIO:
            self.spin.setSingleStep(0.05)
        self.spin.valueChanged.connect(self.changed)
        self._single(self.spin)
        self.layout().addStretch(1)

    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, value: Any) -> None:
        self.spin.setValue(float(value))


class TextEditor(FieldEditor):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = QLineEdit()
        self.line.setPlaceholderText(placeholder)
        self.line.textChanged.connect(self.changed)
        self._single(self.line)

    def value(self) -> str:
        return self.line.text().strip()

    def set_value(self, value: Any) -> None:
        text = "" if value is None else str(value)
        self.line.setText(text)
        # Wide enough for what it holds ("America/Chicago"), within reason.
        self.line.setMinimumWidth(min(260, max(80, self.line.fontMetrics().horizontalAdvance(text) + 24)))


class DurationEditor(TextEditor):
    """``"30m"``, ``"1h30m"`` (and ``"until_reset"`` where the rule allows it), parsed by the
    config's own :func:`~deskguard.engine.schema.parse_duration` on validation."""

    def __init__(self, info: ParamInfo, parent: QWidget | None = None) -> None:
        super().__init__('e.g. 45s, 10m, 1h30m' + (' or until_reset' if info.allow_until_reset else ""), parent)
        self.line.setMaximumWidth(220)


class TimeEditor(FieldEditor):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QTimeEdit()
        self.edit.setDisplayFormat("HH:mm")
        self.edit.setMaximumWidth(110)
        self.edit.timeChanged.connect(self.changed)
        self._single(self.edit)
        self.layout().addStretch(1)

    def value(self) -> str:
        t = self.edit.time()
        return f"{t.hour():02d}:{t.minute():02d}"

    def set_value(self, value: Any) -> None:
        hh, _, mm = str(value).partition(":")
        self.edit.setTime(QTime(int(hh or 0), int(mm or 0)))


class DateEditor(FieldEditor):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QDateEdit()
        self.edit.setDisplayFormat("yyyy-MM-dd")
        self.edit.setCalendarPopup(True)
        self.edit.setMaximumWidth(160)
        self.edit.dateChanged.connect(self.changed)
        self._single(self.edit)
        self.layout().addStretch(1)

    def value(self) -> str:
        return self.edit.date().toString("yyyy-MM-dd")

    def set_value(self, value: Any) -> None:
        d = value if isinstance(value, date) else date.fromisoformat(str(value))
        self.edit.setDate(QDate(d.year, d.month, d.day))


__all__ = [
    "ERROR_COLOR",
    "HELP_COLOR",
    "BoolEditor",
    "ChoiceEditor",
    "DateEditor",
    "DurationEditor",
    "ErrorLabel",
    "FieldEditor",
    "FloatEditor",
    "IntEditor",
    "TextEditor",
    "TimeEditor",
    "field_label",
    "hint_text",
    "small_label",
]
