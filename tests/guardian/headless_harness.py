"""``deskguard --headless`` as a child process for the end-to-end tests: its command, its
environment pointed at a simulator on 127.0.0.1, and a reader of its output lines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest_asyncio

#: One account, a small daily loss limit, no session hours (the headless process tests' config.toml).
ONE_ACCOUNT_LOSS_50 = """\
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


def headless_env(sim: Any, home: Path, api_key: str, username: str) -> dict[str, str]:
    """The environment of a headless guard whose home is ``home``, pointed at ``sim`` (anything with
    api_url, user_hub_url and market_hub_url), signing in as ``username`` with ``api_key``."""
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
    async def start(cls, env: dict[str, str], umask: int | None = None) -> Headless:
        """Start ``deskguard --headless``; ``umask`` (POSIX) runs it under that file-creation mask."""
        extra: dict[str, Any] = {}
        if umask is not None:
            extra["preexec_fn"] = lambda: os.umask(umask)
        proc = await asyncio.create_subprocess_exec(
            *deskguard_command(), "--headless", env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, **extra,
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


def make_home(tmp_path: Path, config: str) -> Path:
    """A DESKGUARD_HOME holding ``config`` as its config.toml."""
    path = tmp_path / "home"
    path.mkdir()
    (path / "config.toml").write_text(config)
    return path


@pytest_asyncio.fixture
async def processes():
    """Headless guards a test starts; every one is killed at teardown."""
    started: list[Headless] = []
    yield started
    for p in started:
        await p.kill()
