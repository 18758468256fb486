"""Settings → Notifications: how long the app may be blind before it says so, and the webhooks
(rules.md "Notifications"), each with a "Send test" button that shows the HTTP result.

The values are checked by the config itself (the settings dialog builds the config from
:meth:`NotificationsBox.values`), so an error reads as config.toml would report it, under the row
it belongs to. "Send test" runs on the event loop (qasync): the window never waits for a webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...config.model import WEBHOOK_EVENTS, WEBHOOK_FORMATS, NotificationSettings
from ...engine.schema import format_duration
from .field_editors import ERROR_COLOR, HELP_COLOR, ErrorLabel

log = logging.getLogger(__name__)

OK_COLOR = "#2e7d32"

EVENT_LABELS = {
    "enforcement": "Enforcement", "lock": "Lock", "lock_end": "Lock end", "warning": "Warning",
    "not_guarding": "Not guarding", "guarding_again": "Guarding again", "alert": "Alert",
}


class WebhookRow(QWidget):
    """One webhook: URL, format, the events it gets, Send test (with its result) and Remove."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, url: str = "", fmt: str = "json", on: tuple[str, ...] = WEBHOOK_EVENTS,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.url = QLineEdit(url)
        self.url.setPlaceholderText("https://ntfy.sh/my-topic  (it may hold a token: kept out of the logs)")
        self.format = QComboBox()
        self.format.addItems(list(WEBHOOK_FORMATS))
        self.format.setCurrentText(fmt)
        self.events: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for i, event in enumerate(WEBHOOK_EVENTS):
            box = QCheckBox(EVENT_LABELS[event])
            box.setChecked(event in on)
            box.toggled.connect(self.changed)
            self.events[event] = box
            grid.addWidget(box, i // 4, i % 4)
        self.test_button = QPushButton("Send test")
        self.test_button.clicked.connect(self.send_test)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self))
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.error = ErrorLabel()
        self._test: asyncio.Task[Any] | None = None

        top = QHBoxLayout()
        top.addWidget(self.url, 1)
        top.addWidget(self.format)
        top.addWidget(self.test_button)
        top.addWidget(self.remove_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 4)
        lay.addLayout(top)
        lay.addLayout(grid)
        lay.addWidget(self.error)
        lay.addWidget(self.result)
        self.url.textChanged.connect(self.changed)
        self.format.currentTextChanged.connect(self.changed)

    def value(self) -> dict[str, Any]:
        return {"url": self.url.text().strip(), "format": self.format.currentText(),
                "on": [e for e, box in self.events.items() if box.isChecked()]}

    # -- Send test ----------------------------------------------------------------------------

    def send_test(self) -> None:
        """Send one test message in the background; the result shows under the row."""
        if self._test is not None and not self._test.done():
            return
        url, fmt = self.url.text().strip(), self.format.currentText()
        if not url:
            self._show("Enter the webhook's URL first.", ERROR_COLOR)
            return
        self.test_button.setEnabled(False)
        self._show("Sending a test message…", HELP_COLOR)
        self._test = asyncio.ensure_future(self._run_test(url, fmt))

    async def _run_test(self, url: str, fmt: str) -> None:
        from ...notify import send_test

        try:
            result = await send_test(url, fmt)
        except Exception as exc:  # shown, never swallowed
            log.exception("webhook test failed")
            text, color = f"Test failed: {type(exc).__name__}", ERROR_COLOR
        else:
            text = ("Sent: " if result.ok else "Not sent: ") + str(result)
            color = OK_COLOR if result.ok else ERROR_COLOR
        with contextlib.suppress(RuntimeError):  # the dialog may have closed meanwhile
            self._show(text, color)
            self.test_button.setEnabled(True)

    def _show(self, text: str, color: str) -> None:
        self.result.setText(text)
        self.result.setStyleSheet(f"QLabel {{ color: {color}; }}")

    def cancel_test(self) -> None:
        if self._test is not None and not self._test.done():
            self._test.cancel()


class NotificationsBox(QGroupBox):
    """``[notifications]`` not_guarding_after and webhooks (enabled and sound sit with the desktop
    settings); ``values()`` is what the dialog hands to ``with_section("notifications", …)``."""

    changed = Signal()

    def __init__(self, settings: NotificationSettings, parent: QWidget | None = None) -> None:
        super().__init__("Notifications away from the screen", parent)
        self.not_guarding_after = QLineEdit(format_duration(settings.not_guarding_after))
        self.not_guarding_after.setMaximumWidth(110)
        self.not_guarding_after.textChanged.connect(self.changed)
        self.not_guarding_error = ErrorLabel()
        self.rows: list[WebhookRow] = []
        self.rows_layout = QVBoxLayout()
        self.add_button = QPushButton("Add webhook")
        self.add_button.clicked.connect(lambda: self.add_row())
        self.error = ErrorLabel()

        form = QFormLayout()
        form.addRow("Alert when not guarding for", self.not_guarding_after)
        form.addRow(self.not_guarding_error)
        note = QLabel('A duration like "30s", "2m" or "1h30m". Webhooks (json, discord, slack, ntfy, telegram, or '
                      "an Apprise URL) are sent in the background and never delay enforcement; the API key is "
                      "never in a message.")
        note.setWordWrap(True)
        note.setStyleSheet(f"QLabel {{ color: {HELP_COLOR}; }}")
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(self.rows_layout)
        lay.addWidget(self.add_button)
        lay.addWidget(self.error)
        lay.addWidget(note)
        for hook in settings.webhooks:
            self.add_row(hook.url, hook.format, hook.on)

    def add_row(self, url: str = "", fmt: str = "json", on: tuple[str, ...] = WEBHOOK_EVENTS) -> WebhookRow:
        row = WebhookRow(url, fmt, on)
        row.changed.connect(self.changed)
        row.remove_requested.connect(self.remove_row)
        self.rows.append(row)
        self.rows_layout.addWidget(row)
        self.changed.emit()
        return row

    def remove_row(self, row: WebhookRow) -> None:
        row.cancel_test()
        self.rows.remove(row)
        self.rows_layout.removeWidget(row)
        row.deleteLater()
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        return {"not_guarding_after": self.not_guarding_after.text().strip(),
                "webhooks": [row.value() for row in self.rows]}

    def show_problems(self, problems: list[tuple[str, str]]) -> None:
        """``(key, problem)`` pairs from the config, keys under ``notifications.``: each shown by
        the field or row it names."""
        general: list[str] = []
        per_row: dict[int, list[str]] = {}
        timing: list[str] = []
        for key, problem in problems:
            rest = key.removeprefix("notifications.")
            if rest.startswith("not_guarding_after"):
                timing.append(problem)
            elif rest.startswith("webhooks["):
                index_text, _, field = rest[len("webhooks["):].partition("]")
                field = field.lstrip(".")
                if index_text.isdigit() and int(index_text) < len(self.rows):
                    per_row.setdefault(int(index_text), []).append(f"{field}: {problem}" if field else problem)
                else:
                    general.append(problem)
            else:
                general.append(f"{rest}: {problem}")
        self.not_guarding_error.show_problems(timing)
        for i, row in enumerate(self.rows):
            row.error.show_problems(per_row.get(i, []))
        self.error.show_problems(general)

    def cancel_tests(self) -> None:
        for row in self.rows:
            row.cancel_test()
