"""``deskguard --headless`` as real processes against an in-test simulator on 127.0.0.1: a guardian
killed with SIGKILL during a lock and started again over the same DESKGUARD_HOME, and the exit
codes for a broken config.toml and a refused API key."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from guardian_harness import ACCOUNT, MNQ_PRICE, ok, sim_flat, sim_realized, sim_size, wait_for
from headless_harness import ONE_ACCOUNT_LOSS_50, Headless, headless_env, make_home

from deskguard.simulator import Simulator

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

USERNAME = "headless-tester"
API_KEY = "headless-API-key-0123456789"

CONFIG = ONE_ACCOUNT_LOSS_50


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path, CONFIG)


async def test_sigkill_during_a_lock_the_next_process_keeps_it_and_closes_new_positions(sim, home, processes):
    env = headless_env(sim, home, API_KEY, USERNAME)
    first = await Headless.start(env)
    processes.append(first)
    await first.wait_line("guarding…")

    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await first.wait_line("[1001]", "OK", timeout=10)
    sim.set_price("MNQ", MNQ_PRICE - 30)  # −$60.74 once closed: over the limit of 50
    ok(sim.close_position(ACCOUNT, "MNQ"))
    await first.wait_line("LOCKED", "daily_realized_loss", timeout=10)
    sim.set_price("MNQ", MNQ_PRICE)
    assert sim_flat(sim)

    first.proc.send_signal(signal.SIGKILL)
    assert await first.exit_code() == -signal.SIGKILL

    second = await Headless.start(env)
    processes.append(second)
    await second.wait_line("guarding…")
    await second.wait_line("[1001]", "is LOCKED", timeout=10)  # the lock survived the kill
    mark = len(second.lines)
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 2))  # from the web screen, while locked
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 8, "the new process closes the new position")
    await second.wait_line("Closed MNQ", after=mark, timeout=5)
    assert sim_realized(sim) <= -50

    second.proc.send_signal(signal.SIGTERM)
    assert await second.exit_code() == 0
    assert API_KEY not in first.output + second.output


async def test_headless_exits_2_on_a_broken_config_naming_the_file_and_key(sim, home, processes):
    config = home / "config.toml"
    config.write_text(CONFIG.replace("max_loss = 50", "max_los = 50"))
    run = await Headless.start(headless_env(sim, home, API_KEY, USERNAME))
    processes.append(run)
    assert await run.exit_code() == 2
    assert str(config) in run.output
    assert "max_los" in run.output
    assert API_KEY not in run.output
    assert sim.requests("Auth/loginKey") == []  # it never got as far as signing in


async def test_headless_exits_3_on_a_refused_api_key_without_printing_it(home, processes):
    right_key = "the-right-API-key-0123456789"
    wrong_key = "a-WRONG-api-key-9876543210"
    async with Simulator(seed=1, walk_paused=True, credentials=(USERNAME, right_key)) as guarded:
        run = await Headless.start(headless_env(guarded, home, wrong_key, USERNAME))
        processes.append(run)
        assert await run.exit_code() == 3
        assert len(guarded.requests("Auth/loginKey")) >= 1
    assert "sign-in failed" in run.output
    assert wrong_key not in run.output and right_key not in run.output
    logs = home / "logs"
    for file in logs.rglob("*") if logs.exists() else ():
        if file.is_file():
            assert wrong_key not in file.read_text(errors="replace")
