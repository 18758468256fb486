"""DeskGuard's ``config.toml``: strict typed models generated from the engine's rule schemas,
load/save that keep the user's comments, the commented defaults, and "tighten now, loosen at the
next reset"."""

from __future__ import annotations

from .check import check_config, rule_line
from .defaults import default_config_text, demo_config
from .errors import ConfigError
from .load import load_config, loads_config
from .model import (
    ConnectionSettings,
    DeskGuardConfig,
    NotificationSettings,
    PnlSettings,
    TradingDaySettings,
    UiSettings,
    config_from_data,
)
from .paths import config_dir, config_path, data_dir, log_dir, state_db_path
from .pending import ChangePlan, ConfigChange, plan_config_change
from .rules_schema import RulesSection
from .save import create_default_config, dumps_config, save_config

__all__ = [
    "ChangePlan",
    "ConfigChange",
    "ConfigError",
    "ConnectionSettings",
    "DeskGuardConfig",
    "NotificationSettings",
    "PnlSettings",
    "RulesSection",
    "TradingDaySettings",
    "UiSettings",
    "check_config",
    "config_dir",
    "config_from_data",
    "config_path",
    "create_default_config",
    "data_dir",
    "default_config_text",
    "demo_config",
    "dumps_config",
    "load_config",
    "loads_config",
    "log_dir",
    "plan_config_change",
    "rule_line",
    "save_config",
    "state_db_path",
]
