"""Helpers for the broker adapter's tests: a recording listener and bounded waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from deskguard.broker.base import BrokerListener, ConnectionHealth, HubState
from deskguard.engine.events import Event, QuoteUpdated, Resync

# Front months depend on the date; pin it so contract ids are predictable.
PINNED_TODAY = date(2026, 11, 25)
USERNAME = "broker-tester"
API_KEY = "s3cret-API-key-0123456789"


async def wait_until(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.02, what: str = "") -> None:
    """Poll ``predicate`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s{': ' + what if what else ''}")
        await asyncio.sleep(interval)


@dataclass
class Recorder:
    """A BrokerListener that keeps everything it is told."""

    events: list[Event] = field(default_factory=list)
    healths: list[ConnectionHealth] = field(default_factory=list)

    def listener(self) -> BrokerListener:
        return BrokerListener(on_event=self.events.append, on_health=self.healths.append)

    def of(self, kind: type, **attrs: Any) -> list[Any]:
        out = []
        for e in self.events:
            if isinstance(e, kind) and all(_attr(e, k) == v for k, v in attrs.items()):
                out.append(e)
        return out

    def resyncs(self, account_id: int | None = None) -> list[Resync]:
        return [e for e in self.events if isinstance(e, Resync) and (account_id is None or e.account_id == account_id)]

    def non_quotes(self) -> list[Event]:
        return [e for e in self.events if not isinstance(e, QuoteUpdated)]

    def saw_user_hub(self, state: HubState, after: int = 0) -> bool:
        return any(h.user_hub == state for h in self.healths[after:])


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("__"):
        obj = getattr(obj, part)
    return obj
