"""Editing config.toml while the guard runs: tighten applies now, loosen waits for the reset, and a
file broken by hand keeps the last good rules guarding — and is never rewritten."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


class Notices:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def on_notice(self, notice) -> None:
        self.texts.append(notice.text)

    def on_snapshot(self, snapshot) -> None:
        pass

    def on_health(self, health) -> None:
        pass


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_config_edits_while_running(tmp_path, monkeypatch):
    from deskguard.runtime import start_runtime

    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path))
    runtime = await start_runtime(demo=True, simulator_seed=3)
    try:
        runtime.watcher.interval = 0.1
        notices = Notices()
        runtime.guardian.add_observer(notices)
        cfg = Path(runtime.watcher.path)
        original = cfg.read_text()
        assert "\nmax_loss = 500\n" in original

        def limit() -> float:
            return runtime.guardian.settings.rules["daily_realized_loss"].max_loss

        cfg.write_text(original.replace("\nmax_loss = 500\n", "\nmax_loss = 400\n", 1))
        await wait_for(lambda: limit() == 400)  # tighter: at once

        broken = original.replace("\nmax_loss = 500\n", "\nmax_loss = -5\n", 1)
        cfg.write_text(broken)
        await wait_for(lambda: any("still guarding with the last good rules" in t for t in notices.texts))
        assert limit() == 400
        assert any("rules.daily_realized_loss.max_loss" in t and "positive" in t for t in notices.texts)
        assert cfg.read_text() == broken  # never rewritten

        cfg.write_text(original.replace("\nmax_loss = 500\n", "\nmax_loss = 900\n", 1))
        await wait_for(lambda: bool(runtime.guardian.pending_changes()))
        assert limit() == 400  # looser: waits for the reset
        pending = runtime.guardian.pending_changes()
        assert [c.key for c in pending] == ["daily_realized_loss.max_loss"]
        assert pending[0].effective_at > pending[0].effective_at.now(pending[0].effective_at.tzinfo)
    finally:
        await runtime.stop()
