"""The single-instance lock (deskguard.instance) without a gateway: held by another process (or
another claim in this one), released by the kernel when its holder dies, a stale lock file ignored;
the window's claim is the same lock as --headless's; commands that guard nothing never take it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from deskguard import instance
from deskguard.exit_codes import ExitCode
from deskguard.instance import AlreadyGuarded, claim, claim_guard_home, guard_home, lock_path, read_holder

POSIX = os.name == "posix"

HOLDER = """\
import sys
from pathlib import Path
from deskguard.instance import claim
lock = claim(Path(sys.argv[1]), sys.argv[2])
print("held", flush=True)
sys.stdin.read()  # until the test closes stdin (or kills this process)
"""


class HeldElsewhere:
    """Another process holding ``home``'s lock until :meth:`stop` (or :meth:`kill`)."""

    def __init__(self, home: Path, mode: str = "headless") -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), mode], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdin.close()
        self.proc.stdout.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("DESKGUARD_HOME", str(path))
    return path


@pytest.fixture
def held():
    holders: list[HeldElsewhere] = []

    def start(home: Path, mode: str = "headless") -> HeldElsewhere:
        holders.append(HeldElsewhere(home, mode))
        return holders[-1]

    yield start
    for h in holders:
        if h.proc.poll() is None:
            h.kill()
        for pipe in (h.proc.stdin, h.proc.stdout):
            pipe.close()  # closed pipes are never left to the garbage collector (ResourceWarning)


def test_a_lock_held_by_another_process_refuses_naming_its_pid_until_released(home, held):
    other = held(home, "headless")
    with pytest.raises(AlreadyGuarded) as refused:
        claim(home, "window")
    assert refused.value.holder.pid == other.pid and refused.value.holder.mode == "headless"
    assert f"pid {other.pid} (headless, started " in str(refused.value)
    assert str(home) in str(refused.value)
    assert other.proc.poll() is None  # refusing touched nothing of the holder's

    other.stop()
    with claim(home, "window") as lock:
        assert lock.locked and read_holder(lock.path).pid == os.getpid()
        assert read_holder(lock.path).mode == "window"


def test_a_second_claim_in_the_same_process_is_refused_too(home):
    first = claim(home, "headless")
    try:
        with pytest.raises(AlreadyGuarded) as refused:
            claim(home, "headless")
        assert refused.value.holder.pid == os.getpid()
    finally:
        first.release()
    claim(home, "headless").release()  # released: free again


@pytest.mark.skipif(not POSIX, reason="SIGKILL")
def test_the_lock_of_a_killed_process_is_gone_with_it(home, held):
    other = held(home)
    os.kill(other.pid, signal.SIGKILL)
    other.proc.wait(10)
    assert read_holder(lock_path(home)).pid == other.pid  # its record is still there: stale
    with claim(home, "headless") as lock:
        assert lock.locked and read_holder(lock.path).pid == os.getpid()


@pytest.mark.parametrize("stale", [
    json.dumps({"pid": 1, "mode": "headless", "started": "2020-01-01T00:00:00+00:00"}).encode() + b" " * 2000,
    b"\x00\xffnot a record at all" * 100,
    b"",
])
def test_a_stale_lock_file_never_blocks_and_is_overwritten(home, stale):
    home.mkdir()
    lock_path(home).write_bytes(stale)
    with claim(home, "headless") as lock:
        assert lock.locked
        record = json.loads(lock.path.read_bytes())
        assert record["pid"] == os.getpid() and record["mode"] == "headless" and record["home"] == str(home)


