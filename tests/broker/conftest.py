"""Fixtures for the broker adapter's integration tests: a simulator on 127.0.0.1 and brokers
pointed at it, all stopped in teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio
from broker_harness import API_KEY, PINNED_TODAY, USERNAME

from deskguard.broker.projectx import ProjectXBroker
from deskguard.simulator import Simulator


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A started simulator whose prices move only when a test moves them."""
    simulator = Simulator(seed=11, walk_paused=True, idle_quote_interval_s=None, today=PINNED_TODAY)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


# Fast timings for tests; every knob the watchdog has is exercised at these values.
FAST: dict[str, Any] = {
    "request_timeout": 5.0,
    "hub_connect_timeout": 5.0,
    "watchdog_interval": 0.1,
    "reconnect_grace": 1.0,
    "market_silence": 0.0,
    "reconcile_interval": 0.0,
    "max_rebuild_backoff": 1.0,
}


@pytest_asyncio.fixture
async def make_broker(sim: Simulator) -> AsyncIterator[Callable[..., ProjectXBroker]]:
    brokers: list[ProjectXBroker] = []

    def factory(**overrides: Any) -> ProjectXBroker:
        options: dict[str, Any] = {
            "api_url": sim.api_url,
            "user_hub_url": sim.user_hub_url,
            "market_hub_url": sim.market_hub_url,
            **FAST,
        }
        options.update(overrides)
        username = options.pop("username", USERNAME)
        api_key = options.pop("api_key", API_KEY)
        broker = ProjectXBroker(username, api_key, **options)
        brokers.append(broker)
        return broker

    try:
        yield factory
    finally:
        for broker in brokers:
            await broker.stop()
