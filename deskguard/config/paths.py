"""Where a user's files live: platformdirs' per-user directories, or all under ``$DESKGUARD_HOME``.

``DESKGUARD_HOME`` exists so that the demo, tests and portable installs can keep config, state and
logs together in one directory without touching the user's real ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "deskguard"
HOME_ENV = "DESKGUARD_HOME"
CONFIG_FILE = "config.toml"
STATE_FILE = "state.db"
LOG_DIR = "logs"


def home_override(env: Mapping[str, str] | None = None) -> Path | None:
    """``$DESKGUARD_HOME`` as a path, or None when unset or empty."""
    value = (os.environ if env is None else env).get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    home = home_override(env)
    return home if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    home = home_override(env)
    return home if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir(env: Mapping[str, str] | None = None) -> Path:
    home = home_override(env)
    return home / LOG_DIR if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def config_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / CONFIG_FILE


def state_db_path(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / STATE_FILE
