"""Saving config.toml keeps what the user wrote and keeps the file private."""

from __future__ import annotations

import os
import stat
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from deskguard.config import ConfigError, DeskGuardConfig, default_config_text, dumps_config, load_config, save_config
from deskguard.engine.rules.cooldown_after_loss import Tier
from deskguard.engine.rules.trade_management import Breakeven

USER_FILE = """\
# My own notes about my rules: do not lose these.
[connection]
username = "me@example.com"   # keyring holds the key

[rules.daily_realized_loss]
# Coach said 500 max.
max_loss = 500 # my limit

[rules.cooldown_after_loss]
tiers = [{ loss = 100, cooldown = "300s" }, { loss = 300, cooldown = "30m" }]

[rules.max_contracts_per_instrument]
limits = { MNQ = 2, ES = 1 }
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_save_keeps_comments_and_unchanged_spelling_and_is_private(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(USER_FILE)
    os.chmod(path, 0o644)
    cfg = load_config(path).with_rule("daily_realized_loss", max_loss=400)
    save_config(cfg, path)
    text = path.read_text()
    assert "# My own notes about my rules: do not lose these." in text
    assert "# Coach said 500 max." in text
    assert "max_loss = 400 # my limit" in text
    assert 'username = "me@example.com"   # keyring holds the key' in text
    assert 'cooldown = "300s"' in text  # unchanged values keep the user's spelling
    assert load_config(path) == cfg
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp file left behind


def test_saving_unchanged_config_leaves_the_text_identical(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(USER_FILE)
    save_config(load_config(path), path)
    assert path.read_text() == USER_FILE


def test_save_adds_missing_tables_and_keys_and_removes_dropped_entries(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(USER_FILE)
    cfg = (
        load_config(path)
        .with_rule("losing_streak", enabled=True, cooldown="until_reset")
        .with_rule("max_contracts_per_instrument", limits={"MNQ": 1})
        .with_rule("trade_management", breakeven=Breakeven(trigger_ticks=12))
        .with_rule("cooldown_after_loss", tiers=(Tier(150.0, timedelta(minutes=10)),))
        .with_rule("session_block", early_closes={date(2026, 11, 27): time(11, 0)})
        .with_section("pnl", include_fees=False)
        .with_section("connection", username=None)
    )
    save_config(cfg, path)
    text = path.read_text()
    assert load_config(path) == cfg
    assert "[rules.losing_streak]" in text and 'cooldown = "until_reset"' in text
    assert "ES" not in text
    assert "trigger_ticks = 12" in text and "offset_ticks" not in text  # only what differs from defaults
    assert "username" not in text
    assert "[rules.max_contracts]" not in text  # untouched rules stay out of the file
    assert "# Coach said 500 max." in text


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_new_file_is_the_commented_default_with_changes_in_private_dirs(tmp_path: Path):
    path = tmp_path / "home" / "deskguard" / "config.toml"
    before = mode(tmp_path)
    cfg = DeskGuardConfig().with_rule("daily_realized_loss", max_loss=750)
    save_config(cfg, path)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    assert mode(tmp_path) == before  # existing directories are left as they were
    text = path.read_text()
    assert "max_loss = 750" in text
    assert "# Stop for the day at this loss (a positive amount)." in text
    assert load_config(path) == cfg


def test_save_writes_through_a_symlink(tmp_path: Path):
    real = tmp_path / "dotfiles" / "config.toml"
    real.parent.mkdir()
    real.write_text(USER_FILE)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    save_config(load_config(link).with_rule("daily_realized_loss", max_loss=450), link)
    assert link.is_symlink()
    assert "max_loss = 450 # my limit" in real.read_text()


def test_save_refuses_to_overwrite_a_broken_file(tmp_path: Path):
    path = tmp_path / "config.toml"
    broken = "[rules.daily_realized_loss]\nmax_loss = = 5\n"
    path.write_text(broken)
    with pytest.raises(ConfigError, match="line 2"):
        save_config(DeskGuardConfig(), path)
    assert path.read_text() == broken


def test_default_text_saved_unchanged_is_stable():
    text = default_config_text()
    assert dumps_config(DeskGuardConfig(), text) == text


def test_save_uses_the_default_path_under_deskguard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path / "dg"))
    written = save_config(DeskGuardConfig().with_section("ui", theme="dark"))
    assert written == (tmp_path / "dg" / "config.toml").resolve()
    assert load_config().ui.theme == "dark"


def test_create_default_config_writes_once(tmp_path: Path):
    from deskguard.config import create_default_config

    path = tmp_path / "dg" / "config.toml"
    assert create_default_config(path) == path
    assert path.read_text() == default_config_text()
    path.write_text("[ui]\ntheme = \"dark\"\n")
    create_default_config(path)
    assert load_config(path).ui.theme == "dark"  # never overwrites the user's file
