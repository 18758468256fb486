"""The rules panel: each enabled rule with its figure against the limit, its state, pending changes."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette
from ui_stubs import PendingStub, loss_figure, make_lock

from deskguard.engine.decisions import LockKind
from deskguard.engine.state import AccountStatus

pytestmark = pytest.mark.ui


def test_enabled_rules_are_listed_with_figure_bar_and_state(window, stub, qtbot):
    enabled = stub.settings.enabled_keys()
    assert window.rules.keys == enabled
    assert "daily_realized_profit" not in window.rules.keys  # off by default
    stub.emit(realized_day=-420.0, figures={"daily_realized_loss": loss_figure(420.0)}, warnings=("daily_realized_loss",))
    qtbot.waitUntil(lambda: window.rules.row_of("daily_realized_loss")["now"] == "loss 420.00 of 500.00")
    row = window.rules.row_of("daily_realized_loss")
    assert row["used"] == "0.84" and row["state"] == "WARNING"
    assert window.rules.row_of("max_contracts")["state"] == "OK"

    lock = make_lock(LockKind.UNTIL_RESET, seconds=3600, rule="daily_realized_loss")
    stub.emit(status=AccountStatus.LOCKED, figures={"daily_realized_loss": loss_figure(510.0)}, locks=(lock,))
    qtbot.waitUntil(lambda: window.rules.row_of("daily_realized_loss")["state"] == "LOCKED")
    assert window.rules.row_of("daily_realized_loss")["used"] == "1.0"


def test_pending_loosening_is_shown_and_enabling_a_rule_adds_its_row(window, stub, qtbot):
    assert window.rules.isColumnHidden(3)
    stub.pending = [PendingStub("daily_realized_loss.max_loss", "500.0", "800.0")]
    stub.settings = stub.settings.with_rule("daily_realized_profit", enabled=True)
    stub.emit()
    qtbot.waitUntil(lambda: "daily_realized_profit" in window.rules.keys)
    assert window.rules.row_of("daily_realized_loss")["pending"] == "Max loss $500 → $800 at the reset"
    assert not window.rules.isColumnHidden(3)


def test_chart_follows_a_dark_palette(window, qtbot):
    dark = QPalette(window.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e0e0e0"))
    window.chart.setPalette(dark)
    assert window.chart.plot.backgroundBrush().color() == QColor("#1e1e1e")
