"""The API key in no output and no file, files user-only, everything listening on 127.0.0.1, and
nothing in the code base that could execute a config value.

The session test runs real processes: the simulator (``python -m deskguard.simulator``, requiring a
distinctive API key it reads from its environment) and ``deskguard --headless`` under umask 000 (so
only the app's own care makes its files private). The session has a lock, an enforcement whose
first closes fail, a reconnect and a token revoked mid-session (so the key is sent again to sign in
anew). Then every byte the two processes wrote to stdout and stderr, and every file under
DESKGUARD_HOME — taken while the guard runs (the SQLite WAL exists then) and after it stopped — is
searched for the key.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace

import pytest
from guardian_harness import wait_for
from headless_harness import Headless, headless_env

from deskguard.broker.base import BrokerError
from deskguard.broker.projectx import ProjectXBroker
from deskguard.config import loads_config, save_config
from deskguard.simulator import Simulator, SimulatorControl
from deskguard.store import Store

API_KEY = "RELIABILITY-key-6f1d93c2e7a4-DO-NOT-LEAK"
USERNAME = "secrets-tester"
POSIX = os.name == "posix"
LINUX = sys.platform.startswith("linux")
DESKGUARD_PACKAGE = Path(__file__).resolve().parents[2] / "deskguard"

CONFIG = """\
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


class SimulatorProcess:
    """``python -m deskguard.simulator`` with required credentials taken from its environment."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.output: list[str] = []
        self.base_url = ""
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls) -> SimulatorProcess:
        env = {**os.environ, "DESKGUARD_SIMULATOR_USERNAME": USERNAME, "DESKGUARD_SIMULATOR_API_KEY": API_KEY,
               "PYTHONUNBUFFERED": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deskguard.simulator", "--port", "0", "--seed", "4", "--walk-paused",
            "--idle-quotes", "1", "--credentials-from-env", env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        sim = cls(proc)
        await wait_for(lambda: sim.base_url or sim.proc.returncode is not None, 15, "the simulator listening")
        assert sim.base_url, "\n".join(sim.output)
        return sim

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            text = line.decode(errors="replace")
            self.output.append(text)
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
            if found and not self.base_url:
                self.base_url = found.group(1)

    @property
    def urls(self) -> SimpleNamespace:
        return SimpleNamespace(api_url=f"{self.base_url}/api", user_hub_url=f"{self.base_url}/hubs/user",
                               market_hub_url=f"{self.base_url}/hubs/market")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)


def files_under(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with contextlib.suppress(FileNotFoundError):  # SQLite's side files come and go
                out[str(path.relative_to(root))] = path.read_bytes()
    return out


def listening_addresses(pid: int) -> list[str]:
    """The addresses a process's TCP sockets listen on (Linux: /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        with contextlib.suppress(FileNotFoundError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A: LISTEN
                    continue
                address = bytes.fromhex(local.split(":")[0])
                raw = b"".join(address[i:i + 4][::-1] for i in range(0, len(address), 4))
                found.append(socket.inet_ntop(family, raw))
    return found


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.integration
@pytest.mark.asyncio
@pytest.mark.skipif(not POSIX, reason="POSIX processes, signals and file modes")
async def test_a_full_headless_session_leaks_the_key_nowhere_and_keeps_its_files_private(tmp_path):
    home = tmp_path / "home"
    save_config(loads_config(CONFIG), home / "config.toml")  # the app's own writer, as the desktop app saves
    sim = await SimulatorProcess.start()
    control = SimulatorControl(sim.base_url)

    async def act(method: str, *args, **kwargs):
        return await asyncio.to_thread(getattr(control, method), *args, **kwargs)

    guard = await Headless.start(headless_env(sim.urls, home, API_KEY, USERNAME), umask=0)
    try:
        await guard.wait_line("guarding…")
        if LINUX:
            assert listening_addresses(guard.proc.pid) == []  # the guard listens on nothing
            assert set(listening_addresses(sim.proc.pid)) == {"127.0.0.1"}

        # An enforcement whose first closes fail, and the lock.
        await act("set_price", "MNQ", 20_000.0)
        await act("set_price", "MES", 6_000.0)
        await act("place_order", 1001, "MES", "buy", 1)
        await act("place_order", 1001, "MNQ", "buy", 1)
        await asyncio.sleep(0.5)
        await act("fail_next", "Position/closeContract", 2, 500)
        await act("set_price", "MNQ", 19_970.0)
        await act("close_position", 1001, "MNQ")  # −$60.74: over the limit of 50
        await guard.wait_line("LOCKED", "daily_realized_loss", timeout=10)
        await wait_for(lambda: not [p for p in control.state()["positions"] if p["size"]], 8, "flat")

        # A reconnect, then the session token revoked: the guard signs in again (sending the key).
        await act("drop_hub_connections", refuse_s=1.0)
        await guard.wait_line("guarding again", timeout=15)
        logins = len(await act("requests", "Auth/loginKey"))
        await act("expire_tokens")
        await act("place_order", 1001, "MNQ", "buy", 2)  # while locked: closed on sight, after a re-login
        await wait_for(lambda: not [p for p in control.state()["positions"] if p["size"]], 10, "closed on sight")
        assert len(await act("requests", "Auth/loginKey")) > logins

        during = files_under(home)
        assert "state.db-wal" in during  # the WAL, searched while it exists
        for name in ("config.toml", "state.db", "state.db-wal", "state.db-shm", "logs/deskguard.log"):
            if (home / name).exists():
                assert mode(home / name) == 0o600, name
        assert mode(home) == 0o700 and mode(home / "logs") == 0o700

        guard.proc.send_signal(signal.SIGTERM)
        assert await guard.exit_code() == 0
    finally:
        await guard.kill()
        await sim.stop()

    key = API_KEY.encode()
    outputs = {"deskguard --headless (stdout+stderr)": guard.output, "simulator (stdout+stderr)": "".join(sim.output)}
    assert "guarding…" in guard.output and "LOCKED" in guard.output
    for name, text in outputs.items():
        assert key not in text.encode(), f"the API key is in the output of {name}"
    after = files_under(home)
    assert {"config.toml", "state.db", "logs/deskguard.log"} <= set(after)
    for name, data in {**{f"{k} (while running)": v for k, v in during.items()}, **after}.items():
        assert key not in data, f"the API key is in {name}"
    assert mode(home / "state.db") == 0o600 and mode(home / "logs" / "deskguard.log") == 0o600
    assert mode(home / "config.toml") == 0o600

    with Store(home / "state.db") as store:  # the audit log saw the failures, in words, without the key
        rows = store.audit_entries()
        assert any(r.broker_call == "Position/closeContract" and r.result == "failed" for r in rows)
        assert all(API_KEY not in f"{r.detail} {r.decision}" for r in rows)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_broker_errors_never_carry_the_key():
    wrong_key = "WRONG-key-0a9f33e1-DO-NOT-LEAK"
    texts: list[str] = []

    def keep(exc: BaseException) -> None:
        texts.append("".join(traceback.format_exception(exc)))
        chain: BaseException | None = exc
        while chain is not None:  # suppressed contexts too: they stay attached to the exception
            texts.append(f"{chain!s} {chain!r}")
            chain = chain.__cause__ or chain.__context__

    async with Simulator(seed=2, walk_paused=True, credentials=(USERNAME, API_KEY)) as sim:
        urls = {"api_url": sim.api_url, "user_hub_url": sim.user_hub_url, "market_hub_url": sim.market_hub_url}
        refused = ProjectXBroker(USERNAME, wrong_key, **urls)
        with pytest.raises(BrokerError) as info:
            await refused.connect()
        keep(info.value)
        await refused.stop()

        broker = ProjectXBroker(USERNAME, API_KEY, request_timeout=0.5, **urls)
        try:
            await broker.connect()
            mnq = sim.contract("MNQ").id
            sim.place_order(1001, "MNQ", "buy", 1)
            for fault in ("fail", "slow", "refused", "revoked"):
                if fault == "fail":
                    sim.fail_next("Position/closeContract", 1, 500)
                elif fault == "slow":
                    sim.delay_next("Position/closeContract", 1, 1.5)
                elif fault == "revoked":
                    sim.expire_tokens()  # 401 on a close: the broker signs in again (sending the key)
                with pytest.raises(BrokerError) as info:
                    await broker.close_position(1001, "CON.F.US.NOPE.Z26" if fault == "refused" else mnq)
                keep(info.value)
                sim.clear_faults()
        finally:
            await broker.stop()
    unreachable = ProjectXBroker(USERNAME, API_KEY, api_url=f"http://127.0.0.1:{_free_port()}/api", request_timeout=1.0)
    with pytest.raises(BrokerError) as info:
        await unreachable.connect()
    keep(info.value)
    await unreachable.stop()

    assert len(texts) >= 12
    for text in texts:
        assert API_KEY not in text and wrong_key not in text, text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----- the code base ---------------------------------------------------------------------------------

