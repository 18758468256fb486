"""The activity log: notices and audit rows, a filter, and a CSV export with the enforcement rows."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from ui_stubs import ACCOUNT, AuditRowStub, now

from deskguard.guardian.snapshot import NoticeLevel

pytestmark = pytest.mark.ui


@pytest.fixture
def stub_with_history(stub):
    t = now() - timedelta(hours=1)
    stub.store.rows = [
        AuditRowStub(t, ACCOUNT, None, "start", "DeskGuard started"),
        AuditRowStub(t + timedelta(minutes=5), ACCOUNT, "daily_realized_loss", "enforcement",
                     "day's P&L -505.00 reached the daily loss limit of 500.00", decision="flatten",
                     broker_call="Position/closeContract", result="flat after 1 attempt", latency_ms=41.0),
        AuditRowStub(t + timedelta(minutes=5), ACCOUNT, "daily_realized_loss", "lock",
                     "locked until the reset", decision="lock account (until_reset)"),
    ]
    return stub


def test_export_writes_the_enforcement_rows(stub_with_history, window, stub, qtbot, tmp_path):
    log = window.activity
    qtbot.waitUntil(lambda: len(log.rows) == 3)  # the audit history loaded when the guardian attached
    stub.notice(NoticeLevel.WARNING, "day's P&L -410.00 is past 80% of the daily loss limit", rule="daily_realized_loss")
    stub.notice(NoticeLevel.ENFORCEMENT, "closed MNQ: open loss reached 300.00", rule="daily_unrealized_loss")
    assert len(log.rows) == 5

    path = tmp_path / "activity.csv"
    assert log.export_csv(path) == 5
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["kind"] for r in rows] == ["start", "enforcement", "lock", "warning", "enforcement"]  # oldest first
    enforcement = [r for r in rows if r["kind"] == "enforcement"]
    assert enforcement[0]["rule"] == "daily_realized_loss"
    assert "reached the daily loss limit of 500.00" in enforcement[0]["text"]
    assert "[flatten]" in enforcement[0]["text"] and "flat after 1 attempt" in enforcement[0]["text"]
    assert enforcement[1]["text"] == "closed MNQ: open loss reached 300.00"
    assert enforcement[1]["source"] == "notice" and enforcement[1]["account_id"] == str(ACCOUNT)


def test_filter_narrows_the_view_and_the_export(stub_with_history, window, stub, qtbot, tmp_path):
    log = window.activity
    qtbot.waitUntil(lambda: len(log.rows) == 3)
    qtbot.keyClicks(log.filter_box, "enforcement")
    assert [r.kind for r in log.visible_rows()] == ["enforcement"]
    assert log.export_csv(tmp_path / "only.csv") == 1
    log.filter_box.clear()
    assert len(log.visible_rows()) == 3


def test_the_same_row_is_not_listed_twice(window, stub):
    n = stub.notice(NoticeLevel.ENFORCEMENT, "flattened")
    window.activity.add_notice(n)
    assert len(window.activity.rows) == 1


def test_export_button_opens_a_save_dialog_without_blocking(window, qtbot):
    window.activity.export_button.click()  # open(), not exec(): returns at once
    dialog = window.activity._dialog
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
