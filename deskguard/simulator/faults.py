"""Fault injection state: failing and slow REST endpoints, refused hub connections, silent hubs."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from deskguard.simulator.enums import Hub

ANY_ENDPOINT = "*"


def normalize_endpoint(endpoint: str) -> str:
    """``/api/Position/closeContract`` and ``position/closecontract`` name the same endpoint."""
    text = endpoint.strip().strip("/")
    if text.lower().startswith("api/"):
        text = text[4:]
    return text.lower()


@dataclass(frozen=True, slots=True)
class RequestFault:
    """What to do to one incoming REST call: wait ``delay_s``, then answer ``fail_status``."""

    delay_s: float = 0.0
    fail_status: int | None = None


class FaultPlan:
    def __init__(self) -> None:
        self._failures: dict[str, deque[int]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._refuse_hubs_until = 0.0  # time.monotonic() deadline
        self.silent_hubs: set[Hub] = set()

    # ----------------------------------------------------------------- REST

    def fail_next(self, endpoint: str, count: int = 1, status: int = 500) -> None:
        """The next ``count`` calls to ``endpoint`` (``"*"`` for any) answer HTTP ``status``
        without being carried out. Status 200 answers ``{"success": false}`` instead."""
        self._failures.setdefault(normalize_endpoint(endpoint), deque()).extend([status] * count)

    def delay_next(self, endpoint: str, count: int = 1, seconds: float = 1.0) -> None:
        """The next ``count`` calls to ``endpoint`` (``"*"`` for any) wait ``seconds`` first."""
        self._delays.setdefault(normalize_endpoint(endpoint), deque()).extend([seconds] * count)

    def take(self, endpoint: str) -> RequestFault:
        key = normalize_endpoint(endpoint)
        delay = _pop(self._delays, key)
        status = _pop(self._failures, key)
        return RequestFault(delay or 0.0, status)

    # ----------------------------------------------------------------- hubs

    def refuse_hubs_for(self, seconds: float) -> None:
        self._refuse_hubs_until = max(self._refuse_hubs_until, time.monotonic() + seconds)

    def hubs_refused(self) -> bool:
        return time.monotonic() < self._refuse_hubs_until

    def set_silent(self, hub: Hub, silent: bool) -> None:
        if silent:
            self.silent_hubs.add(hub)
        else:
            self.silent_hubs.discard(hub)

    def clear(self) -> None:
        self._failures.clear()
        self._delays.clear()
        self._refuse_hubs_until = 0.0
        self.silent_hubs.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "failures": {k: list(v) for k, v in self._failures.items() if v},
            "delays": {k: list(v) for k, v in self._delays.items() if v},
            "hubsRefusedForS": max(0.0, round(self._refuse_hubs_until - time.monotonic(), 3)),
            "silentHubs": sorted(h.value for h in self.silent_hubs),
        }


def _pop[T](queues: dict[str, deque[T]], key: str) -> T | None:
    for candidate in (key, ANY_ENDPOINT):
        queue = queues.get(candidate)
        if queue:
            return queue.popleft()
    return None