SERVER_CALLS = {"TCPSite", "start_server", "create_server", "run_app", "bind", "serve_forever", "HTTPServer"}
LOOPBACK_NAMES = {"LOOPBACK", "host"}  # the simulator's constant, and its checked ``host`` parameter


def test_nothing_in_the_code_base_listens_beyond_loopback_or_executes_text():
    problems = []
    for path in sorted(DESKGUARD_PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(DESKGUARD_PACKAGE.parent)
        if "0.0.0.0" in text:
            problems.append(f"{where}: mentions 0.0.0.0")
        for node in ast.walk(ast.parse(text, str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in {"eval", "exec", "compile", "__import__"}:
                problems.append(f"{where}:{node.lineno}: calls {func.id}()")
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in SERVER_CALLS:
                hosts = [*node.args[1:2], *(k.value for k in node.keywords if k.arg in ("host", "address"))]
                for host in hosts:
                    loopback = (isinstance(host, ast.Constant) and host.value in ("127.0.0.1", "localhost")) or (
                        isinstance(host, ast.Name) and host.id in LOOPBACK_NAMES)
                    if not loopback:
                        problems.append(f"{where}:{node.lineno}: {name}() on {ast.unparse(host)}")
    assert problems == []


@pytest.mark.asyncio
async def test_the_simulator_refuses_every_address_but_loopback():
    for host in ("0.0.0.0", "::", "", "192.168.1.10", "::1"):
        with pytest.raises(ValueError, match="127.0.0.1"):
            await Simulator().start(host=host)
