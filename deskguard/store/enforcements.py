"""Pending enforcement in state.db: an action noted before it runs, so a restart finds any the
process died in the middle of."""

from __future__ import annotations

from datetime import datetime

from ..engine.decisions import Action
from .connection import Database, where_clause
from .records import PendingEnforcement
from .timestamps import moment_from_text, moment_text


class Enforcements(Database):
    """Beginning, finishing and listing enforcement actions."""

    # ---- pending enforcement ----------------------------------------------------------------

    def begin_enforcement(
        self, account_id: int, action: Action | str, contract_id: str | None, reason: str,
        *, at: datetime | None = None,
    ) -> int:
        """Note an enforcement about to run, so that if the process dies before
        ``finish_enforcement`` the next start finds it in ``unfinished_enforcements``."""
        with self._transaction() as run:
            cursor = run(
                "INSERT INTO enforcements (account_id, action, contract_id, reason, started_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (account_id, str(action), contract_id, reason, moment_text(at or self._clock.now())),
            )
            return int(cursor.lastrowid or 0)

    def finish_enforcement(self, enforcement_id: int, result: str, *, at: datetime | None = None) -> bool:
        """Returns whether it was still unfinished."""
        with self._transaction() as run:
            cursor = run(
                "UPDATE enforcements SET finished_at = ?, result = ? WHERE id = ? AND finished_at IS NULL",
                (moment_text(at or self._clock.now()), result, enforcement_id),
            )
            return cursor.rowcount > 0

    def finish_enforcement_for(
        self, account_id: int, action: Action | str, contract_id: str | None, result: str,
        *, at: datetime | None = None,
    ) -> int:
        """Finish the unfinished enforcements of this action on this contract (None: the whole
        account), for a caller that did not keep the id; returns how many were finished."""
        with self._transaction() as run:
            cursor = run(
                "UPDATE enforcements SET finished_at = ?, result = ? WHERE finished_at IS NULL"
                " AND account_id = ? AND action = ? AND contract_id IS ?",
                (moment_text(at or self._clock.now()), result, account_id, str(action), contract_id),
            )
            return cursor.rowcount

    def unfinished_enforcements(self, account_id: int | None = None) -> list[PendingEnforcement]:
        where, params = where_clause(("finished_at IS NULL", True), ("account_id = ?", account_id))
        rows = self._fetch(
            f"SELECT id, account_id, action, contract_id, reason, started_at FROM enforcements{where} ORDER BY id",
            params,
        )
        return [
            PendingEnforcement(
                id=row[0], account_id=row[1], action=row[2], contract_id=row[3], reason=row[4],
                started_at=moment_from_text(row[5]),
            )
            for row in rows
        ]
