from __future__ import annotations

import os
import sqlite3
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deskguard.engine.clock import FakeClock
from deskguard.store import LATEST_VERSION, MIGRATIONS, Store, StoreCorruptError, StoreError, StoreTooNewError, migrate
from deskguard.store.schema import APPLICATION_ID

from .conftest import T0, make_lock

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


EXPECTED_TABLES = {"locks", "audit", "trades", "days", "high_water_marks", "rule_memory", "rule_changes", "enforcements"}


# ---- versions and migrations -------------------------------------------------------------------


def test_a_new_file_is_migrated_to_the_latest_schema(db_path: Path) -> None:
    with Store(db_path) as store:
        assert store.schema_version == LATEST_VERSION == len(MIGRATIONS)
    assert _tables(db_path) >= EXPECTED_TABLES
    assert _user_version(db_path) == LATEST_VERSION


@pytest.mark.parametrize("how", ["empty file", "empty database"])
def test_migrations_start_from_an_empty_v0_database(tmp_path: Path, how: str) -> None:
    path = tmp_path / "state.db"
    if how == "empty file":
        path.touch()
    else:
        conn = sqlite3.connect(path)
        conn.execute("VACUUM")  # writes a valid, empty database with user_version 0
        conn.close()
        assert path.stat().st_size > 0 and _user_version(path) == 0
    with Store(path) as store:
        store.save_lock(make_lock())
        assert store.schema_version == LATEST_VERSION
    assert _tables(path) >= EXPECTED_TABLES


def test_a_later_migration_keeps_the_data_and_a_failing_one_changes_nothing(db_path: Path) -> None:
    with Store(db_path) as store:
        store.save_lock(make_lock())
        store.audit(7, None, "note", "before the upgrade")

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE locks ADD COLUMN note TEXT NOT NULL DEFAULT ''")

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE extra (x)")
        raise RuntimeError("bug in migration 3")

    conn = sqlite3.connect(db_path, autocommit=True)
    try:
        with pytest.raises(RuntimeError):
            migrate(conn, (*MIGRATIONS, add_column, broken))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        assert "extra" not in _tables(db_path)  # all steps rolled back together

        assert migrate(conn, (*MIGRATIONS, add_column)) == LATEST_VERSION
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION + 1
        assert conn.execute("SELECT rule, note FROM locks").fetchall() == [("cooldown_after_loss", "")]
    finally:
        conn.close()


def test_a_file_from_a_newer_deskguard_is_refused_and_left_untouched(db_path: Path) -> None:
    with Store(db_path) as store:
        store.save_lock(make_lock())
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    before = db_path.read_bytes()
    mtime = db_path.stat().st_mtime_ns

    with pytest.raises(StoreTooNewError) as caught:
        Store(db_path)
    assert str(caught.value).startswith(
        f"state.db was written by a newer DeskGuard (schema 7, this version knows {LATEST_VERSION})"
    )
    assert db_path.read_bytes() == before
    assert db_path.stat().st_mtime_ns == mtime

    with pytest.raises(StoreTooNewError):
        Store.recover(db_path)  # recovery never throws away a newer version's state
    assert db_path.read_bytes() == before
    assert list(db_path.parent.glob("*.corrupt-*")) == []


# ---- damaged and foreign files -----------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_reported_and_recover_keeps_a_backup(db_path: Path) -> None:
    db_path.parent.mkdir()
    junk = b"this is not a database, it is a shopping list\n" * 100
    db_path.write_bytes(junk)

    with pytest.raises(StoreCorruptError, match="unreadable"):
        Store(db_path)
    assert db_path.read_bytes() == junk  # reporting changes nothing

    clock = FakeClock(datetime(2025, 3, 4, 21, 5, 9, tzinfo=UTC))
    store, backup = Store.recover(db_path, clock=clock)
    with store:
        assert backup == db_path.with_name("state.db.corrupt-20250304T210509")
        assert backup.read_bytes() == junk
        assert store.active_locks() == []
        store.save_lock(make_lock())
    with Store(db_path) as again:
        assert again.active_locks() == [make_lock()]


def test_a_damaged_database_fails_the_integrity_check(db_path: Path) -> None:
    with Store(db_path) as store:
        for n in range(400):
            store.audit(7, "r", "event", f"row {n} " + "x" * 200)
    data = bytearray(db_path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for page in range(2, len(data) // page_size):  # scribble over every page but the first
        start = page * page_size
        data[start + 8 : start + 200] = bytes([0xA5]) * 192
    db_path.write_bytes(bytes(data))

    with pytest.raises(StoreCorruptError):
        Store(db_path)
    store, backup = Store.recover(db_path)
    with store:
        assert backup is not None and backup.read_bytes() == bytes(data)
        assert store.audit_entries() == []


def test_recover_moves_a_stale_wal_with_the_bad_file(db_path: Path) -> None:
    db_path.parent.mkdir()
    db_path.write_bytes(b"garbage" * 1000)
    db_path.with_name("state.db-wal").write_bytes(b"old wal")
    store, backup = Store.recover(db_path)
    store.close()
    assert backup is not None
    assert backup.with_name(backup.name + "-wal").read_bytes() == b"old wal"


def test_two_recoveries_in_the_same_second_keep_both_backups(db_path: Path) -> None:
    clock = FakeClock(T0)
    db_path.parent.mkdir()
    backups = []
    for junk in (b"first junk" * 200, b"second junk" * 200):
        db_path.write_bytes(junk)
        store, backup = Store.recover(db_path, clock=clock)
        store.close()
        assert backup is not None and backup.read_bytes() == junk
        backups.append(backup)
    assert backups[0] != backups[1]


def test_recover_leaves_a_healthy_database_in_place(db_path: Path) -> None:
    with Store(db_path) as store:
        store.save_lock(make_lock())
    store, backup = Store.recover(db_path)
    with store:
        assert backup is None
        assert store.active_locks() == [make_lock()]


def test_another_programs_database_is_not_migrated_into(db_path: Path) -> None:
    db_path.parent.mkdir()
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE bookmarks (url TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreCorruptError, match="not a DeskGuard"):
        Store(db_path)
    assert _tables(db_path) == {"bookmarks"}


def test_deskguard_marks_its_files(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    finally:
        conn.close()


def test_an_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(StoreError):
        Store(folder)


# ---- the file on disk --------------------------------------------------------------------------


@posix_only
def test_the_database_and_its_new_folder_are_user_only(db_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with Store(db_path) as store:
            store.save_lock(make_lock())
            for name in ("state.db", "state.db-wal", "state.db-shm"):
                assert stat.S_IMODE((db_path.parent / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)


@posix_only
def test_an_existing_file_is_tightened_but_an_existing_folder_is_left(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "state.db"
    Store(path).close()
    path.chmod(0o644)
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_wal_mode_and_foreign_keys(store: Store, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert store._connection().execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL between lock writes


def test_an_in_memory_store_works(clock: FakeClock) -> None:
    with Store(":memory:", clock=clock) as store:
        store.save_lock(make_lock())
        assert store.active_locks() == [make_lock()]
    with pytest.raises(ValueError):
        Store.recover(":memory:")
