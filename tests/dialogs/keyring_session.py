"""A real Secret Service keyring for tests: gnome-keyring in a private D-Bus session.

The recipe measured in shared/docs/desktop.md: a private ``dbus-daemon --session`` with its own
address; ``gnome-keyring-daemon --unlock --components=secrets`` fed a password on stdin, with a
private HOME and XDG_RUNTIME_DIR; wait until the daemon owns ``org.freedesktop.secrets`` on that bus
before the first keyring call (otherwise D-Bus auto-starts a second, locked daemon); clean up by pid.
Nothing here touches the user's own session bus or keyring.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SECRETS_NAME = "org.freedesktop.secrets"
PASSWORD = b"deskguard-test-login-password\n"


class KeyringCannotStart(RuntimeError):
    """The machine cannot run a private Secret Service (the message says what was measured)."""


@dataclass
class SecretServiceSession:
    address: str  # DBUS_SESSION_BUS_ADDRESS of the private bus
    home: Path  # the keyring daemon's private HOME (its encrypted keyring files live below)
    runtime_dir: Path
    bus: subprocess.Popen
    daemon: subprocess.Popen
    started_in_s: float

    def stop(self) -> None:
        for proc in (self.daemon, self.bus):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


def _name_has_owner(address: str, name: str) -> bool:
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    with open_dbus_connection(bus=address) as conn:
        reply = conn.send_and_get_reply(new_method_call(bus, "NameHasOwner", "s", (name,)), timeout=2)
    return bool(reply.body[0])


def start_secret_service(base: Path, timeout: float = 10.0) -> SecretServiceSession:
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            raise KeyringCannotStart(f"{tool} is not installed (Debian: apt-get install dbus gnome-keyring)")
    started = time.monotonic()
    home = base / "keyring-home"
    runtime_dir = base / "xdg-runtime"
    home.mkdir(parents=True, mode=0o700)
    runtime_dir.mkdir(parents=True, mode=0o700)
    env = {
        k: v for k, v in os.environ.items()
        if k not in ("DBUS_SESSION_BUS_ADDRESS", "GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK")
    }
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime_dir), XDG_DATA_HOME=str(home / ".local" / "share"),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"))
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1", f"--address=unix:path={runtime_dir / 'bus'}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    address = bus.stdout.readline().strip() if bus.stdout else ""
    if not address:
        bus.kill()
        err = bus.stderr.read() if bus.stderr else ""
        raise KeyringCannotStart(f"dbus-daemon printed no address (exit {bus.wait()}): {err.strip()[:300]}")
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )
    assert daemon.stdin is not None
    daemon.stdin.write(PASSWORD)
    daemon.stdin.close()
    session = SecretServiceSession(address, home, runtime_dir, bus, daemon, 0.0)
    deadline = time.monotonic() + timeout
    while True:
        if daemon.poll() is not None:
            err = daemon.stderr.read().decode(errors="replace") if daemon.stderr else ""
            session.stop()
            raise KeyringCannotStart(f"gnome-keyring-daemon exited with {daemon.returncode}: {err.strip()[:300]}")
        try:
            if _name_has_owner(address, SECRETS_NAME):
                break
        except Exception as exc:  # the bus itself is not answering
            if time.monotonic() > deadline:
                session.stop()
                raise KeyringCannotStart(f"the private D-Bus did not answer: {exc}") from None
        if time.monotonic() > deadline:
            session.stop()
            raise KeyringCannotStart(f"{SECRETS_NAME} was not owned on the private bus within {timeout:.0f} s")
        time.sleep(0.02)
    session.started_in_s = time.monotonic() - started
    return session


def files_containing(root: Path, secret: str) -> list[Path]:
    """Every file under ``root`` whose bytes hold ``secret`` in any common encoding (raw UTF-8,
    UTF-16, base64, hex): a plain-text or merely encoded copy of the key counts as a leak."""
    import base64

    raw = secret.encode()
    needles = [raw, secret.encode("utf-16-le"), base64.b64encode(raw), raw.hex().encode()]
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(n in data for n in needles):
                hits.append(path)
    return hits
