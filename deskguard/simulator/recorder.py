"""What the simulator saw and sent, with both clocks, for assertions and latency measurements.

``mono`` is ``time.perf_counter()`` (compare it with the test's own ``perf_counter`` readings in
the same process); ``wall`` is ``time.time()`` (for other processes). Logs are bounded rings.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deskguard.simulator.faults import normalize_endpoint

DEFAULT_LOG_LIMIT = 100_000


@dataclass(slots=True)
class RequestRecord:
    """One REST call received on ``/api``; ``status`` is filled in when the reply is sent."""

    seq: int
    mono: float
    wall: float
    method: str
    endpoint: str  # as sent, without the /api/ prefix: "Position/closeContract"
    body: Any  # the parsed JSON body; the raw text if it was not JSON
    status: int | None = None
    fault: str | None = None  # "delayed 1.0s", "failed 500", "rate limited", "refused close", …
    user: str | None = None  # whose request budget it counted against (None: not counted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "mono": self.mono,
            "wall": self.wall,
            "method": self.method,
            "endpoint": self.endpoint,
            "body": self.body,
            "status": self.status,
            "fault": self.fault,
            "user": self.user,
        }


@dataclass(slots=True)
class PushRecord:
    """One hub message written to a client connection (stamped when the write completed)."""

    seq: int
    mono: float
    wall: float
    hub: str
    connection_id: str
    target: str
    arguments: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "mono": self.mono,
            "wall": self.wall,
            "hub": self.hub,
            "connectionId": self.connection_id,
            "target": self.target,
            "arguments": self.arguments,
        }


@dataclass(slots=True)
class HubEventRecord:
    """Hub lifecycle: negotiate, connect, disconnect, refused, and client invocations."""

    seq: int
    mono: float
    wall: float
    hub: str
    kind: str  # negotiate | connect | disconnect | refused | invoke
    connection_id: str | None
    detail: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "mono": self.mono,
            "wall": self.wall,
            "hub": self.hub,
            "kind": self.kind,
            "connectionId": self.connection_id,
            "detail": self.detail,
        }


class Recorder:
    def __init__(self, limit: int = DEFAULT_LOG_LIMIT) -> None:
        self._seq = itertools.count(1)
        self.requests: deque[RequestRecord] = deque(maxlen=limit)
        self.pushes: deque[PushRecord] = deque(maxlen=limit)
        self.hub_events: deque[HubEventRecord] = deque(maxlen=limit)

    def request(self, method: str, endpoint: str, body: Any) -> RequestRecord:
        record = RequestRecord(next(self._seq), time.perf_counter(), time.time(), method, endpoint, body)
        self.requests.append(record)
        return record

    def push(self, hub: str, connection_id: str, target: str, arguments: list[Any]) -> PushRecord:
        record = PushRecord(next(self._seq), time.perf_counter(), time.time(), hub, connection_id, target, arguments)
        self.pushes.append(record)
        return record

    def hub_event(self, hub: str, kind: str, connection_id: str | None, detail: Any = None) -> None:
        self.hub_events.append(
            HubEventRecord(next(self._seq), time.perf_counter(), time.time(), hub, kind, connection_id, detail)
        )

    def clear(self) -> None:
        self.requests.clear()
        self.pushes.clear()
        self.hub_events.clear()

    # ----------------------------------------------------------------- filtered views

    def find_requests(self, endpoint: str | None = None, since: int = 0) -> list[RequestRecord]:
        key = normalize_endpoint(endpoint) if endpoint else None
        return [
            r for r in self.requests if r.seq > since and (key is None or normalize_endpoint(r.endpoint) == key)
        ]

    def find_pushes(self, hub: str | None = None, target: str | None = None, since: int = 0) -> list[PushRecord]:
        return [
            p
            for p in self.pushes
            if p.seq > since and (hub is None or p.hub == hub) and (target is None or p.target == target)
        ]

    def find_hub_events(self, hub: str | None = None, kind: str | None = None, since: int = 0) -> list[HubEventRecord]:
        return [
            e
            for e in self.hub_events
            if e.seq > since and (hub is None or e.hub == hub) and (kind is None or e.kind == kind)
        ]


def as_dicts(records: Iterable[RequestRecord | PushRecord | HubEventRecord]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in records]
