"""A webhook receiver on 127.0.0.1 for the notification tests: records every request it gets.

Paths decide the answer: ``/hang/…`` never answers (until the receiver stops), ``/status/<n>/…``
answers HTTP ``n``, anything else 200; ``fail_next`` makes the next answers of any path 500s."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float  # loop time

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    hanging: int = 0  # requests being held without an answer
    fail_next: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def events(self, path: str) -> list[str]:
        """The json format's ``event`` of every request to ``path``."""
        return [r.json()["event"] for r in self.on(path)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        loop = asyncio.get_running_loop()
        self.received.append(Received(request.path, dict(request.query), dict(request.headers), body, loop.time()))
        if request.path.startswith("/hang/"):
            self.hanging += 1
            try:
                await self._stop.wait()
            finally:
                self.hanging -= 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500, text="try again")
        if request.path.startswith("/status/"):
            return web.Response(status=int(request.path.split("/")[2]), text="as asked")
        return web.json_response({"ok": True})


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver._handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started: it has its socket
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        receiver._stop.set()
        await runner.cleanup()
