"""User-hub events reach the guard's plain callbacks at once and in the hub's order
(``GuardRealtimeClient._schedule_async_task``); with a coroutine callback registered, the SDK's own
path delivers them (later, through a task)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from deskguard.broker.realtime import GuardRealtimeClient
from deskguard.broker.session import build_sdk_config

pytestmark = pytest.mark.asyncio


def _client() -> GuardRealtimeClient:
    config = build_sdk_config("http://127.0.0.1:9/api", "http://127.0.0.1:9/hubs/user",
                              "http://127.0.0.1:9/hubs/market", 5.0)
    return GuardRealtimeClient("token", [1001, 1002], config)


async def test_plain_callbacks_get_each_user_event_at_once_in_the_hubs_order() -> None:
    client = _client()
    seen: list[tuple[str, Any]] = []
    for kind in ("account_update", "position_update", "order_update", "trade_execution"):
        await client.add_callback(kind, lambda data, kind=kind: seen.append((kind, data)))

    # As pysignalr calls the SDK's handlers, on the loop: no await in between.
    client._forward_order_update({"id": 1})
    client._forward_trade_execution({"id": 2})
    client._forward_position_update({"id": 3})
    client._forward_account_update({"id": 4})

    assert seen == [("order_update", {"id": 1}), ("trade_execution", {"id": 2}),
                    ("position_update", {"id": 3}), ("account_update", {"id": 4})]
    assert client.stats["events_received"] == 4


async def test_with_a_coroutine_callback_the_sdks_path_delivers_them() -> None:
    client = _client()
    seen: list[Any] = []

    async def on_order(data: Any) -> None:
        seen.append(data)

    await client.add_callback("order_update", on_order)
    client._forward_order_update({"id": 1})
    assert seen == []  # not at once: a task of the SDK's
    for _ in range(20):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == [{"id": 1}]


async def test_a_coroutine_callback_added_or_removed_later_changes_the_path_at_once() -> None:
    """Whether a coroutine callback is registered is remembered between events, and asked again
    after every add and remove: one added after events went the direct way is never called
    without being awaited."""
    client = _client()
    direct: list[Any] = []
    later: list[Any] = []
    await client.add_callback("order_update", direct.append)
    client._forward_order_update({"id": 1})
    assert direct == [{"id": 1}]  # the direct way, and the answer remembered

    async def on_order(data: Any) -> None:
        later.append(data)

    await client.add_callback("order_update", on_order)
    client._forward_order_update({"id": 2})
    assert direct == [{"id": 1}]  # the SDK's path now: through a task, both callbacks awaited
    for _ in range(20):
        if later:
            break
        await asyncio.sleep(0.01)
    assert later == [{"id": 2}] and direct == [{"id": 1}, {"id": 2}]

    await client.remove_callback("order_update", on_order)
    client._forward_order_update({"id": 3})
    assert direct[-1] == {"id": 3}  # at once again
