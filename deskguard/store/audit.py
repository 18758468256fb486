"""The audit log in state.db: append-only plain-English rows, searched by filters and exported as CSV."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

from ..engine.decisions import Decision
from .connection import Database, where_clause
from .records import AUDIT_COLUMNS, AuditEntry, describe_decision
from .timestamps import moment_from_text, moment_text, optional_moment_text

# The audit search looks at every text column a trader might remember a word from.
_AUDIT_TEXT = (
    "casefold(event || ' ' || detail || ' ' || coalesce(rule, '') || ' ' || coalesce(decision, '')"
    " || ' ' || coalesce(broker_call, '') || ' ' || coalesce(result, ''))"
)


class AuditLog(Database):
    """Appending to, searching and exporting the audit log."""

    def audit(
        self,
        account_id: int | None,
        rule: str | None,
        event: str,
        detail: str,
        *,
        decision: Decision | str | None = None,
        broker_call: str | None = None,
        result: str | None = None,
        latency_ms: float | None = None,
        at: datetime | None = None,
    ) -> int:
        """Append one plain-English row to the audit log; returns its id. Rows can never be
        changed or deleted (the table's triggers refuse it)."""
        decision_text = describe_decision(decision) if isinstance(decision, Decision) else decision
        with self._transaction() as run:
            cursor = run(
                "INSERT INTO audit (at, account_id, rule, event, detail, decision, broker_call, result,"
                " latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    moment_text(at or self._clock.now()), account_id, rule, event, detail,
                    decision_text, broker_call, result, latency_ms,
                ),
            )
            return int(cursor.lastrowid or 0)

    def audit_entries(
        self,
        *,
        account_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        rule: str | None = None,
        contains: str | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Audit rows matching every filter given, oldest first; ``limit`` keeps the newest.

        ``since`` is inclusive, ``until`` exclusive; ``contains`` is a case-insensitive search of
        the text columns; ``after_id`` lets a view fetch only what is new since its last read."""
        sql, params = _audit_query(account_id, since, until, rule, contains, after_id)
        return [_audit_from_row(row) for row in self._fetch_newest(sql, params, limit)]

    def export_csv(
        self,
        target: str | os.PathLike[str] | IO[str],
        *,
        account_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        rule: str | None = None,
        contains: str | None = None,
        limit: int | None = None,
    ) -> int:
        """Write the audit rows matching the filters (as ``audit_entries``) as CSV with a header row
        to a path or an open text file; returns the number of rows written."""
        entries = self.audit_entries(
            account_id=account_id, since=since, until=until, rule=rule, contains=contains, limit=limit
        )
        if isinstance(target, (str, os.PathLike)):
            with open(target, "w", newline="", encoding="utf-8") as file:
                _write_csv(file, entries)
        else:
            _write_csv(target, entries)
        return len(entries)


def _audit_query(
    account_id: int | None, since: datetime | None, until: datetime | None, rule: str | None,
    contains: str | None, after_id: int | None,
) -> tuple[str, tuple[object, ...]]:
    where, params = where_clause(
        ("account_id = ?", account_id),
        ("at >= ?", optional_moment_text(since)),
        ("at < ?", optional_moment_text(until)),
        ("rule = ?", rule),
        (f"instr({_AUDIT_TEXT}, ?) > 0", None if not contains else contains.casefold()),
        ("id > ?", after_id),
    )
    return f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit{where}", params


def _audit_from_row(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        id=row[0], at=moment_from_text(row[1]), account_id=row[2], rule=row[3], event=row[4], detail=row[5],
        decision=row[6], broker_call=row[7], result=row[8], latency_ms=row[9],
    )


def _write_csv(file: IO[str], entries: Sequence[AuditEntry]) -> None:
    writer = csv.writer(file)
    writer.writerow(AUDIT_COLUMNS)
    for e in entries:
        writer.writerow((
            e.id, e.at.isoformat(), "" if e.account_id is None else e.account_id, e.rule or "", e.event,
            e.detail, e.decision or "", e.broker_call or "", e.result or "",
            "" if e.latency_ms is None else e.latency_ms,
        ))
