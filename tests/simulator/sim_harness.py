"""Helpers shared by the simulator tests: bounded waits and a minimal raw SignalR client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import aiohttp

RS = "\x1e"

# Front months depend on the date; tests that assert exact contract ids pin it.
PINNED_TODAY = date(2026, 11, 25)


async def wait_until(predicate: Callable[[], object], timeout: float = 3.0, interval: float = 0.01) -> None:
    """Poll ``predicate`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def login(session: aiohttp.ClientSession, base_url: str, user: str = "tester", key: str = "k" * 16) -> str:
    async with session.post(f"{base_url}/api/Auth/loginKey", json={"userName": user, "apiKey": key}) as resp:
        body = await resp.json()
    assert body["success"], body
    return str(body["token"])


class RawHubClient:
    """Just enough SignalR to test the server side: negotiate, handshake, send, collect."""

    def __init__(self, session: aiohttp.ClientSession, hub_url: str, token: str) -> None:
        self._session = session
        self._hub_url = hub_url
        self._token = token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.messages: list[dict[str, Any]] = []
        self.raw_frames: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        async with self._session.post(f"{self._hub_url}/negotiate", params={"access_token": self._token}) as resp:
            assert resp.status == 200, resp.status
            negotiated = await resp.json()
        ws_url = self._hub_url.replace("http://", "ws://")
        self.ws = await self._session.ws_connect(
            ws_url, params={"access_token": self._token, "id": negotiated["connectionId"]}
        )
        await self.ws.send_str(json.dumps({"protocol": "json", "version": 1}) + RS)
        reply = await self.ws.receive_str(timeout=3)
        assert reply == "{}" + RS, reply
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            self.raw_frames.append(message.data)
            for record in message.data.split(RS):
                if record:
                    try:
                        self.messages.append(json.loads(record))
                    except ValueError:
                        self.messages.append({"invalid": record})

    async def invoke(self, target: str, *arguments: Any, invocation_id: str | None = None) -> None:
        assert self.ws is not None
        message: dict[str, Any] = {"type": 1, "target": target, "arguments": list(arguments)}
        if invocation_id is not None:
            message["invocationId"] = invocation_id
        await self.ws.send_str(json.dumps(message) + RS)

    def invocations(self, target: str) -> list[list[Any]]:
        return [m["arguments"] for m in self.messages if m.get("type") == 1 and m.get("target") == target]

    @property
    def closed(self) -> bool:
        return self.ws is None or self.ws.closed

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 3)
