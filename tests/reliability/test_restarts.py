"""``deskguard --headless`` as real processes: killed (SIGKILL) in the middle of a flatten, started on
a damaged or a newer state database, and started on a config.toml broken by hand. The next start
completes the flatten; a damaged database is kept as a backup and a new one guards; a newer one is
left untouched with a clear message and a non-zero exit, the same on every start; a broken config
names its file, line and key and is never rewritten. (SIGKILL during a lock and the exit codes 2/3
are in tests/guardian; a config broken while running is in tests/runtime.)"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest
from guardian_harness import ACCOUNT, MNQ_PRICE, ok, sim_flat, sim_size, wait_for
from headless_harness import Headless, headless_env, make_home

from deskguard.store import LATEST_VERSION, Store

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

USERNAME = "restart-tester"
API_KEY = "restart-API-key-0123456789"
CONFIG = """\
# written by the test
[connection]
accounts = ["50KTC-V2-123456-1001"]
instruments = ["MNQ", "MES"]

[rules.session_block]
enabled = false

[rules.daily_realized_loss]
max_loss = 50

[rules.cooldown_after_loss]
enabled = false
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path, CONFIG)


async def start(processes: list[Headless], sim, home: Path) -> Headless:
    run = await Headless.start(headless_env(sim, home, API_KEY, USERNAME))
    processes.append(run)
    return run


async def test_sigkill_in_the_middle_of_a_flatten_the_next_start_completes_it(sim, home, processes):
    first = await start(processes, sim, home)
    await first.wait_line("guarding…")
    ok(sim.place_order(ACCOUNT, "MES", "buy", 1))
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: len(sim.pushes("user", "GatewayUserPosition")) >= 2, 3, "positions pushed")
    await asyncio.sleep(0.5)  # the guard has taken them in

    # The gateway is slow and then fails the closes: the flatten is under way when the kill comes.
    sim.delay_next("Position/closeContract", count=3, seconds=2.0)
    sim.fail_next("Position/closeContract", count=3, status=503)
    sim.set_price("MNQ", MNQ_PRICE - 30)
    ok(sim.close_position(ACCOUNT, "MNQ"))  # −$60.74: over the limit of 50 → flatten, lock
    sim.set_price("MNQ", MNQ_PRICE)
    await wait_for(lambda: sim.requests("Position/closeContract"), 5, "the flatten's close sent")
    await asyncio.sleep(0.3)
    first.proc.send_signal(signal.SIGKILL)
    assert await first.exit_code() == -signal.SIGKILL
    await wait_for(lambda: all(r.status for r in sim.requests("Position/closeContract")), 4,
                   "the close the dead process sent has failed")
    assert sim_size(sim, "MES") == 1  # really interrupted: still not flat
    with Store(home / "state.db") as store:
        assert [(e.account_id, e.action) for e in store.unfinished_enforcements()] == [(ACCOUNT, "flatten")]
        assert [lock.rule for lock in store.active_locks(ACCOUNT)] == ["daily_realized_loss"]

    sim.clear_faults()
    second = await start(processes, sim, home)
    await second.wait_line("guarding…")
    await wait_for(lambda: sim_flat(sim), 8, "the next start completed the flatten")
    await second.wait_line("completing an enforcement interrupted by a restart", timeout=5)
    await second.wait_line("[1001]", "is LOCKED", timeout=5)
    second.proc.send_signal(signal.SIGTERM)
    assert await second.exit_code() == 0
    with Store(home / "state.db") as store:
        assert store.unfinished_enforcements() == []
    assert API_KEY not in first.output + second.output


async def test_a_damaged_state_database_is_kept_as_a_backup_and_a_new_one_guards(sim, home, processes):
    junk = b"not a database: a shopping list\n" * 200
    (home / "state.db").write_bytes(junk)
    run = await start(processes, sim, home)
    await run.wait_line("guarding…")
    line = await run.wait_line("state database was damaged", "a backup was kept at")
    [backup] = list(home.glob("state.db.corrupt-*"))
    assert str(backup) in line and backup.read_bytes() == junk
    with sqlite3.connect(f"file:{home / 'state.db'}?mode=ro", uri=True) as conn:  # a real, fresh database
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION

    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # and it guards
    await asyncio.sleep(0.5)
    sim.set_price("MNQ", MNQ_PRICE - 30)
    ok(sim.close_position(ACCOUNT, "MNQ"))
    sim.set_price("MNQ", MNQ_PRICE)
    await run.wait_line("LOCKED", "daily_realized_loss", timeout=10)
    run.proc.send_signal(signal.SIGTERM)
    assert await run.exit_code() == 0
    assert list(home.glob("state.db.corrupt-*")) == [backup]


async def test_a_state_database_from_a_newer_deskguard_is_left_alone_on_every_start(sim, home, processes):
    db = home / "state.db"
    with Store(db) as store:
        store.audit(ACCOUNT, None, "info", "written by a newer DeskGuard, say")
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    before, mtime = db.read_bytes(), db.stat().st_mtime_ns

    for _ in range(2):  # the same answer every time: no crash loop that ends up discarding it
        run = await start(processes, sim, home)
        assert await run.exit_code(timeout=15) != 0
        assert "was written by a newer DeskGuard" in run.output
        assert f"schema {LATEST_VERSION + 1}" in run.output and "Traceback" not in run.output
        assert db.read_bytes() == before and db.stat().st_mtime_ns == mtime  # untouched
        assert list(home.glob("state.db.corrupt-*")) == []  # and not set aside as damaged
    assert sim.requests("Auth/loginKey") == []  # refused before signing in


async def test_a_config_broken_by_hand_at_start_names_file_line_and_key_and_stays_as_written(sim, home, processes):
    config = home / "config.toml"
    broken = CONFIG.replace("max_loss = 50", "max_loss = -50")
    config.write_text(broken)
    line_no = broken.splitlines().index("max_loss = -50") + 1
    run = await start(processes, sim, home)
    assert await run.exit_code() == 2
    assert f"{config}: line {line_no}: rules.daily_realized_loss.max_loss: must be a positive amount" in run.output
    assert config.read_text() == broken
    assert sim.requests("Auth/loginKey") == []
