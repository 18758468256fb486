"""One guard per DESKGUARD_HOME, as real processes: a second ``deskguard --headless`` (or window) on a
home already guarded exits with 4 naming the first's pid, without signing in, and the first keeps
guarding; after the first is SIGKILLed, its lock file left behind does not stop the next start."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
import pytest_asyncio
from guardian_harness import ACCOUNT, MNQ_PRICE, ok, requests_count, sim_flat, started_simulator
from headless_harness import ONE_ACCOUNT_LOSS_50, Headless, deskguard_command, headless_env, make_home

from deskguard.exit_codes import ExitCode
from deskguard.instance import lock_path, read_holder

pytestmark = [pytest.mark.integration, pytest.mark.asyncio,
              pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

USERNAME = "single-instance-tester"
API_KEY = "single-instance-API-key-0123456789"

CONFIG = ONE_ACCOUNT_LOSS_50


@pytest_asyncio.fixture
async def sim():
    async with started_simulator(seed=11) as simulator:
        yield simulator


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path, CONFIG)


async def window_exit_code(env: dict[str, str]) -> tuple[int, str]:
    """Plain ``deskguard`` (the desktop app) on ``env``'s home, offscreen: its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        *deskguard_command(), env={**env, "QT_QPA_PLATFORM": "offscreen"}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, out.decode(errors="replace")


async def test_a_second_guard_on_a_guarded_home_exits_4_and_a_killed_ones_lock_never_blocks(sim, home, processes):
    env = headless_env(sim, home, API_KEY, USERNAME)
    first = await Headless.start(env)
    processes.append(first)
    await first.wait_line("guarding…")
    logins = requests_count(sim, "Auth/loginKey")

    second = await Headless.start(env)
    processes.append(second)
    assert await second.exit_code(timeout=10) == ExitCode.ALREADY_RUNNING
    assert f"pid {first.proc.pid} (headless" in second.output
    assert str(home) in second.output
    assert "guarding…" not in second.output and "signing in" not in second.output

    code, out = await window_exit_code(env)  # the window is refused the same way, before any Qt
    assert code == ExitCode.ALREADY_RUNNING, out
    assert f"pid {first.proc.pid} (headless" in out
    assert requests_count(sim, "Auth/loginKey") == logins  # neither signed in

    # The first is untouched, and still guarding: a loss over the limit locks the account.
    assert first.proc.returncode is None
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await asyncio.sleep(0.5)
    sim.set_price("MNQ", MNQ_PRICE - 30)  # −$60.74 once closed: over the limit of 50
    ok(sim.close_position(ACCOUNT, "MNQ"))
    await first.wait_line("LOCKED", "daily_realized_loss", timeout=10)
    sim.set_price("MNQ", MNQ_PRICE)
    assert sim_flat(sim)

    # SIGKILL: no clean-up ran, the lock file still names the dead process; the kernel let go.
    first.proc.send_signal(signal.SIGKILL)
    assert await first.exit_code() == -signal.SIGKILL
    assert read_holder(lock_path(home)).pid == first.proc.pid

    third = await Headless.start(env)
    processes.append(third)
    await third.wait_line("guarding…")
    await third.wait_line("[1001]", "is LOCKED", timeout=10)
    assert read_holder(lock_path(home)).pid == third.proc.pid
    third.proc.send_signal(signal.SIGTERM)
    assert await third.exit_code() == ExitCode.OK