def test_a_holder_whose_record_is_unreadable_is_still_refused_pid_unknown(home, monkeypatch):
    monkeypatch.setattr(instance, "RECORD_WAIT_S", 0.1)
    first = claim(home, "headless")
    try:
        lock_path(home).write_bytes(b"garbage")
        with pytest.raises(AlreadyGuarded, match="pid unknown"):
            claim(home, "headless")
    finally:
        first.release()


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_a_new_home_and_its_lock_file_are_private(home):
    old = os.umask(0)  # what the user's umask would let through: nothing is left to it
    try:
        with claim(home, "headless") as lock:
            assert home.stat().st_mode & 0o777 == 0o700
            assert lock.path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_the_lock_sits_next_to_state_db_for_real_and_demo_guards(home):
    from deskguard.config import state_db_path
    from deskguard.runtime import demo_home

    assert lock_path(guard_home(demo=False)) == state_db_path().parent / "deskguard.lock" == home / "deskguard.lock"
    assert guard_home(demo=True) == demo_home() == home / "demo"
    with claim_guard_home(demo=True, mode="headless"):
        claim_guard_home(demo=False, mode="headless").release()  # the demo's home is another home


def test_the_window_claims_the_same_lock_as_headless(home, held, monkeypatch, capsys):
    from deskguard.ui import app

    with app.claim_app_home(SimpleNamespace(demo=False)) as lock:
        assert read_holder(lock.path).mode == "window"
        with pytest.raises(AlreadyGuarded, match=r"\(window, started "):
            claim_guard_home(demo=False, mode="headless")

    # run_app refuses before building anything (no Qt, no log), tells the user, and exits 4.
    def no_window(*args, **kwargs):
        raise AssertionError("the window must not be built")

    told: list[Exception] = []
    monkeypatch.setattr(app, "DesktopApp", no_window)
    monkeypatch.setattr(app, "setup_logging", no_window, raising=False)
    monkeypatch.setattr(app, "tell_already_running", told.append)
    other = held(home, "headless")
    assert app.run_app(SimpleNamespace(demo=False, smoke=False)) == ExitCode.ALREADY_RUNNING
    assert f"pid {other.pid} (headless" in capsys.readouterr().err
    assert len(told) == 1 and told[0].holder.pid == other.pid

    demo = held(guard_home(demo=True), "window, demo")
    assert app.run_app(SimpleNamespace(demo=True, smoke=False)) == ExitCode.ALREADY_RUNNING
    assert f"pid {demo.pid} (window, demo" in capsys.readouterr().err


def test_headless_refuses_before_logging(home, held, monkeypatch, capsys):
    from deskguard import headless

    def no_logging(*args, **kwargs):
        raise AssertionError("nothing may start")

    monkeypatch.setattr(headless, "setup_logging", no_logging)
    other = held(home, "window")
    assert headless.run_headless() == ExitCode.ALREADY_RUNNING
    assert f"pid {other.pid} (window" in capsys.readouterr().err
    assert not (home / "logs").exists() and not (home / "state.db").exists()


def test_commands_that_guard_nothing_never_take_the_lock(home, tmp_path):
    from headless_harness import deskguard_command

    env = {**os.environ, "DESKGUARD_HOME": str(home)}
    with claim(home, "headless"):
        version = subprocess.run([*deskguard_command(), "--version"], env=env, capture_output=True, text=True, timeout=30)
        assert version.returncode == 0 and "deskguard" in version.stdout
        config = tmp_path / "config.toml"
        config.write_text("[rules.session_block]\nenabled = false\n")
        check = subprocess.run([*deskguard_command(), "check-config", str(config)], env=env, capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == ExitCode.OK, check.stdout + check.stderr
        sim = subprocess.Popen([*deskguard_command(), "simulator", "--port", "0"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 20
            seen = []
            while not any("ProjectX simulator on http://127.0.0.1:" in line for line in seen):
                assert sim.poll() is None and time.monotonic() < deadline, "".join(seen)
                seen.append(sim.stdout.readline())
        finally:
            sim.terminate()
            sim.wait(10)
            sim.stdout.close()


def test_help_lists_every_exit_code():
    from deskguard.cli import build_parser

    text = build_parser().format_help()
    for code in ExitCode:
        assert f"\n  {code.value}  " in text, code
    assert [c.value for c in ExitCode] == [0, 1, 2, 3, 4]


def test_a_very_long_home_still_records_the_pid(tmp_path, monkeypatch):
    home = tmp_path.joinpath(*["h" * 100] * 6)
    with claim(home, "headless") as lock:
        holder = read_holder(lock.path)
        assert holder is not None and holder.pid == os.getpid() and holder.mode == "headless"
