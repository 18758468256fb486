"""Technical logging: a rotating file in the log dir, optionally stdout; secrets always redacted.

The audit log (what was enforced, in plain English) lives in the store; this is for diagnosis.
The SDK installs its own JSON stdout handlers on ``project_x_py`` loggers; the broker adapter
removes them, and here they propagate into ours at WARNING and above.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from .redaction import RedactingFilter

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
FILE_MODE = 0o600


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file is user-only: the first one and each one a rollover starts
    (the standard handler opens those with the umask's mode, typically world-readable)."""

    def _open(self):  # as the base's (a TextIOWrapper, which open() with a variable mode does not promise)
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        if os.name != "nt" and os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)  # a file left by an older version, or made by hand
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # noqa: SIM115


def setup_logging(log_dir: Path | None, *, stdout: bool = False, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_deskguard", False):
            root.removeHandler(h)
    root.setLevel(level)
    handlers: list[logging.Handler] = []
    if log_dir is not None:
        from .config.save import make_private_dirs

        make_private_dirs(log_dir)  # missing folders (DESKGUARD_HOME too) are created user-only
        path = log_dir / "deskguard.log"
        handlers.append(PrivateRotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"))
    if stdout:
        sh = logging.StreamHandler(sys.stdout)
        handlers.append(sh)
    for h in handlers:
        h.setFormatter(logging.Formatter(FORMAT))
        h.addFilter(RedactingFilter())
        h._deskguard = True  # type: ignore[attr-defined]  # a marker on our own handlers
        root.addHandler(h)
    logging.getLogger("project_x_py").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
