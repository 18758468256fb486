"""What the rules keep in state.db: per-account rule memory and the history of rule-setting changes."""

from __future__ import annotations

import json
from datetime import datetime

from .connection import Database, where_clause
from .records import RuleChange
from .timestamps import moment_from_text, moment_text, optional_moment_from_text, optional_moment_text


class RuleState(Database):
    """Rule memory and rule-change history."""

    # ---- per-account rule memory ------------------------------------------------------------

    def get_memory(self, account_id: int, key: str) -> str | None:
        rows = self._fetch("SELECT value FROM rule_memory WHERE account_id = ? AND key = ?", (account_id, key))
        return rows[0][0] if rows else None

    def memory(self, account_id: int) -> dict[str, str]:
        """Everything remembered for an account, to restore the rules at start-up."""
        rows = self._fetch("SELECT key, value FROM rule_memory WHERE account_id = ? ORDER BY key", (account_id,))
        return {key: value for key, value in rows}

    def set_memory(self, account_id: int, key: str, value: str | None, *, at: datetime | None = None) -> None:
        """Remember a small JSON text (e.g. ``"3"`` for a losing streak); None forgets the key."""
        if value is None:
            with self._transaction() as run:
                run("DELETE FROM rule_memory WHERE account_id = ? AND key = ?", (account_id, key))
            return
        try:
            json.loads(value)
        except ValueError as exc:
            # Caught here rather than at start-up, where the rule would have to guess its state.
            raise ValueError(f"rule memory {key!r} must be JSON text: {exc}") from exc
        with self._transaction() as run:
            run(
                "INSERT INTO rule_memory (account_id, key, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (account_id, key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (account_id, key, value, moment_text(at or self._clock.now())),
            )

    # ---- rule-change history ----------------------------------------------------------------

    def record_rule_change(
        self,
        at: datetime,
        key: str,
        old: str | None,
        new: str | None,
        effective_at: datetime | None,
        applied: bool,
        note: str = "",
    ) -> int:
        """Record a change of a rule setting (``old``/``new`` as the user wrote them); ``applied``
        is False for a loosening that waits for the next reset. Returns its id."""
        with self._transaction() as run:
            cursor = run(
                "INSERT INTO rule_changes (at, key, old, new, effective_at, applied, applied_at, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    moment_text(at), key, old, new, optional_moment_text(effective_at), int(applied),
                    moment_text(at) if applied else None, note,
                ),
            )
            return int(cursor.lastrowid or 0)

    def mark_rule_change_applied(self, change_id: int, applied_at: datetime) -> bool:
        """A pending change took effect; returns whether it was pending."""
        with self._transaction() as run:
            cursor = run(
                "UPDATE rule_changes SET applied = 1, applied_at = ? WHERE id = ? AND applied = 0",
                (moment_text(applied_at), change_id),
            )
            return cursor.rowcount > 0

    def rule_changes(
        self, *, since: datetime | None = None, key: str | None = None, pending_only: bool = False,
        limit: int | None = None,
    ) -> list[RuleChange]:
        """Recorded rule changes, oldest first; ``limit`` keeps the newest."""
        where, params = where_clause(
            ("at >= ?", optional_moment_text(since)),
            ("key = ?", key),
            ("applied = ?", 0 if pending_only else None),
        )
        rows = self._fetch_newest(
            f"SELECT id, at, key, old, new, effective_at, applied, applied_at, note FROM rule_changes{where}",
            params, limit,
        )
        return [
            RuleChange(
                id=row[0], at=moment_from_text(row[1]), key=row[2], old=row[3], new=row[4],
                effective_at=optional_moment_from_text(row[5]), applied=bool(row[6]),
                applied_at=optional_moment_from_text(row[7]), note=row[8],
            )
            for row in rows
        ]

