"""The systemd user unit for ``deskguard --headless`` (resources/deskguard.service): it runs the
headless guard, restarts it on failure, and never restarts it for an exit code a restart cannot
fix. Parsed here always; verified by ``systemd-analyze verify`` where systemd is installed."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging_paths import RESOURCES

from deskguard.exit_codes import ExitCode

UNIT = RESOURCES / "deskguard.service"

#: Exit codes a restart cannot fix: the config must be fixed, the key given, the other guard stopped.
NO_RESTART = {ExitCode.BAD_CONFIG, ExitCode.AUTH_FAILED, ExitCode.ALREADY_RUNNING}


def read_unit(path: Path = UNIT) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # unit keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def test_the_unit_runs_the_headless_guard_and_restarts_it_only_when_that_helps() -> None:
    unit = read_unit()
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    command = service["ExecStart"].split()
    assert Path(command[0]).name == "deskguard" and Path(command[0]).is_absolute() and command[1:] == ["--headless"]
    assert service["Restart"] == "on-failure"
    prevented = {int(code) for code in service["RestartPreventExitStatus"].split()}
    assert prevented == {int(c) for c in NO_RESTART}
    # Exit 1 (the gateway unreachable at start) and a crash are retried, for as long as it takes.
    assert int(ExitCode.FAILURE) not in prevented and int(ExitCode.OK) not in prevented
    assert float(service["RestartSec"]) > 0 and unit["Unit"]["StartLimitIntervalSec"] == "0"
    assert service["KillSignal"] == "SIGTERM"  # the clean stop of headless mode (exit 0)
    assert unit["Install"]["WantedBy"] == "default.target"  # a user unit: starts with the session


def test_the_readme_documents_the_unit() -> None:
    readme = (RESOURCES.parent / "README.md").read_text(encoding="utf-8")
    assert "resources/deskguard.service" in readme and "systemctl --user enable --now deskguard" in readme


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this environment's deskguard.
    program = Path(sys.executable).with_name("deskguard")
    if not program.exists():
        pytest.skip("no deskguard script next to this Python to stand for /usr/bin/deskguard")
    text = UNIT.read_text(encoding="utf-8").replace("ExecStart=/usr/bin/deskguard", f"ExecStart={program}")
    target = tmp_path / "deskguard.service"
    target.write_text(text, encoding="utf-8")
    # System mode: the user manager needs a running session (XDG_RUNTIME_DIR), which CI lacks; the
    # unit's syntax and keys are checked the same way.
    done = subprocess.run(["systemd-analyze", "verify", str(target)], capture_output=True, text=True, timeout=60)
    # systemd-analyze exits 0 even for an unknown key or a bad value ("…, ignoring"): any word is a finding.
    findings = [line for line in (done.stdout + done.stderr).splitlines() if str(target) in line or "ignoring" in line]
    assert done.returncode == 0 and not findings, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_would_catch_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt value is reported."""
    program = Path(sys.executable).with_name("deskguard")
    if not program.exists():
        pytest.skip("no deskguard script next to this Python")
    text = UNIT.read_text(encoding="utf-8").replace("ExecStart=/usr/bin/deskguard", f"ExecStart={program}")
    target = tmp_path / "deskguard.service"
    target.write_text(text.replace("Restart=on-failure", "Restart=sometimes"), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(target)], capture_output=True, text=True, timeout=60)
    assert "sometimes" in done.stdout + done.stderr
