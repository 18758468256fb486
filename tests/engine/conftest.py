"""Fixtures for the engine tests: a fake clock at a fixed weekday inside the default session, and desks.

The builders themselves live in ``engine_harness`` so that test modules (and hypothesis tests, which
cannot take function-scoped fixtures per example) can import them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from engine_harness import T0, Desk, only

from deskguard.engine.clock import FakeClock
from deskguard.engine.settings import EngineSettings


@pytest.fixture
def clock() -> FakeClock:
    """Tuesday 24 Nov 2026, 09:00 CT: inside the default trading session."""
    return FakeClock(T0)


@pytest.fixture
def desk() -> Desk:
    """A $50K account with the default rule book."""
    return Desk(EngineSettings())


@pytest.fixture
def desk_with() -> Callable[..., Desk]:
    """``desk_with("daily_realized_loss", max_contracts={"limit": 2})``: only those rules enabled."""

    def make(*keys: str, start=T0, balance: float | None = 50_000.0, include_fees: bool = True,
             **changes: dict[str, Any]) -> Desk:
        settings = only(*keys, **changes)
        if not include_fees:
            settings = replace(settings, include_fees=False)
        return Desk(settings, start=start, balance=balance)

    return make
