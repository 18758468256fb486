"""deskguard check-config."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from deskguard.config import DeskGuardConfig, check_config
from deskguard.engine.rules import ALL_RULES


def test_good_file_prints_every_rule_and_returns_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "config.toml"
    text = "[rules.daily_realized_loss]\nmax_loss = 650\n\n[rules.losing_streak]\nenabled = true\n"
    path.write_text(text)
    assert check_config(path) == 0
    out, err = capsys.readouterr()
    assert err == ""
    for rule in ALL_RULES:
        assert f"{rule.number} {rule.key}" in out
    assert "003 daily_realized_loss           on   max_loss $650, count_open_pnl false, warn_at 0.8" in out
    assert "016 losing_streak                 on   max_losses 3, cooldown 30m" in out
    assert "005 max_unrealized_profit         off" in out
    assert "No pending changes." in out
    assert path.read_text() == text  # never modifies the file


def test_bad_file_prints_every_problem_to_stderr_and_returns_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "config.toml"
    path.write_text('[rules.daily_realized_loss]\nmax_loss = -500\nmax_los = 1\n[ui]\ntheme = "pink"\n')
    assert check_config(path) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}: line 2: rules.daily_realized_loss.max_loss: must be a positive amount (got -500)" in err.splitlines()
    assert f"{path}: line 3: rules.daily_realized_loss.max_los: unknown key; did you mean max_loss?" in err.splitlines()
    assert len(err.splitlines()) == 3


def test_syntax_error_returns_2_with_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "config.toml"
    path.write_text("[ui]\ntheme = dark\n")
    assert check_config(path) == 2
    assert capsys.readouterr().err.startswith(f"{path}: line 2: invalid TOML")


def test_missing_file_means_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "config.toml"
    assert check_config(path) == 0
    assert "not found; the defaults apply" in capsys.readouterr().out
    assert not path.exists()


def test_default_path_comes_from_deskguard_home(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text("[rules.max_contracts]\nlimit = 2\n")
    assert check_config() == 0
    assert "001 max_contracts                 on   limit 2" in capsys.readouterr().out


def test_pending_changes_against_the_config_in_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "config.toml"
    path.write_text("[rules.daily_realized_loss]\nmax_loss = 800\n")
    in_force = DeskGuardConfig()
    now = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert check_config(path, effective=in_force, now=now) == 0
    out = capsys.readouterr().out
    assert "max_loss $500," in out  # the limit in force until the reset
    assert "daily_realized_loss.max_loss 500 → 800 (looser) takes effect at 17:00 CT" in out
