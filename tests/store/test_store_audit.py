from __future__ import annotations

import csv
import io
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from deskguard.engine.decisions import Action, Decision
from deskguard.store import AuditEntry, Store

from .conftest import T0, make_lock


def _fill(store: Store) -> None:
    store.audit(7, "daily_realized_loss", "warning", "Daily loss at $400 of $500", at=T0)
    store.audit(
        7, "daily_realized_loss", "breach", "Daily loss limit reached: -$512.50",
        decision=Decision(7, Action.FLATTEN, "daily_realized_loss", "Daily loss limit reached"),
        broker_call="Position/closeContract CON.F.US.MNQ.H25", result="ok", latency_ms=41.5,
        at=T0 + timedelta(minutes=1),
    )
    store.audit(8, "max_contracts", "breach", "6 contracts open, limit 5", at=T0 + timedelta(minutes=2))
    store.audit(None, None, "started", "DeskGuard started, guarding 2 accounts", at=T0 + timedelta(minutes=3))


def test_audit_rows_come_back_with_every_field(store: Store) -> None:
    _fill(store)
    entries = store.audit_entries()
    assert [e.event for e in entries] == ["warning", "breach", "breach", "started"]
    breach = entries[1]
    assert breach == AuditEntry(
        id=breach.id, at=T0 + timedelta(minutes=1), account_id=7, rule="daily_realized_loss", event="breach",
        detail="Daily loss limit reached: -$512.50", decision="flatten",
        broker_call="Position/closeContract CON.F.US.MNQ.H25", result="ok", latency_ms=41.5,
    )
    assert entries[3].account_id is None and entries[3].rule is None


def test_audit_filters(store: Store) -> None:
    _fill(store)
    assert [e.account_id for e in store.audit_entries(account_id=7)] == [7, 7]
    assert [e.event for e in store.audit_entries(rule="max_contracts")] == ["breach"]
    assert len(store.audit_entries(since=T0 + timedelta(minutes=1))) == 3
    assert len(store.audit_entries(until=T0 + timedelta(minutes=1))) == 1
    assert [e.detail for e in store.audit_entries(contains="LIMIT REACHED")] == ["Daily loss limit reached: -$512.50"]
    assert [e.event for e in store.audit_entries(contains="closecontract")] == ["breach"]  # broker_call too
    assert store.audit_entries(contains="nothing like this") == []
    # limit keeps the newest, still oldest first
    assert [e.event for e in store.audit_entries(limit=2)] == ["breach", "started"]
    first = store.audit_entries()[0]
    assert len(store.audit_entries(after_id=first.id)) == 3
    assert [e.event for e in store.audit_entries(account_id=7, contains="loss", limit=1)] == ["breach"]


def test_a_lock_decision_is_described_in_plain_words(store: Store) -> None:
    lock = make_lock()
    store.audit(7, lock.rule, "lock", lock.reason, decision=Decision(7, Action.LOCK, lock.rule, lock.reason, lock=lock))
    [entry] = store.audit_entries()
    assert entry.decision == "lock account (cooldown) until 2025-03-04T15:40:00+00:00"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit SET detail = 'nothing happened'", "DELETE FROM audit", "UPDATE audit SET at = at"],
)
def test_the_audit_log_is_append_only(store: Store, db_path: Path, statement: str) -> None:
    _fill(store)
    other = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            other.execute(statement)
        other.rollback()
    finally:
        other.close()
    assert len(store.audit_entries()) == 4
    assert store.audit_entries()[0].detail == "Daily loss at $400 of $500"


def test_export_csv_to_a_file_has_a_header_and_the_rows(store: Store, tmp_path: Path) -> None:
    _fill(store)
    out = tmp_path / "audit.csv"
    assert store.export_csv(out) == 4
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "at", "account_id", "rule", "event", "detail", "decision", "broker_call", "result", "latency_ms"]
    assert len(rows) == 5
    assert rows[2][1:] == [
        "2025-03-04T15:31:00+00:00", "7", "daily_realized_loss", "breach", "Daily loss limit reached: -$512.50",
        "flatten", "Position/closeContract CON.F.US.MNQ.H25", "ok", "41.5",
    ]
    assert rows[4][2:4] == ["", ""]  # app-wide row: no account, no rule


def test_export_csv_to_a_text_stream_with_filters(store: Store) -> None:
    _fill(store)
    buffer = io.StringIO()
    assert store.export_csv(buffer, account_id=8) == 1
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[0][0] == "id"
    assert rows[1][5] == "6 contracts open, limit 5"


def test_export_csv_quotes_commas_and_newlines(store: Store) -> None:
    store.audit(7, "x", "note", 'said "stop", then\nstopped', at=T0)
    buffer = io.StringIO()
    store.export_csv(buffer)
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[1][5] == 'said "stop", then\nstopped'
