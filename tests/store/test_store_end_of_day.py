"""End-of-day balances: recorded at each reset the app sees, kept across restarts, and brought to a
database written by an older DeskGuard by a migration (its other tables untouched)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from deskguard.store import MIGRATIONS, Store, migrate


def test_balances_are_recorded_per_account_and_day_and_survive_a_reopen(store: Store, db_path: Path):
    assert store.highest_end_of_day(1) is None
    store.record_end_of_day(1, date(2026, 12, 7), 50_400.0)
    store.record_end_of_day(1, date(2026, 12, 8), 51_250.5)
    store.record_end_of_day(1, date(2026, 12, 8), 51_300.0)  # a later record of the same day wins
    store.record_end_of_day(2, date(2026, 12, 8), 99_000.0)
    store.close()
    with Store(db_path) as again:
        assert again.end_of_day_balances(1) == [(date(2026, 12, 7), 50_400.0), (date(2026, 12, 8), 51_300.0)]
        assert again.highest_end_of_day(1) == 51_300.0
        assert again.highest_end_of_day(2) == 99_000.0


def test_a_version_1_database_gains_the_table_and_keeps_its_data(tmp_path: Path):
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    conn.execute("INSERT INTO high_water_marks (account_id, value, at) VALUES (1, 51000, '2026-12-01T00:00:00Z')")
    conn.close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.get_high_water_mark(1) == 51_000.0
        store.record_end_of_day(1, date(2026, 12, 8), 52_000.0)
        assert store.highest_end_of_day(1) == 52_000.0
