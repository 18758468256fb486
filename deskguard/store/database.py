"""The state database (state.db): everything DeskGuard must remember across a restart.

One ``Store`` per process owns one SQLite connection. Every method is one short statement or
transaction, so the async guardian calls them directly. Writes commit before they return; lock
writes are also flushed to the disk (see ``save_lock``).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Self

from ..engine.clock import Clock, SystemClock
from ..engine.decisions import Action, Decision, Lock, LockKind
from ..engine.models import Side, Trade
from .errors import StoreCorruptError, StoreError, StoreTooNewError
from .files import create_private_file, make_private, move_aside, prepare_folder
from .records import (
    AUDIT_COLUMNS,
    AuditEntry,
    DayFigures,
    LockRecord,
    PendingEnforcement,
    RuleChange,
    describe_decision,
)
from .redaction import Redactor
from .schema import APPLICATION_ID, LATEST_VERSION, application_id, has_tables, migrate, schema_version
from .timestamps import (
    date_text,
    moment_from_text,
    moment_text,
    optional_moment_from_text,
    optional_moment_text,
)

MEMORY = ":memory:"

_CORRUPTION_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

_LOCK_COLUMNS = "id, account_id, kind, rule, reason, symbol, since, until, saved_at, ended_at, end_reason"
_TRADE_COLUMNS = "id, account_id, contract_id, time, price, pnl, fees, side, size, voided, order_id"

# The audit search looks at every text column a trader might remember a word from.
_AUDIT_TEXT = (
    "casefold(event || ' ' || detail || ' ' || coalesce(rule, '') || ' ' || coalesce(decision, '')"
    " || ' ' || coalesce(broker_call, '') || ' ' || coalesce(result, ''))"
)


class Store:
    """SQLite state: locks, audit log, trades seen, daily figures, high-water marks, rule memory,
    rule-change history and pending enforcement.

    ``Store(path)`` creates the file (user-only) and migrates it to the current schema; it raises
    ``StoreTooNewError`` for a file from a newer DeskGuard (left untouched) and ``StoreCorruptError``
    for a damaged or foreign file (see ``Store.recover``). ``":memory:"`` gives a throw-away store.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        redact: Iterable[str] = (),
        clock: Clock | None = None,
        check_integrity: bool = True,
        busy_timeout: float = 2.0,
    ) -> None:
        self._redactor = Redactor()
        for secret in redact:
            self._redactor.add(secret)
        self._clock: Clock = clock or SystemClock()
        # The guardian's loop and a worker thread (e.g. a CSV export) may share the store.
        self._mutex = threading.RLock()
        text = os.fspath(path)
        self.path: Path | None = None if text == MEMORY else Path(text)
        self._conn: sqlite3.Connection | None = self._open(check_integrity, busy_timeout)

    # ---- opening, recovery, closing -----------------------------------------------------------

    @classmethod
    def recover(
        cls, path: str | os.PathLike[str], *, redact: Iterable[str] = (), clock: Clock | None = None
    ) -> tuple[Store, Path | None]:
        """Open ``path``, moving it aside first if it is damaged or foreign.

        Returns the open store and the backup's path (None when the file was fine and nothing
        moved). A file from a newer DeskGuard is never moved: ``StoreTooNewError`` propagates.
        Nothing is deleted: the bad file and its WAL stay next to the new one as
        ``state.db.corrupt-YYYYmmddTHHMMSS``. One attempt only, so a caller cannot loop on it."""
        if os.fspath(path) == MEMORY:
            raise ValueError("an in-memory store has no file to recover")
        target = Path(os.fspath(path))
        secrets = list(redact)
        try:
            return cls(target, redact=secrets, clock=clock), None
        except StoreCorruptError:
            pass
        backup = move_aside(target, (clock or SystemClock()).now())
        return cls(target, redact=secrets, clock=clock), backup

    def _open(self, check_integrity: bool, busy_timeout: float) -> sqlite3.Connection:
        version: int | None = None
        if self.path is not None:
            prepare_folder(self.path)
            create_private_file(self.path)
            # Look before touching: a read-only connection cannot checkpoint a WAL into a damaged
            # file nor delete that WAL on close, so a refused file (and its WAL) stays as it was.
            probe = _connect(self.path.resolve().as_uri() + "?mode=ro", busy_timeout, uri=True)
            try:
                version = self._check(probe, check_integrity)
            except sqlite3.Error as exc:
                raise self._translate(exc, "open") from exc
            finally:
                probe.close()
        conn = _connect(MEMORY if self.path is None else str(self.path), busy_timeout)
        try:
            if version is None:
                version = self._check(conn, check_integrity)
            self._configure(conn)
            if version < LATEST_VERSION:
                migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self._translate(exc, "open") from exc
        except BaseException:
            conn.close()
            raise
        conn.create_function("casefold", 1, _casefold, deterministic=True)
        if self.path is not None:
            make_private(self.path)
        return conn

    def _check(self, conn: sqlite3.Connection, check_integrity: bool) -> int:
        """Read-only checks before anything is written to the file; returns its schema version."""
        version = schema_version(conn)
        owner = application_id(conn)
        if owner == APPLICATION_ID:
            if version > LATEST_VERSION:
                raise StoreTooNewError(self.path, version, LATEST_VERSION)
        elif owner != 0 or version != 0 or has_tables(conn):
            raise StoreCorruptError(self.path, "not a DeskGuard state database")
        if check_integrity:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise StoreCorruptError(self.path, "integrity check failed: " + "; ".join(problems[:3]))
        return version

    @staticmethod
    def _configure(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives a crash of the process, only a power cut can lose
        # the last ones. Lock writes switch to FULL for their commit (see _transaction).
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_size_limit = 4194304")  # a checkpointed WAL shrinks back

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()  # the last connection checkpoints the WAL into the file
                self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._reading() as conn:
            return schema_version(conn)

    def add_redaction(self, secret: str) -> None:
        """Never write ``secret`` (the API key): from now on it is replaced by "[redacted]" in every
        text written to any table."""
        self._redactor.add(secret)

    # ---- locks ------------------------------------------------------------------------------

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
        where, params = _where(
            ("account_id = ?", account_id),
            ("saved_at >= ?", optional_moment_text(since)),
        )
        rows = self._fetch_newest(f"SELECT {_LOCK_COLUMNS} FROM locks{where}", params, limit)
        return [_lock_from_row(row) for row in rows]

    # ---- audit log --------------------------------------------------------------------------

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

    # ---- trades seen ------------------------------------------------------------------------

    def record_trades(self, account_id: int, trades: Iterable[Trade]) -> int:
        """Remember trades by id; returns how many were new. Recording a trade again is harmless,
        and a later report of the same id (a void, corrected fees) replaces the earlier one:
        the broker's word wins."""
        new = 0
        with self._transaction() as run:
            for trade in trades:
                if trade.account_id != account_id:
                    raise ValueError(f"trade {trade.id} belongs to account {trade.account_id}, not {account_id}")
                values = (
                    trade.contract_id, moment_text(trade.time), trade.price, trade.pnl, trade.fees,
                    int(trade.side), trade.size, int(trade.voided), trade.order_id,
                )
                cursor = run(
                    "INSERT OR IGNORE INTO trades (contract_id, time, price, pnl, fees, side, size, voided,"
                    " order_id, account_id, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, account_id, trade.id),
                )
                if cursor.rowcount:
                    new += 1
                else:
                    run(
                        "UPDATE trades SET contract_id = ?, time = ?, price = ?, pnl = ?, fees = ?, side = ?,"
                        " size = ?, voided = ?, order_id = ? WHERE account_id = ? AND id = ?",
                        (*values, account_id, trade.id),
                    )
        return new

    def seen_trade_ids(self, account_id: int, since: datetime) -> set[int]:
        rows = self._fetch(
            "SELECT id FROM trades WHERE account_id = ? AND time >= ?", (account_id, moment_text(since))
        )
        return {row[0] for row in rows}

    def trades(self, account_id: int, since: datetime, until: datetime | None = None) -> list[Trade]:
        """Trades recorded from ``since`` (inclusive) to ``until`` (exclusive), in time order."""
        where, params = _where(
            ("account_id = ?", account_id),
            ("time >= ?", moment_text(since)),
            ("time < ?", optional_moment_text(until)),
        )
        rows = self._fetch(f"SELECT {_TRADE_COLUMNS} FROM trades{where} ORDER BY time, id", params)
        return [
            Trade(
                id=row[0], account_id=row[1], contract_id=row[2], time=moment_from_text(row[3]),
                price=row[4], pnl=row[5], fees=row[6], side=Side(row[7]), size=row[8],
                voided=bool(row[9]), order_id=row[10],
            )
            for row in rows
        ]

    # ---- daily and weekly figures -----------------------------------------------------------

    def record_day(
        self,
        account_id: int,
        trading_date: date,
        realized: float,
        trades: int,
        *,
        fees: float = 0.0,
        balance: float | None = None,
        at: datetime | None = None,
    ) -> None:
        """Set a trading day's figures (replacing earlier ones for that day). A balance of None
        keeps the one recorded before."""
        with self._transaction() as run:
            run(
                "INSERT INTO days (account_id, trading_date, realized, trades, fees, balance, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (account_id, trading_date) DO UPDATE SET realized = excluded.realized,"
                " trades = excluded.trades, fees = excluded.fees,"
                " balance = coalesce(excluded.balance, days.balance), updated_at = excluded.updated_at",
                (
                    account_id, date_text(trading_date), float(realized), int(trades), float(fees),
                    balance, moment_text(at or self._clock.now()),
                ),
            )

    def realized_between(self, account_id: int, start_date: date, end_date: date) -> float:
        """Realized P&L of the trading days from ``start_date`` to ``end_date``, BOTH inclusive.

        For the weekly rule's "previous days of this week": ``(week_start, today - 1 day)``."""
        row = self._fetch(
            "SELECT coalesce(sum(realized), 0.0) FROM days"
            " WHERE account_id = ? AND trading_date >= ? AND trading_date <= ?",
            (account_id, date_text(start_date), date_text(end_date)),
        )
        return float(row[0][0])

    def days(self, account_id: int, since: date, until: date | None = None) -> list[DayFigures]:
        """Trading days from ``since`` to ``until`` (both inclusive), oldest first."""
        where, params = _where(
            ("account_id = ?", account_id),
            ("trading_date >= ?", date_text(since)),
            ("trading_date <= ?", None if until is None else date_text(until)),
        )
        rows = self._fetch(
            f"SELECT account_id, trading_date, realized, trades, fees, balance, updated_at FROM days{where}"
            " ORDER BY trading_date",
            params,
        )
        return [
            DayFigures(
                account_id=row[0], trading_date=date.fromisoformat(row[1]), realized=row[2], trades=row[3],
                fees=row[4], balance=row[5], updated_at=moment_from_text(row[6]),
            )
            for row in rows
        ]

    # ---- trailing high-water mark -----------------------------------------------------------

    def get_high_water_mark(self, account_id: int) -> float | None:
        rows = self._fetch("SELECT value FROM high_water_marks WHERE account_id = ?", (account_id,))
        return float(rows[0][0]) if rows else None

    def set_high_water_mark(self, account_id: int, value: float, at: datetime | None = None) -> None:
        """Store the mark as given: the rule decides whether it may fall (a re-seed by the user)."""
        with self._transaction() as run:
            run(
                "INSERT INTO high_water_marks (account_id, value, at) VALUES (?, ?, ?)"
                " ON CONFLICT (account_id) DO UPDATE SET value = excluded.value, at = excluded.at",
                (account_id, float(value), moment_text(at or self._clock.now())),
            )

    # ---- end-of-day balances ----------------------------------------------------------------

    def record_end_of_day(self, account_id: int, trading_date: date, balance: float, at: datetime | None = None) -> None:
        """The balance at the reset that ended ``trading_date`` (a later record of the same day wins)."""
        with self._transaction() as run:
            run(
                "INSERT INTO end_of_day (account_id, trading_date, balance, recorded_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (account_id, trading_date) DO UPDATE SET balance = excluded.balance,"
                " recorded_at = excluded.recorded_at",
                (account_id, date_text(trading_date), float(balance), moment_text(at or self._clock.now())),
            )

    def end_of_day_balances(self, account_id: int) -> list[tuple[date, float]]:
        """Every end-of-day balance recorded for the account, oldest first."""
        rows = self._fetch("SELECT trading_date, balance FROM end_of_day WHERE account_id = ? ORDER BY trading_date",
                           (account_id,))
        return [(date.fromisoformat(d), float(b)) for d, b in rows]

    def highest_end_of_day(self, account_id: int) -> float | None:
        rows = self._fetch("SELECT max(balance) FROM end_of_day WHERE account_id = ?", (account_id,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

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
        where, params = _where(
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
        where, params = _where(("finished_at IS NULL", True), ("account_id = ?", account_id))
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

    # ---- plumbing -----------------------------------------------------------------------------

    def _clean(self, params: Sequence[object]) -> tuple[object, ...]:
        # Every value bound to any statement passes here: the one place redaction must not miss.
        if not self._redactor:
            return tuple(params)
        return tuple(self._redactor(p) if isinstance(p, str) else p for p in params)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("state.db is closed")
        return self._conn

    @contextmanager
    def _transaction(self, *, durable: bool = False) -> Iterator[_Runner]:
        """One write transaction. ``durable`` commits with synchronous=FULL (the WAL is fsync'd
        before COMMIT returns) for the writes the trader's safety depends on: locks."""
        with self._mutex:
            conn = self._connection()
            try:
                if durable:
                    conn.execute("PRAGMA synchronous = FULL")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield lambda sql, params=(): conn.execute(sql, self._clean(params))
                    conn.execute("COMMIT")
                finally:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    if durable:
                        conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise self._translate(exc, "write") from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._mutex:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self._translate(exc, "read") from exc

    def _fetch(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._reading() as conn:
            return conn.execute(sql, self._clean(params)).fetchall()

    def _fetch_newest(self, select: str, params: Sequence[object], limit: int | None) -> list[tuple[Any, ...]]:
        """Rows of ``select`` in id order; with a limit, the newest ``limit`` of them."""
        if limit is None:
            return self._fetch(select + " ORDER BY id", params)
        return self._fetch(
            f"SELECT * FROM ({select} ORDER BY id DESC LIMIT ?) ORDER BY id", (*params, max(limit, 0))
        )

    def _translate(self, exc: sqlite3.Error, doing: str) -> StoreError:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _CORRUPTION_CODES:
            return StoreCorruptError(self.path, str(exc))
        name = self.path.name if self.path else "state.db"
        return StoreError(f"could not {doing} {name}: {exc}")


class _Runner(Protocol):
    """What ``_transaction`` yields: runs one statement inside it, with redacted parameters."""

    def __call__(self, sql: str, params: Sequence[object] = ..., /) -> sqlite3.Cursor: ...


def _connect(target: str, busy_timeout: float, *, uri: bool = False) -> sqlite3.Connection:
    try:
        # autocommit=True: transactions are opened and closed explicitly, never implicitly.
        return sqlite3.connect(target, autocommit=True, check_same_thread=False, timeout=busy_timeout, uri=uri)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {target}: {exc}") from exc


def _casefold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


def _where(*conditions: tuple[str, object]) -> tuple[str, tuple[object, ...]]:
    """A WHERE clause from (condition, value) pairs, skipping those whose value is None. A value
    of True adds a condition with no parameter."""
    parts: list[str] = []
    params: list[object] = []
    for condition, value in conditions:
        if value is None:
            continue
        parts.append(condition)
        if value is not True:
            params.append(value)
    return (" WHERE " + " AND ".join(parts) if parts else ""), tuple(params)


def _audit_query(
    account_id: int | None, since: datetime | None, until: datetime | None, rule: str | None,
    contains: str | None, after_id: int | None,
) -> tuple[str, tuple[object, ...]]:
    where, params = _where(
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


def _lock_from_row(row: tuple[Any, ...]) -> LockRecord:
    lock = Lock(
        account_id=row[1], kind=LockKind(row[2]), rule=row[3], reason=row[4], symbol=row[5],
        since=moment_from_text(row[6]), until=optional_moment_from_text(row[7]),
    )
    return LockRecord(
        id=row[0], lock=lock, saved_at=moment_from_text(row[8]),
        ended_at=optional_moment_from_text(row[9]), end_reason=row[10],
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
