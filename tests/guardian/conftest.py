"""Fixtures for the guardian's end-to-end tests: the built-in simulator on 127.0.0.1 with a still
market at known prices, and guardians over the real ProjectXBroker (the unmodified SDK) and a
Store in tmp_path — all stopped in teardown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from guardian_harness import ACCOUNT, API_KEY, FAST_BROKER, USERNAME, Watcher, base_settings, started_simulator
from headless_harness import processes  # noqa: F401 (a fixture, offered to this folder's tests)

from deskguard.broker.projectx import ProjectXBroker
from deskguard.engine.clock import Clock
from deskguard.engine.settings import EngineSettings
from deskguard.guardian import AccountSnapshot, Guardian
from deskguard.simulator import Simulator
from deskguard.store import Store


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with started_simulator(seed=5) as simulator:
        yield simulator


@dataclass
class Rig:
    """One running guardian with what the tests look at."""

    guardian: Guardian
    broker: ProjectXBroker
    store: Store
    watcher: Watcher
    sim: Simulator
    extra: dict[str, Any] = field(default_factory=dict)

    def snap(self, account_id: int = ACCOUNT) -> AccountSnapshot:
        return self.guardian.snapshot(account_id)

    def locks(self, account_id: int = ACCOUNT) -> dict[str, Any]:
        """The engine's active locks by rule."""
        return {lock.rule: lock for lock in self.snap(account_id).locks}

    def stored_locks(self, account_id: int = ACCOUNT) -> dict[str, Any]:
        return {lock.rule: lock for lock in self.store.active_locks(account_id)}

    async def stop(self) -> None:
        if self.guardian.running or self.guardian._tasks:
            await asyncio.wait_for(self.guardian.stop(), timeout=15)


MakeGuardian = Callable[..., Awaitable[Rig]]


@pytest_asyncio.fixture
async def make_guardian(sim: Simulator, tmp_path: Path) -> AsyncIterator[MakeGuardian]:
    """``await make_guardian(settings, store=…, accounts=…)``: a started guardian (start() done:
    signed in, re-synced, subscribed). Several may share one store (restarts)."""
    rigs: list[Rig] = []
    stores: list[Store] = []

    async def factory(
        settings: EngineSettings | None = None,
        *,
        store: Store | None = None,
        accounts: Iterable[str | int] = (),
        symbols: Iterable[str] = ("MNQ", "MES"),
        start: bool = True,
        clock: Clock | None = None,
        **broker_options: Any,
    ) -> Rig:
        settings = settings or base_settings()
        if store is None:
            store = Store(tmp_path / "state.db", redact=[API_KEY])
            stores.append(store)
        calendar = settings.calendar
        options = {**FAST_BROKER, **broker_options}
        broker = ProjectXBroker(
            USERNAME, API_KEY, api_url=sim.api_url, user_hub_url=sim.user_hub_url, market_hub_url=sim.market_hub_url,
            day_start=lambda: calendar.day_start(datetime.now(UTC)), **options,
        )
        guardian = Guardian(broker, store, settings, accounts=accounts, symbols=list(symbols), clock=clock)
        watcher = Watcher()
        guardian.add_observer(watcher)
        rig = Rig(guardian, broker, store, watcher, sim)
        rigs.append(rig)
        if start:
            await asyncio.wait_for(guardian.start(), timeout=15)
            await wait_guarding(rig)
        return rig

    try:
        yield factory
    finally:
        sim.clear_faults()
        for rig in rigs:
            with contextlib.suppress(Exception):
                await rig.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rig.broker.stop(), timeout=10)
        for store in stores:
            store.close()


async def wait_guarding(rig: Rig, timeout: float = 5.0) -> None:
    """Until the guardian has its first re-sync of every account and the user hub is up."""
    from guardian_harness import wait_for

    await wait_for(lambda: rig.guardian.health.guarding and set(rig.guardian.accounts) <= rig.guardian._resynced,
                   timeout, "guardian guarding with every account re-synced")
