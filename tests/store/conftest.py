from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deskguard.engine.clock import FakeClock
from deskguard.engine.decisions import Lock, LockKind
from deskguard.store import Store

T0 = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)


def make_lock(account_id: int = 7, **changes: object) -> Lock:
    fields: dict[str, object] = dict(
        account_id=account_id, kind=LockKind.COOLDOWN, rule="cooldown_after_loss",
        reason="lost $250 on one trade: cooldown 10m", since=T0, until=T0 + timedelta(minutes=10),
    )
    fields.update(changes)
    return Lock(**fields)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "state.db"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[Store]:
    with Store(db_path, clock=clock) as s:
        yield s
