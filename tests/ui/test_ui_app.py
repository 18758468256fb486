"""The whole app in a process of its own: window first, then the guardian; a clean stop on quit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ui

RUNNER = Path(__file__).with_name("ui_app_runner.py")


def run(tmp_path: Path, mode: str) -> tuple[int, list[str]]:
    proc = subprocess.run([sys.executable, str(RUNNER), str(tmp_path), mode], capture_output=True, text=True, timeout=60)
    events = (tmp_path / "events.txt").read_text().splitlines() if (tmp_path / "events.txt").exists() else []
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, events


def test_window_paints_before_the_guardian_starts_and_quit_stops_it(tmp_path):
    code, events = run(tmp_path, "ok")
    assert code == 0, events
    assert events == [
        "factory window_visible=True first_paint=True",
        "start observers=1",  # the view-model observes before the first snapshot
        "banner=False",
        "stop",
        "cleanup",
        "exit 0",
    ]
    png = (tmp_path / "window.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_refused_credentials_are_shown_and_exit_with_code_3(tmp_path):
    code, events = run(tmp_path, "auth")
    assert code == 3
    assert events[-1] == "auth banner: The gateway refused the credentials: invalid API key"
