from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from deskguard.engine.decisions import LockKind
from deskguard.store import Store, StoreError

from .conftest import T0, make_lock


def test_a_lock_survives_close_and_reopen(db_path: Path) -> None:
    account = make_lock()
    symbol = make_lock(kind=LockKind.PERMANENT, rule="symbol_blocks", reason="CL is blocked", until=None, symbol="CL")
    with Store(db_path) as store:
        store.save_lock(account)
        store.save_lock(symbol)

    with Store(db_path) as store:
        assert store.active_locks() == [account, symbol]
        assert store.active_locks(7) == [account, symbol]
        assert store.active_locks(8) == []


def test_a_saved_lock_is_committed_before_save_returns(store: Store, db_path: Path) -> None:
    store.save_lock(make_lock())
    # Another connection (another process after a crash) sees it while the store is still open.
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("SELECT count(*) FROM locks WHERE ended_at IS NULL").fetchone() == (1,)
    finally:
        other.close()


def test_an_ended_lock_is_not_active_but_stays_in_history(store: Store) -> None:
    first = store.save_lock(make_lock())
    second = make_lock(kind=LockKind.UNTIL_RESET, rule="daily_realized_loss", reason="daily loss limit reached")
    store.save_lock(second)

    assert store.end_lock(first, T0 + timedelta(minutes=10), "cooldown over")
    assert store.end_lock(second, T0 + timedelta(hours=7), "trading-day reset")
    assert not store.end_lock(first, T0 + timedelta(minutes=11), "again")  # already ended

    assert store.active_locks() == []
    history = store.lock_history(7)
    assert [r.lock for r in history] == [make_lock(), second]
    assert [r.end_reason for r in history] == ["cooldown over", "trading-day reset"]
    assert history[0].ended_at == T0 + timedelta(minutes=10)
    assert not any(r.active for r in history)


def test_saving_the_same_active_lock_twice_keeps_one_row(store: Store) -> None:
    lock = make_lock()
    assert store.save_lock(lock) == store.save_lock(lock)
    assert len(store.lock_history()) == 1
    # Once ended, the same lock set again is a new lock.
    store.end_lock(lock, T0 + timedelta(minutes=10), "over")
    store.save_lock(lock)
    assert len(store.lock_history()) == 2
    assert store.active_locks() == [lock]


def test_active_locks_by_id_lets_the_caller_end_them(store: Store) -> None:
    lock_id = store.save_lock(make_lock())
    assert store.active_locks_by_id() == {lock_id: make_lock()}


def test_times_come_back_as_the_same_moment_in_utc(store: Store) -> None:
    chicago = ZoneInfo("America/Chicago")
    lock = make_lock(since=T0.astimezone(chicago), until=(T0 + timedelta(hours=1)).astimezone(chicago))
    store.save_lock(lock)
    [back] = store.active_locks()
    assert back == lock
    assert back.since.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.save_lock(make_lock(since=T0.replace(tzinfo=None)))
    assert store.active_locks() == []


def test_a_closed_store_says_so(db_path: Path) -> None:
    store = Store(db_path)
    store.close()
    store.close()  # closing twice is harmless
    assert store.closed
    with pytest.raises(StoreError, match="closed"):
        store.active_locks()


def test_a_lock_is_committed_with_a_full_sync_and_other_writes_are_not(store: Store) -> None:
    # Durability cannot be observed without pulling the power, so watch what SQLite is told:
    # the lock's COMMIT runs under synchronous=FULL (the WAL is fsync'd before it returns).
    statements: list[str] = []
    store._connection().set_trace_callback(statements.append)
    store.save_lock(make_lock())
    commit = statements.index("COMMIT")
    assert "PRAGMA synchronous = FULL" in statements[:commit]
    assert statements[commit + 1 :] == ["PRAGMA synchronous = NORMAL"]

    statements.clear()
    store.audit(7, None, "note", "an ordinary write")
    assert not any("synchronous" in s for s in statements)


def test_the_store_works_from_the_guardians_worker_thread(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as worker:
        lock_id = worker.submit(store.save_lock, make_lock()).result()
        assert worker.submit(store.active_locks_by_id).result() == {lock_id: make_lock()}
    assert store.active_locks() == [make_lock()]
