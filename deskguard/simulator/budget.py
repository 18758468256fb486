"""The gateway's request budget: per user, a sliding window, HTTP 429 with ``Retry-After`` past it.

The ProjectX Gateway's "Rate Limits" page: ``POST /api/History/retrieveBars`` 50 requests per
30 seconds, all other endpoints 200 requests per 60 seconds; past either the gateway answers
HTTP 429. The two allowances are separate (a bar request does not use the general one). Every
``/api`` request whose user is known counts, ``Auth/loginKey`` and ``Auth/validate`` included: the
user is the token's subject (its signature checked, expiry and revocation not: an expired token's
401 still counts), or the ``userName`` of a login. Requests with no identifiable user are not
counted. A refused request does not use the allowance (the window slides over admitted ones).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deskguard.simulator.faults import normalize_endpoint

HISTORY_PREFIX = "history/"


@dataclass(frozen=True, slots=True)
class RequestBudget:
    """Requests a user may make per sliding window: ``limit`` per ``window_s`` for every endpoint
    but ``History/*``, which has its own ``history_limit`` per ``history_window_s``."""

    limit: int = 200
    window_s: float = 60.0
    history_limit: int = 50
    history_window_s: float = 30.0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.history_limit < 1:
            raise ValueError("request budget limits must be at least 1")
        if self.window_s <= 0 or self.history_window_s <= 0:
            raise ValueError("request budget windows must be positive")

    def to_api(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "windowS": self.window_s,
            "historyLimit": self.history_limit,
            "historyWindowS": self.history_window_s,
        }


# The gateway's documented allowance; ``Simulator(request_budget=None)`` switches enforcement off.
GATEWAY_REQUEST_BUDGET = RequestBudget()


class RateLimiter:
    """Sliding-window counters per (user, allowance)."""

    def __init__(self, budget: RequestBudget | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._budget = budget
        self._clock = clock
        self._admitted: dict[tuple[str, bool], deque[float]] = {}

    @property
    def budget(self) -> RequestBudget | None:
        return self._budget

    @budget.setter
    def budget(self, budget: RequestBudget | None) -> None:
        """A new budget applies at once to the requests already in the window; None disables."""
        self._budget = budget
        if budget is None:
            self._admitted.clear()

    def admit(self, user: str, endpoint: str) -> float | None:
        """Count one request; None if admitted, else the seconds until the window has room."""
        budget = self._budget
        if budget is None:
            return None
        history = normalize_endpoint(endpoint).startswith(HISTORY_PREFIX)
        limit, window = (budget.history_limit, budget.history_window_s) if history else (budget.limit, budget.window_s)
        now = self._clock()
        times = self._admitted.setdefault((user, history), deque())
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= limit:
            return max(0.0, times[-limit] + window - now)
        times.append(now)
        return None

    def used(self, user: str, history: bool = False) -> int:
        """Requests of ``user`` in the current window (of the History allowance, or the other)."""
        budget = self._budget
        if budget is None:
            return 0
        window = budget.history_window_s if history else budget.window_s
        now = self._clock()
        return sum(1 for t in self._admitted.get((user, history), ()) if t > now - window)

    def clear(self) -> None:
        self._admitted.clear()


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
