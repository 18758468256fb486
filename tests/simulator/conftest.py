"""Fixtures for the simulator tests: a running simulator on 127.0.0.1 with a still market."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from sim_harness import PINNED_TODAY

from deskguard.simulator import Simulator


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A started simulator whose prices move only when a test moves them."""
    simulator = Simulator(seed=7, walk_paused=True, idle_quote_interval_s=None, today=PINNED_TODAY)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
