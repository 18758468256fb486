"""``deskguard --headless`` as real processes against an in-test simulator on 127.0.0.1: a guardian
killed with SIGKILL during a lock and started again over the same DESKGUARD_HOME, and the exit
codes for a broken config.toml and a refused API key."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio
from guardian_harness import ACCOUNT, MNQ_PRICE, ok, sim_flat, sim_realized, sim_size, wait_for

from deskguard.simulator import Simulator

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

USERNAME = "headless-tester"
API_KEY = "headless-API-key-0123456789"

CONFIG = """\
# written by the test: one account, a small daily loss limit, no session hours
[connection]
accounts = ["50KTC-V2-123456-1001"]
instruments = ["MNQ"]

[rules.session_block]
enabled = false

[rules.daily_realized_loss]
max_loss = 50

[rules.cooldown_after_loss]
enabled = false
"""


def deskguard_command() -> list[str]:
    script = Path(sys.executable).with_name("deskguard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "deskguard"]


def headless_env(sim: Simulator, home: Path, api_key: str = API_KEY, username: str = USERNAME) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PROJECT_X_", "PROJECTX_", "DESKGUARD_"))}
    env.update({
        "DESKGUARD_HOME": str(home),
        "PROJECTX_API_URL": sim.api_url,
        "PROJECTX_USER_HUB_URL": sim.user_hub_url,
        "PROJECTX_MARKET_HUB_URL": sim.market_hub_url,
        "PROJECT_X_USERNAME": username,
        "PROJECT_X_API_KEY": api_key,
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    return env


class Headless:
    """A ``deskguard --headless`` child process whose stdout+stderr lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, env: dict[str, str]) -> Headless:
        proc = await asyncio.create_subprocess_exec(
            *deskguard_command(), "--headless", env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_line(self, *parts: str, timeout: float = 20.0, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines[after:]:
                if all(p in line for p in parts):
                    return line
            if self.proc.returncode is not None or time.monotonic() > deadline:
                await asyncio.sleep(0.1)  # the last lines
                raise AssertionError(f"no line with {parts} (exit {self.proc.returncode}):\n{self.output}")
            await asyncio.sleep(0.05)

    async def exit_code(self, timeout: float = 20.0) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(self._reader, 5)
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        with contextlib.suppress(Exception):
            await self.exit_code(10)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    (path / "config.toml").write_text(CONFIG)
    return path


@pytest_asyncio.fixture
async def processes():
    started: list[Headless] = []
    yield started
    for p in started:
        await p.kill()


async def test_sigkill_during_a_lock_the_next_process_keeps_it_and_closes_new_positions(sim, home, processes):
    env = headless_env(sim, home)
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
    await second.wait_line("close_position", after=mark, timeout=5)
    assert sim_realized(sim) <= -50

    second.proc.send_signal(signal.SIGTERM)
    assert await second.exit_code() == 0
    assert API_KEY not in first.output + second.output


async def test_headless_exits_2_on_a_broken_config_naming_the_file_and_key(sim, home, processes):
    config = home / "config.toml"
    config.write_text(CONFIG.replace("max_loss = 50", "max_los = 50"))
    run = await Headless.start(headless_env(sim, home))
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
        run = await Headless.start(headless_env(guarded, home, api_key=wrong_key))
        processes.append(run)
        assert await run.exit_code() == 3
        assert len(guarded.requests("Auth/loginKey")) >= 1
    assert "sign-in failed" in run.output
    assert wrong_key not in run.output and right_key not in run.output
    logs = home / "logs"
    for file in logs.rglob("*") if logs.exists() else ():
        if file.is_file():
            assert wrong_key not in file.read_text(errors="replace")
