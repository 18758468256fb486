"""Fixtures for the reliability tests: the simulator on 127.0.0.1 and guardians over the real SDK,
as in ``tests/guardian`` (whose helpers these tests reuse), plus an injectable clock and knobs for
the broker's and the enforcer's timings. Everything started here is stopped in teardown."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "guardian"))  # guardian_harness, headless_harness

from guardian_harness import (  # noqa: E402
    ACCOUNT,
    API_KEY,
    FAST_BROKER,
    USERNAME,
    Watcher,
    base_settings,
    started_simulator,
    wait_for,
)
from headless_harness import processes  # noqa: E402, F401 (a fixture, offered to this folder's tests)

from deskguard.broker.projectx import ProjectXBroker  # noqa: E402
from deskguard.engine.clock import Clock, SystemClock  # noqa: E402
from deskguard.engine.settings import EngineSettings  # noqa: E402
from deskguard.guardian import AccountSnapshot, Guardian  # noqa: E402
from deskguard.simulator import Simulator  # noqa: E402
from deskguard.store import Store  # noqa: E402


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with started_simulator(seed=8) as simulator:
        yield simulator


@dataclass
class Rig:
    guardian: Guardian
    broker: ProjectXBroker
    store: Store
    watcher: Watcher
    sim: Simulator
    clock: Clock

    def snap(self, account_id: int = ACCOUNT) -> AccountSnapshot:
        return self.guardian.snapshot(account_id)

    def locks(self, account_id: int = ACCOUNT) -> dict[str, Any]:
        return {lock.rule: lock for lock in self.snap(account_id).locks}

    def stored_locks(self, account_id: int = ACCOUNT) -> dict[str, Any]:
        return {lock.rule: lock for lock in self.store.active_locks(account_id)}


MakeGuardian = Callable[..., Awaitable[Rig]]


@pytest_asyncio.fixture
async def make_guardian(sim: Simulator, tmp_path: Path) -> AsyncIterator[MakeGuardian]:
    """``await make_guardian(settings, clock=…, backoff=…, rounds=…, **broker_options)``: a started,
    guarding guardian. ``clock`` drives the engine and the broker's trading-day start alike."""
    rigs: list[Rig] = []

    async def factory(
        settings: EngineSettings | None = None,
        *,
        clock: Clock | None = None,
        accounts: Iterable[str | int] = (),
        symbols: Iterable[str] = ("MNQ", "MES"),
        backoff: tuple[float, ...] | None = None,
        rounds: int | None = None,
        **broker_options: Any,
    ) -> Rig:
        settings = settings or base_settings()
        clock = clock or SystemClock()
        store = Store(tmp_path / f"state-{len(rigs)}.db", redact=[API_KEY])
        calendar = settings.calendar
        broker = ProjectXBroker(
            USERNAME, API_KEY, api_url=sim.api_url, user_hub_url=sim.user_hub_url, market_hub_url=sim.market_hub_url,
            day_start=lambda: calendar.day_start(clock.now()), **{**FAST_BROKER, **broker_options},
        )
        guardian = Guardian(broker, store, settings, clock=clock, accounts=accounts, symbols=list(symbols))
        if backoff is not None:
            guardian.enforcer.backoff = backoff
        if rounds is not None:
            guardian.enforcer.rounds = rounds
        watcher = Watcher()
        guardian.add_observer(watcher)
        rig = Rig(guardian, broker, store, watcher, sim, clock)
        rigs.append(rig)
        await asyncio.wait_for(guardian.start(), timeout=15)
        await wait_for(lambda: guardian.health.guarding and set(guardian.accounts) <= guardian._resynced, 8,
                       "guarding with every account re-synced")
        return rig

    try:
        yield factory
    finally:
        sim.clear_faults()
        for rig in rigs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rig.guardian.stop(), timeout=15)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rig.broker.stop(), timeout=10)
            rig.store.close()
