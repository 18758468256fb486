"""The control API's per-run token: where a simulator publishes it and where clients find it.

Every ``/control`` request must carry the simulator's random token in the ``X-Control-Token``
header (and POSTs a ``Content-Type: application/json``), so no other local user and no web page can
drive it: a page cannot read the token, and a custom header or a JSON content type makes a browser
ask first (a CORS preflight, which the simulator never grants).

So that ``SimulatorControl(base_url)`` keeps working in another process without being told the
token, a started simulator also writes it to ``<dir>/<port>.token`` in a directory only its user
can open (``$XDG_RUNTIME_DIR/deskguard-simulator-<uid>`` or ``<tmp>/deskguard-simulator-<uid>``,
mode 0700; the file 0600), and removes it when it stops. Within one process the token is also
registered by base URL, without touching files.
"""

from __future__ import annotations

import contextlib
import getpass
import hmac
import logging
import os
import stat
import tempfile
import urllib.parse
from pathlib import Path

log = logging.getLogger(__name__)

HEADER = "X-Control-Token"
ENV_DIR = "DESKGUARD_SIMULATOR_TOKEN_DIR"  # overrides where tokens are published (tests)

_IN_PROCESS: dict[str, str] = {}  # base URL -> token of simulators running in this process


def token_dir() -> Path:
    override = os.environ.get(ENV_DIR)
    if override:
        return Path(override)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and os.path.isdir(runtime) else Path(tempfile.gettempdir())
    owner = str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()
    return base / f"deskguard-simulator-{owner}"


def token_path(port: int) -> Path:
    return token_dir() / f"{int(port)}.token"


def matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def register(base_url: str, token: str) -> None:
    _IN_PROCESS[base_url.rstrip("/")] = token


def unregister(base_url: str, token: str) -> None:
    if _IN_PROCESS.get(base_url.rstrip("/")) == token:
        del _IN_PROCESS[base_url.rstrip("/")]


def publish(port: int, token: str) -> Path | None:
    """Write the token for other processes of this user; None (and a warning) if the directory
    is not private to this user."""
    directory = token_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private_dir(directory, repair=True):
            log.warning("not publishing the simulator's control token: %s is not private", directory)
            return None
        path = directory / f"{int(port)}.token"
        temporary = directory / f".{int(port)}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(token)
        os.replace(temporary, path)
        return path
    except OSError as exc:
        log.warning("could not publish the simulator's control token in %s: %s", directory, exc)
        return None


def withdraw(port: int, token: str) -> None:
    """Remove the published token, if it is still this run's."""
    path = token_path(port)
    with contextlib.suppress(OSError):
        if path.read_text(encoding="ascii").strip() == token:
            path.unlink()


def find(base_url: str) -> str | None:
    """The token of the simulator at ``base_url``: registered in this process, or published by
    this user's simulator on that port."""
    base_url = base_url.rstrip("/")
    if base_url in _IN_PROCESS:
        return _IN_PROCESS[base_url]
    port = urllib.parse.urlsplit(base_url).port
    if port is None:
        return None
    path = token_path(port)
    try:
        if not _private_dir(path.parent, repair=False):
            return None
        return path.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _private_dir(directory: Path, *, repair: bool) -> bool:
    """A real directory owned by this user that nobody else can enter (POSIX; ``repair`` narrows
    a too-open mode of our own directory); on Windows the per-user temporary directory is
    private already."""
    if not hasattr(os, "getuid"):
        return directory.is_dir()
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False
    if info.st_mode & 0o077:
        if not repair:
            return False
        os.chmod(directory, 0o700)
    return True
