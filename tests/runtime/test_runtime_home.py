"""The demo's files live in a home of their own, handed to the guard explicitly: preparing a guard
never changes the process's environment (which the app used to have to put back)."""

from __future__ import annotations

import os

import pytest

pytestmark = [pytest.mark.asyncio]


async def test_the_demo_keeps_its_files_in_its_own_home_and_leaves_the_environment_alone(tmp_path, monkeypatch):
    from deskguard.config import config_path, state_db_path
    from deskguard.runtime import prepare_runtime

    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path))
    runtime = await prepare_runtime(demo=True, simulator_seed=3)
    try:
        assert os.environ["DESKGUARD_HOME"] == str(tmp_path)  # untouched
        assert runtime.home == tmp_path / "demo"
        assert runtime.config_file == tmp_path / "demo" / "config.toml" and runtime.config_file.is_file()
        assert runtime.store.path == tmp_path / "demo" / "state.db"
        runtime.watch_config()
        assert runtime.watcher is not None and runtime.watcher.path == runtime.config_file
    finally:
        await runtime.close()
    # The user's own files were never created, and still resolve to the user's home.
    assert not config_path().exists() and not state_db_path().exists()
    assert config_path() == tmp_path / "config.toml"


async def test_a_real_guard_uses_deskguard_home(tmp_path, monkeypatch):
    from deskguard.config import demo_config, save_config
    from deskguard.runtime import prepare_runtime
    from deskguard.secrets import Credentials

    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path))
    save_config(demo_config(), tmp_path / "config.toml")
    runtime = await prepare_runtime(credentials=Credentials("someone", "not-a-real-key-0000"))  # not started
    try:
        assert runtime.home == tmp_path and runtime.config_file == tmp_path / "config.toml"
        assert runtime.store.path == tmp_path / "state.db"
        assert os.environ["DESKGUARD_HOME"] == str(tmp_path)
    finally:
        await runtime.close()
