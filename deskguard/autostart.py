"""Start DeskGuard when the user logs in: one small, separate function set per OS.

- Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart/deskguard.desktop`` (XDG Autostart
  specification; ``~/.config`` when the variable is unset).
- Windows: a ``DeskGuard`` value under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``
  (what the Startup folder's shortcut would do, without needing a COM call to make a ``.lnk``).
- macOS: ``~/Library/LaunchAgents/com.deskguard.app.plist`` with ``RunAtLoad``.

The command started is the running DeskGuard: the frozen executable, or ``python -m deskguard``.
Nothing here needs Qt, so the settings dialog and the tests use it alike.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

APP_ID = "deskguard"
DESKTOP_FILE = "deskguard.desktop"
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
WINDOWS_VALUE = "DeskGuard"
MAC_LABEL = "com.deskguard.app"


def launch_command() -> list[str]:
    """How to start this DeskGuard again: the frozen app itself, else this Python with ``-m``."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "deskguard"]


def is_enabled(env: Mapping[str, str] | None = None) -> bool:
    if sys.platform.startswith("win"):
        return windows_is_enabled()
    if sys.platform == "darwin":
        return mac_plist_path(env).exists()
    return xdg_entry_path(env).exists()


def enable(command: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> str:
    """Create the autostart entry; returns where it lives (a path, or the registry value)."""
    command = list(command or launch_command())
    if sys.platform.startswith("win"):
        return windows_enable(command)
    if sys.platform == "darwin":
        return str(mac_enable(command, env))
    return str(xdg_enable(command, env))


def disable(env: Mapping[str, str] | None = None) -> None:
    """Remove the autostart entry (nothing happens when there is none)."""
    if sys.platform.startswith("win"):
        windows_disable()
    elif sys.platform == "darwin":
        mac_plist_path(env).unlink(missing_ok=True)
    else:
        xdg_entry_path(env).unlink(missing_ok=True)


def set_enabled(on: bool, command: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    if on:
        enable(command, env)
    else:
        disable(env)


@dataclass(frozen=True, slots=True)
class StartCheck:
    """Whether DeskGuard will start at the next login, and why, in one sentence."""

    will_start: bool
    text: str


def check(env: Mapping[str, str] | None = None) -> StartCheck:
    """Look at what the OS will run at the next login: the entry there, whether the OS would
    honour it, and whether the program it names still exists (a moved or removed install)."""
    try:
        if sys.platform.startswith("win"):
            return _windows_check()
        if sys.platform == "darwin":
            return _mac_check(env)
        return _xdg_check(env)
    except Exception as exc:  # a platform quirk is an answer too, never a crash of the settings
        return StartCheck(False, f"Could not check the start-at-login entry: {type(exc).__name__}: {exc}")


def _program_problem(command: Sequence[str], env: Mapping[str, str] | None) -> str | None:
    if not command:
        return "it names no program"
    program = command[0]
    if os.path.isabs(program):
        found = os.path.isfile(program) and os.access(program, os.X_OK)
    else:
        found = shutil.which(program, path=(env or os.environ).get("PATH")) is not None
    return None if found else f"the program it starts is missing ({program})"


def _verdict(where: str, command: Sequence[str], env: Mapping[str, str] | None) -> StartCheck:
    problem = _program_problem(command, env)
    if problem:
        return StartCheck(False, f"No: the entry {where} is there, but {problem}. Turn Start at login off and on "
                                 "again to point it at this DeskGuard.")
    return StartCheck(True, f"Yes: DeskGuard will start at the next login ({where} runs {shlex.join(command)}).")


def _xdg_check(env: Mapping[str, str] | None) -> StartCheck:
    path = xdg_entry_path(env)
    if not path.exists():
        return StartCheck(False, f"No: there is no autostart entry ({path}). Tick Start at login and save.")
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # desktop entry keys are case-sensitive
    parser.read(path, encoding="utf-8")
    if "Desktop Entry" not in parser:
        return StartCheck(False, f"No: {path} is not a desktop entry.")
    entry = parser["Desktop Entry"]
    if entry.get("Hidden", "false").strip().lower() == "true":
        return StartCheck(False, f"No: {path} is marked Hidden=true, which turns it off.")
    if entry.get("X-GNOME-Autostart-enabled", "true").strip().lower() == "false":
        return StartCheck(False, f"No: {path} is switched off (X-GNOME-Autostart-enabled=false).")
    exec_line = entry.get("Exec", "").replace("%%", "%")
    try:
        command = shlex.split(exec_line)
    except ValueError:
        return StartCheck(False, f"No: the Exec line of {path} cannot be read.")
    return _verdict(f"at {path}", command, env)


def _mac_check(env: Mapping[str, str] | None) -> StartCheck:
    path = mac_plist_path(env)
    if not path.exists():
        return StartCheck(False, f"No: there is no login item ({path}). Tick Start at login and save.")
    data = plistlib.loads(path.read_bytes())
    if not data.get("RunAtLoad"):
        return StartCheck(False, f"No: {path} does not run at load (RunAtLoad is off).")
    if data.get("Disabled"):
        return StartCheck(False, f"No: {path} is disabled.")
    return _verdict(f"at {path}", list(data.get("ProgramArguments") or []), env)


def _windows_check() -> StartCheck:
    if sys.platform != "win32":
        raise OSError("the registry is on Windows only")
    import winreg

    where = f"HKCU\\{WINDOWS_RUN_KEY}\\{WINDOWS_VALUE}"
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
            value, _ = winreg.QueryValueEx(key, WINDOWS_VALUE)
    except OSError:
        return StartCheck(False, f"No: there is no {where} value. Tick Start at login and save.")
    command = shlex.split(str(value), posix=False)
    return _verdict(where, [command[0].strip('"')] + command[1:] if command else [], None)


# --- Linux / XDG -----------------------------------------------------------------------------------


def xdg_entry_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "").strip()
    # The spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "autostart" / DESKTOP_FILE


def _desktop_exec_arg(arg: str) -> str:
    # Desktop Entry spec, "The Exec key": quote an argument holding reserved characters, escaping
    # ", `, $ and \ inside the quotes; a literal % is always written %%.
    arg = arg.replace("%", "%%")
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    if not arg or any(c in reserved for c in arg):
        escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        return f'"{escaped}"'
    return arg


def desktop_entry_text(command: Sequence[str]) -> str:
    exec_line = " ".join(_desktop_exec_arg(a) for a in command)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=DeskGuard\n"
        "Comment=Enforces your trading rules on TopstepX accounts\n"
        f"Exec={exec_line}\n"
        "Icon=deskguard\n"
        "Terminal=false\n"
        "Categories=Office;Finance;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def xdg_enable(command: Sequence[str], env: Mapping[str, str] | None = None) -> Path:
    path = xdg_entry_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(desktop_entry_text(command), encoding="utf-8")
    os.replace(tmp, path)
    return path


# --- Windows ---------------------------------------------------------------------------------------


def windows_command_line(command: Sequence[str]) -> str:
    """The Run value: one command line, quoted the way Windows programs parse it."""
    return subprocess.list2cmdline(list(command))


def windows_is_enabled() -> bool:
    if sys.platform != "win32":  # callers check; this also has mypy read winreg as on Windows
        raise OSError("the registry is on Windows only")
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
            winreg.QueryValueEx(key, WINDOWS_VALUE)
            return True
    except OSError:
        return False


def windows_enable(command: Sequence[str]) -> str:
    if sys.platform != "win32":
        raise OSError("the registry is on Windows only")
    import winreg

    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
        winreg.SetValueEx(key, WINDOWS_VALUE, 0, winreg.REG_SZ, windows_command_line(command))
    return f"HKCU\\{WINDOWS_RUN_KEY}\\{WINDOWS_VALUE}"


def windows_disable() -> None:
    if sys.platform != "win32":
        raise OSError("the registry is on Windows only")
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, WINDOWS_VALUE)
    except FileNotFoundError:
        pass


# --- macOS -----------------------------------------------------------------------------------------


def mac_plist_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    return home / "Library" / "LaunchAgents" / f"{MAC_LABEL}.plist"


def launch_agent_plist(command: Sequence[str]) -> bytes:
    return plistlib.dumps({
        "Label": MAC_LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "ProcessType": "Interactive",
    })


def mac_enable(command: Sequence[str], env: Mapping[str, str] | None = None) -> Path:
    path = mac_plist_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(launch_agent_plist(command))
    return path
