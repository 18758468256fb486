"""The hub stream reads the SDK's payload dicts in place (no copy): what it hands on is parsed
before the callback returns, so the SDK changing its dicts afterwards changes no event, delivered
at once or held while the account is being re-read."""

from __future__ import annotations

from typing import Any

from deskguard.broker.base import ConnectionHealth
from deskguard.broker.contracts import ContractBook
from deskguard.broker.stream import HubStream
from deskguard.engine.events import Event, PositionUpdated


class Listener:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def on_health(self, health: ConnectionHealth) -> None:
        pass


def _position(size: int) -> dict[str, Any]:
    return {"id": 7, "accountId": 1001, "contractId": "CON.F.US.MNQ.Z26", "type": 1, "size": size,
            "averagePrice": 21000.0, "creationTimestamp": "2026-12-04T15:00:00Z"}


def _stream() -> tuple[HubStream, Listener]:
    stream = HubStream(ConnectionHealth(), ContractBook())
    listener = Listener()
    stream.guard([1001], listener)  # type: ignore[arg-type]
    return stream, listener


def _sizes(events: list[Event]) -> list[int]:
    return [e.position.size for e in events if isinstance(e, PositionUpdated)]


def test_an_event_is_unchanged_when_the_sdk_changes_its_dict_afterwards() -> None:
    stream, listener = _stream()
    bare, wrapped = _position(3), {"action": 1, "data": _position(2)}
    stream.on_user_raw("position", bare)
    stream.on_user_raw("position", wrapped)
    bare["size"], wrapped["data"]["size"] = 9, 9  # as the SDK may, after its callbacks return
    bare["contractId"] = wrapped["data"]["contractId"] = "CON.F.US.MES.Z26"
    assert _sizes(listener.events) == [3, 2]
    assert {e.position.contract_id for e in listener.events} == {"CON.F.US.MNQ.Z26"}  # type: ignore[attr-defined]


def test_a_held_event_is_unchanged_when_the_sdk_changes_its_dict_before_the_release() -> None:
    stream, listener = _stream()
    stream.hold([1001])
    payload = _position(3)
    stream.on_user_raw("position", payload)
    payload["size"] = 9
    assert listener.events == []
    stream.release(1001, None)
    assert _sizes(listener.events) == [3]
