"""Fault injection state: failing and slow REST endpoints (for every account or one), refused
closes of one account, refused hub connections, silent hubs."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from deskguard.simulator.enums import ClosePositionError, Hub

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


# Position/closeContract and Position/partialCloseContract: what ``refuse_closes`` refuses.
CLOSE_ENDPOINTS = frozenset({"position/closecontract", "position/partialclosecontract"})


class FaultPlan:
    def __init__(self) -> None:
        # Keyed by (endpoint, accountId or None for any account).
        self._failures: dict[tuple[str, int | None], deque[int]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._refused_closes: dict[int, int] = {}  # accountId -> errorCode answered
        self._refuse_hubs_until = 0.0  # time.monotonic() deadline
        self.silent_hubs: set[Hub] = set()

    # ----------------------------------------------------------------- REST

    def fail_next(self, endpoint: str, count: int = 1, status: int = 500, account_id: int | None = None) -> None:
        """The next ``count`` calls to ``endpoint`` (``"*"`` for any) answer HTTP ``status``
        without being carried out. Status 200 answers ``{"success": false}`` instead. With
        ``account_id``, only calls whose body names that ``accountId`` count and fail."""
        key = (normalize_endpoint(endpoint), account_id)
        self._failures.setdefault(key, deque()).extend([status] * count)

    def delay_next(self, endpoint: str, count: int = 1, seconds: float = 1.0) -> None:
        """The next ``count`` calls to ``endpoint`` (``"*"`` for any) wait ``seconds`` first."""
        self._delays.setdefault(normalize_endpoint(endpoint), deque()).extend([seconds] * count)

    def take(self, endpoint: str, account_id: int | None = None) -> RequestFault:
        key = normalize_endpoint(endpoint)
        delay = _pop(self._delays, key)
        status = None
        for candidate in (key, ANY_ENDPOINT):
            for account in (account_id, None) if account_id is not None else (None,):
                queue = self._failures.get((candidate, account))
                if status is None and queue:
                    status = queue.popleft()
        return RequestFault(delay or 0.0, status)

    def refuse_closes(self, account_id: int, refuse: bool = True, error_code: int | None = None) -> None:
        """Until switched off, ``Position/closeContract`` and ``Position/partialCloseContract``
        for ``account_id`` answer HTTP 200 ``success: false`` with ``error_code`` (the gateway's
        documented failure shape) and close nothing."""
        if refuse:
            self._refused_closes[account_id] = int(ClosePositionError.ORDER_REJECTED if error_code is None else error_code)
        else:
            self._refused_closes.pop(account_id, None)

    def refused_close(self, endpoint: str, account_id: int | None) -> int | None:
        """The errorCode to answer if this call is a close the plan refuses, else None."""
        if account_id is None or normalize_endpoint(endpoint) not in CLOSE_ENDPOINTS:
            return None
        return self._refused_closes.get(account_id)

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
        self._refused_closes.clear()
        self._refuse_hubs_until = 0.0
        self.silent_hubs.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "failures": {_label(*k): list(v) for k, v in self._failures.items() if v},
            "delays": {k: list(v) for k, v in self._delays.items() if v},
            "refusedCloses": {str(a): code for a, code in sorted(self._refused_closes.items())},
            "hubsRefusedForS": max(0.0, round(self._refuse_hubs_until - time.monotonic(), 3)),
            "silentHubs": sorted(h.value for h in self.silent_hubs),
        }


def _pop[T](queues: dict[str, deque[T]], key: str) -> T | None:
    for candidate in (key, ANY_ENDPOINT):
        queue = queues.get(candidate)
        if queue:
            return queue.popleft()
    return None


def _label(endpoint: str, account_id: int | None) -> str:
    """``position/closecontract``, or ``position/closecontract@1001`` for one account's."""
    return endpoint if account_id is None else f"{endpoint}@{account_id}"
