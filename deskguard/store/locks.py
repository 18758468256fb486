"""Locks in state.db: saved durably (fsync'd) before a lock is announced, ended but kept as history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..engine.decisions import Lock, LockKind
from .connection import Database, where_clause
from .records import LockRecord
from .timestamps import moment_from_text, moment_text, optional_moment_from_text, optional_moment_text

_LOCK_COLUMNS = "id, account_id, kind, rule, reason, symbol, since, until, saved_at, ended_at, end_reason"


class LockTable(Database):
    """Saving, ending and reading locks."""

    def save_lock(self, lock: Lock, *, saved_at: datetime | None = None) -> int:
        """Persist a lock and return its id; it is on disk (fsync'd) when this returns.

        Saving a lock identical to an active one returns that one's id, so re-issuing a lock after
        a restart does not pile up rows."""
        fields = (
            lock.account_id, LockKind(lock.kind).value, lock.rule, lock.reason, lock.symbol,
            moment_text(lock.since), optional_moment_text(lock.until),
        )
        saved = moment_text(saved_at or self._clock.now())
        with self._transaction(durable=True) as run:
            row = run(
                "SELECT id FROM locks WHERE ended_at IS NULL AND account_id = ? AND kind = ? AND rule = ?"
                " AND reason = ? AND symbol IS ? AND since = ? AND until IS ?",
                fields,
            ).fetchone()
            if row is not None:
                return int(row[0])
            cursor = run(
                "INSERT INTO locks (account_id, kind, rule, reason, symbol, since, until, saved_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*fields, saved),
            )
            return int(cursor.lastrowid or 0)

    def end_lock(self, lock: int | Lock, ended_at: datetime, why: str) -> bool:
        """Mark a lock (by id, or the active lock equal to ``lock``) as ended; the row stays as
        history. Returns whether an active lock was ended.

        Committed without the fsync of ``save_lock``: if a power cut loses the end, the lock comes
        back after the restart and is ended again, which errs on the side of the trader's safety."""
        ended = moment_text(ended_at)
        with self._transaction() as run:
            if isinstance(lock, int):
                cursor = run(
                    "UPDATE locks SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                    (ended, why, lock),
                )
            else:
                cursor = run(
                    "UPDATE locks SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND account_id = ?"
                    " AND kind = ? AND rule = ? AND reason = ? AND symbol IS ? AND since = ? AND until IS ?",
                    (
                        ended, why, lock.account_id, LockKind(lock.kind).value, lock.rule, lock.reason,
                        lock.symbol, moment_text(lock.since), optional_moment_text(lock.until),
                    ),
                )
            return cursor.rowcount > 0

    def active_locks(self, account_id: int | None = None) -> list[Lock]:
        """Locks not yet ended, oldest first. Expiry is the caller's decision: a lock whose time
        has passed stays active here until ``end_lock``."""
        return list(self.active_locks_by_id(account_id).values())

    def active_locks_by_id(self, account_id: int | None = None) -> dict[int, Lock]:
        sql = f"SELECT {_LOCK_COLUMNS} FROM locks WHERE ended_at IS NULL"
        params: tuple[object, ...] = ()
        if account_id is not None:
            sql += " AND account_id = ?"
            params = (account_id,)
        rows = self._fetch(sql + " ORDER BY id", params)
        return {row[0]: _lock_from_row(row).lock for row in rows}

    def lock_history(
        self, account_id: int | None = None, *, since: datetime | None = None, limit: int | None = None
    ) -> list[LockRecord]:
        """Every lock saved (active and ended), oldest first; ``limit`` keeps the newest."""
        where, params = where_clause(
            ("account_id = ?", account_id),
            ("saved_at >= ?", optional_moment_text(since)),
        )
        rows = self._fetch_newest(f"SELECT {_LOCK_COLUMNS} FROM locks{where}", params, limit)
        return [_lock_from_row(row) for row in rows]


def _lock_from_row(row: tuple[Any, ...]) -> LockRecord:
    lock = Lock(
        account_id=row[1], kind=LockKind(row[2]), rule=row[3], reason=row[4], symbol=row[5],
        since=moment_from_text(row[6]), until=optional_moment_from_text(row[7]),
    )
    return LockRecord(
        id=row[0], lock=lock, saved_at=moment_from_text(row[8]),
        ended_at=optional_moment_from_text(row[9]), end_reason=row[10],
    )

