"""The state.db schema, as an ordered list of migrations from an empty database (version 0).

``MIGRATIONS[i]`` takes a database from version i to i + 1; the version lives in
``PRAGMA user_version``. Never edit a released migration, append a new one: every user's file,
whatever version wrote it, then walks the same path to the current schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Migration = Callable[[sqlite3.Connection], None]

# Marks a file as DeskGuard's ("DGSD"), so another program's SQLite file at the same path is
# recognised as foreign instead of being migrated into.
APPLICATION_ID = 0x44475344


def _statements(*sql: str) -> Migration:
    def run(conn: sqlite3.Connection) -> None:
        for statement in sql:
            conn.execute(statement)

    return run


_APPEND_ONLY = "RAISE(ABORT, 'the audit log is append-only')"

_V1 = _statements(
    f"PRAGMA application_id = {APPLICATION_ID}",
    """CREATE TABLE locks (
        id          INTEGER PRIMARY KEY,
        account_id  INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        rule        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        symbol      TEXT,              -- NULL: the whole account
        since       TEXT NOT NULL,
        until       TEXT,              -- NULL: ends on a condition (until_can_trade, permanent)
        saved_at    TEXT NOT NULL,
        ended_at    TEXT,              -- NULL while active; rows are kept as history
        end_reason  TEXT
    )""",
    "CREATE INDEX locks_active ON locks (account_id) WHERE ended_at IS NULL",
    """CREATE TABLE audit (
        id           INTEGER PRIMARY KEY,
        at           TEXT NOT NULL,
        account_id   INTEGER,
        rule         TEXT,
        event        TEXT NOT NULL,
        detail       TEXT NOT NULL,
        decision     TEXT,
        broker_call  TEXT,
        result       TEXT,
        latency_ms   REAL
    )""",
    "CREATE INDEX audit_account ON audit (account_id, id)",
    "CREATE INDEX audit_at ON audit (at)",
    f"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT {_APPEND_ONLY}; END",
    f"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT {_APPEND_ONLY}; END",
    """CREATE TABLE trades (
        account_id   INTEGER NOT NULL,
        id           INTEGER NOT NULL,
        contract_id  TEXT NOT NULL,
        time         TEXT NOT NULL,
        price        REAL NOT NULL,
        pnl          REAL,
        fees         REAL NOT NULL,
        side         INTEGER NOT NULL,
        size         INTEGER NOT NULL,
        voided       INTEGER NOT NULL,
        order_id     INTEGER,
        PRIMARY KEY (account_id, id)
    ) WITHOUT ROWID""",
    "CREATE INDEX trades_time ON trades (account_id, time)",
    """CREATE TABLE days (
        account_id    INTEGER NOT NULL,
        trading_date  TEXT NOT NULL,   -- YYYY-MM-DD, the trading day (not the calendar day)
        realized      REAL NOT NULL,
        trades        INTEGER NOT NULL,
        fees          REAL NOT NULL,
        balance       REAL,
        updated_at    TEXT NOT NULL,
        PRIMARY KEY (account_id, trading_date)
    ) WITHOUT ROWID""",
    """CREATE TABLE high_water_marks (
        account_id  INTEGER PRIMARY KEY,
        value       REAL NOT NULL,
        at          TEXT NOT NULL
    )""",
    """CREATE TABLE rule_memory (
        account_id  INTEGER NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,     -- JSON
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (account_id, key)
    ) WITHOUT ROWID""",
    """CREATE TABLE rule_changes (
        id            INTEGER PRIMARY KEY,
        at            TEXT NOT NULL,
        key           TEXT NOT NULL,
        old           TEXT,
        new           TEXT,
        effective_at  TEXT,
        applied       INTEGER NOT NULL,
        applied_at    TEXT,
        note          TEXT NOT NULL
    )""",
    """CREATE TABLE enforcements (
        id           INTEGER PRIMARY KEY,
        account_id   INTEGER NOT NULL,
        action       TEXT NOT NULL,
        contract_id  TEXT,
        reason       TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        finished_at  TEXT,
        result       TEXT
    )""",
    "CREATE INDEX enforcements_unfinished ON enforcements (id) WHERE finished_at IS NULL",
)

# End-of-day balances (rules.md "End-of-day balance"): the balance at each trading-day reset the app
# saw, so 014's high-water mark (the highest of them) and 001's scaling tier survive a restart.
_V2 = _statements(
    """CREATE TABLE end_of_day (
        account_id    INTEGER NOT NULL,
        trading_date  TEXT NOT NULL,   -- YYYY-MM-DD, the trading day that ended at that reset
        balance       REAL NOT NULL,
        recorded_at   TEXT NOT NULL,
        PRIMARY KEY (account_id, trading_date)
    ) WITHOUT ROWID""",
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2)
LATEST_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def application_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA application_id").fetchone()[0])


def has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database up to ``len(migrations)``; returns the version it had before.

    All steps run in one transaction with their version bumps (user_version is part of the file
    header, so it commits or rolls back with them): a failure leaves the file as it was, never
    half-migrated. The connection must be in autocommit mode (no transaction open)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read under the write lock: another process may have migrated meanwhile.
        before = schema_version(conn)
        for version in range(before, len(migrations)):
            migrations[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return before
