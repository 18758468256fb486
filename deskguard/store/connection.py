"""The one SQLite connection under ``Store``: opening (checks, migration, recovery), closing, and
the plumbing every table's methods share — one write transaction or read at a time, every bound
value redacted, SQLite errors translated to ``StoreError``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from ..engine.clock import Clock, SystemClock
from .errors import StoreCorruptError, StoreError, StoreTooNewError
from .files import create_private_file, make_private, move_aside, prepare_folder
from .redaction import Redactor
from .schema import APPLICATION_ID, LATEST_VERSION, application_id, has_tables, migrate, schema_version

MEMORY = ":memory:"

_CORRUPTION_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class Database:
    """The connection, its lifecycle and the shared plumbing; ``Store`` adds the tables' methods.

    ``Database(path)`` creates the file (user-only) and migrates it to the current schema; it raises
    ``StoreTooNewError`` for a file from a newer DeskGuard (left untouched) and ``StoreCorruptError``
    for a damaged or foreign file (see ``recover``). ``":memory:"`` gives a throw-away store.
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
        self._batch_thread: int | None = None  # the thread inside batch(): its writes are savepoints
        text = os.fspath(path)
        self.path: Path | None = None if text == MEMORY else Path(text)
        self._conn: sqlite3.Connection | None = self._open(check_integrity, busy_timeout)

    # ---- opening, recovery, closing -----------------------------------------------------------

    @classmethod
    def recover(
        cls, path: str | os.PathLike[str], *, redact: Iterable[str] = (), clock: Clock | None = None
    ) -> tuple[Self, Path | None]:
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

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    def now(self) -> datetime:
        """The moment this store stamps a row with when it is not given one."""
        return self._clock.now()

    @property
    def secrets(self) -> tuple[str, ...]:
        """What this store redacts (handed to its writer process, never written anywhere)."""
        return tuple(self._redactor.secrets())

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
    def batch(self) -> Iterator[None]:
        """Many writes in one transaction (the store's writer process: one commit per message,
        not one per write). Each write inside is a savepoint of its own: one that fails is undone
        alone and raises as it would outside. A durable write (a lock) must not be made in one."""
        with self._mutex:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._batch_thread = threading.get_ident()
                try:
                    yield
                    conn.execute("COMMIT")
                finally:
                    self._batch_thread = None
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise self._translate(exc, "write") from exc

    @contextmanager
    def _transaction(self, *, durable: bool = False) -> Iterator[Runner]:
        """One write transaction. ``durable`` commits with synchronous=FULL (the WAL is fsync'd
        before COMMIT returns) for the writes the trader's safety depends on: locks."""
        if self._batch_thread == threading.get_ident():  # another thread waits for the mutex below
            if durable:
                raise StoreError("a durable write cannot be made inside a batch")
            with self._savepoint() as run:
                yield run
            return
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
    def _savepoint(self) -> Iterator[Runner]:
        conn = self._connection()
        try:
            conn.execute("SAVEPOINT write")
            try:
                yield lambda sql, params=(): conn.execute(sql, self._clean(params))
            except BaseException:
                conn.execute("ROLLBACK TO write")
                raise
            finally:
                conn.execute("RELEASE write")
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


class Runner(Protocol):
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


def where_clause(*conditions: tuple[str, object]) -> tuple[str, tuple[object, ...]]:
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

