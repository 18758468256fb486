"""Start at login: the XDG autostart entry for real (temp XDG_CONFIG_HOME), and the macOS and
Windows entries' contents (their writers need the OS itself)."""

from __future__ import annotations

import configparser
import plistlib
import shlex
import sys

import pytest

from deskguard import autostart


@pytest.fixture
def env(tmp_path):
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home")}


def read_entry(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG entry is the Linux one")
def test_enable_writes_the_xdg_autostart_entry_and_disable_removes_it(env, tmp_path):
    assert not autostart.is_enabled(env)
    where = autostart.enable(["/usr/bin/python3", "-m", "deskguard"], env)
    path = tmp_path / "config" / "autostart" / "deskguard.desktop"
    assert where == str(path) and path.exists() and autostart.is_enabled(env)
    entry = read_entry(path)
    assert entry["Type"] == "Application" and entry["Name"] == "DeskGuard"
    assert entry["Exec"] == "/usr/bin/python3 -m deskguard"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    autostart.enable(["/usr/bin/python3", "-m", "deskguard"], env)  # twice: still one entry
    assert [p.name for p in path.parent.iterdir()] == ["deskguard.desktop"]
    autostart.disable(env)
    assert not path.exists() and not autostart.is_enabled(env)
    autostart.disable(env)  # nothing to remove: fine


def test_exec_line_quotes_paths_with_spaces_and_specials():
    text = autostart.desktop_entry_text(["/home/a b/.venv/bin/python", "-m", "deskguard", "100%", 'say "$x"'])
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))[5:]
    assert exec_line == '"/home/a b/.venv/bin/python" -m deskguard 100%% "say \\"\\$x\\""'
    # A path with spaces reads back as one argument.
    simple = autostart.desktop_entry_text(["/home/a b/python", "-m", "deskguard"]).split("Exec=")[1].splitlines()[0]
    assert shlex.split(simple) == ["/home/a b/python", "-m", "deskguard"]


def test_xdg_path_falls_back_to_home_config_when_the_variable_is_unset_or_relative(tmp_path):
    home = str(tmp_path / "h")
    assert autostart.xdg_entry_path({"HOME": home}) == tmp_path / "h" / ".config" / "autostart" / "deskguard.desktop"
    assert autostart.xdg_entry_path({"HOME": home, "XDG_CONFIG_HOME": "relative/dir"}).parent.parent == tmp_path / "h" / ".config"


def test_macos_launch_agent(tmp_path):
    data = plistlib.loads(autostart.launch_agent_plist(["/Applications/DeskGuard.app/Contents/MacOS/DeskGuard"]))
    assert data == {"Label": "com.deskguard.app", "ProgramArguments": ["/Applications/DeskGuard.app/Contents/MacOS/DeskGuard"],
                    "RunAtLoad": True, "ProcessType": "Interactive"}
    path = autostart.mac_enable(["/x/DeskGuard"], {"HOME": str(tmp_path)})
    assert path == tmp_path / "Library" / "LaunchAgents" / "com.deskguard.app.plist"
    assert plistlib.loads(path.read_bytes())["ProgramArguments"] == ["/x/DeskGuard"]


def test_windows_run_value_is_one_quoted_command_line():
    assert (autostart.windows_command_line([r"C:\Program Files\DeskGuard\DeskGuard.exe"])
            == r'"C:\Program Files\DeskGuard\DeskGuard.exe"')
    assert (autostart.windows_command_line([r"C:\Python312\python.exe", "-m", "deskguard"])
            == r"C:\Python312\python.exe -m deskguard")


def test_the_launch_command_starts_this_deskguard():
    assert autostart.launch_command() == [sys.executable, "-m", "deskguard"]
