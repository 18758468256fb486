from __future__ import annotations

from pathlib import Path

import pytest

from deskguard.config import paths


def test_deskguard_home_holds_all_three(tmp_path: Path):
    env = {"DESKGUARD_HOME": str(tmp_path)}
    assert paths.config_path(env) == tmp_path / "config.toml"
    assert paths.state_db_path(env) == tmp_path / "state.db"
    assert paths.log_dir(env) == tmp_path / "logs"


def test_platform_dirs_without_override(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DESKGUARD_HOME", raising=False)
    assert paths.config_path().name == "config.toml"
    assert "deskguard" in str(paths.config_dir()).lower()
    assert "deskguard" in str(paths.data_dir()).lower()
    assert "deskguard" in str(paths.log_dir()).lower()
    assert paths.config_path({"DESKGUARD_HOME": "  "}) == paths.config_path({})
