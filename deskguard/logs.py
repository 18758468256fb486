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

from .secrets import RedactingFilter

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(log_dir: Path | None, *, stdout: bool = False, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_deskguard", False):
            root.removeHandler(h)
    root.setLevel(level)
    handlers: list[logging.Handler] = []
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = log_dir / "deskguard.log"
        fh = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
        handlers.append(fh)
        if not path.exists():
            path.touch(mode=0o600)
        os.chmod(path, 0o600)
    if stdout:
        sh = logging.StreamHandler(sys.stdout)
        handlers.append(sh)
    for h in handlers:
        h.setFormatter(logging.Formatter(FORMAT))
        h.addFilter(RedactingFilter())
        h._deskguard = True  # type: ignore[attr-defined]
        root.addHandler(h)
    logging.getLogger("project_x_py").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
