"""Delivers webhook messages in the background: bounded retries with backoff, a short timeout.

A message is handed over with :meth:`WebhookSender.submit` (returns at once) and sent by a task of
its own, so the guard never waits for a webhook. A send that gets no answer, a 5xx or a 429 is
tried again after ``retry_delays`` (three tries in all by default); any other answer is final.
Every failure is logged with the webhook's format and host only — the URL may hold a token, and
is registered with the redactor besides.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..redaction import redactor, url_secrets
from .formats import Message, render_request, sample_message

log = logging.getLogger("deskguard.notify")

TIMEOUT_S = 5.0  # per try: connect, send and read the answer
RETRY_DELAYS_S = (1.0, 3.0)  # pauses before the second and the third try
MAX_IN_FLIGHT = 200  # messages waiting or being sent; beyond it the oldest wait is not worth more


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status: int | None  # the HTTP status of the last answer (None: no answer, or Apprise)
    detail: str  # "HTTP 200 OK", "no answer within 5s", …
    attempts: int = 1

    def __str__(self) -> str:
        tries = f" after {self.attempts} tries" if self.attempts > 1 else ""
        return f"{self.detail}{tries}"


def describe(url: str, fmt: str) -> str:
    """A webhook in a log line: its format and host, never its path (it may be a token)."""
    parts = urlsplit(url)
    return f"{fmt} webhook ({parts.hostname or parts.scheme or 'no host'})"


class WebhookSender:
    def __init__(self, *, timeout_s: float = TIMEOUT_S, retry_delays: Sequence[float] = RETRY_DELAYS_S) -> None:
        self.timeout_s = timeout_s
        self.retry_delays = tuple(retry_delays)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[SendResult]] = set()
        self.results: deque[tuple[str, str, SendResult]] = deque(maxlen=100)  # (event, webhook, result)

    # ----- in the background ----------------------------------------------------------------

    def submit(self, url: str, fmt: str, message: Message) -> None:
        """Send ``message`` soon, in a task of its own; returns at once."""
        if len(self._tasks) >= MAX_IN_FLIGHT:
            log.warning("too many webhook messages waiting; %s not sent: %s", describe(url, fmt), message.event)
            return
        task = asyncio.get_running_loop().create_task(self.deliver(url, fmt, message),
                                                      name=f"webhook-{message.event}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[SendResult]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook task failed: %s", redactor(repr(task.exception())))

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def close(self, timeout: float = 2.0) -> None:
        """Give messages on their way ``timeout`` seconds, then cancel the rest and close."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ----- one message, with retries --------------------------------------------------------

    async def deliver(self, url: str, fmt: str, message: Message) -> SendResult:
        """Send ``message``, trying again after each pause in ``retry_delays`` while the failure is
        worth another try; the result of the last try."""
        attempts = 0
        while True:
            attempts += 1
            result = await self._attempt(url, fmt, message)
            worth_again = not result.ok and (result.status is None or result.status >= 500 or result.status == 429)
            if result.ok or not worth_again or attempts > len(self.retry_delays):
                break
            await asyncio.sleep(self.retry_delays[attempts - 1])
        result = SendResult(result.ok, result.status, result.detail, attempts)
        self.results.append((message.event, describe(url, fmt), result))
        if result.ok:
            log.debug("%s: %s sent (%s)", describe(url, fmt), message.event, result)
        else:
            log.warning("%s: %s not sent: %s", describe(url, fmt), message.event, redactor(str(result)))
        return result

    async def _attempt(self, url: str, fmt: str, message: Message) -> SendResult:
        if fmt == "apprise":
            return await self._apprise(url, message)
        request = render_request(url, fmt, message)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        try:
            async with self._session.post(request.url, data=request.body, headers=request.headers,
                                          allow_redirects=False) as reply:
                await reply.read()
                return SendResult(200 <= reply.status < 300, reply.status, f"HTTP {reply.status} {reply.reason or ''}".strip())
        except TimeoutError:
            return SendResult(False, None, f"no answer within {self.timeout_s:g}s")
        except aiohttp.ClientError as exc:
            return SendResult(False, None, f"could not send: {type(exc).__name__}: {redactor(str(exc))}")

    async def _apprise(self, url: str, message: Message) -> SendResult:
        """Through Apprise's async API: title = the event, body = the message."""
        loop = asyncio.get_running_loop()
        apprise: Any = await loop.run_in_executor(None, importlib.import_module, "apprise")  # a heavy import
        sender = apprise.Apprise()
        if not sender.add(url):
            return SendResult(False, None, "Apprise does not recognise this URL")
        m = message.redacted()
        try:
            ok = await asyncio.wait_for(sender.async_notify(body=m.message, title=m.event), self.timeout_s)
        except TimeoutError:
            return SendResult(False, None, f"no answer within {self.timeout_s:g}s")
        except Exception as exc:  # Apprise's plugins may raise anything
            return SendResult(False, None, f"Apprise failed: {type(exc).__name__}: {redactor(str(exc))}")
        return SendResult(True, None, "sent through Apprise") if ok else SendResult(False, None, "Apprise could not send it")


async def send_test(url: str, fmt: str, *, timeout_s: float = TIMEOUT_S) -> SendResult:
    """Settings → Notifications → "Send test": one message, one try, the HTTP result."""
    for secret in url_secrets(url):
        redactor.add(secret)
    sender = WebhookSender(timeout_s=timeout_s, retry_delays=())
    try:
        return await sender.deliver(url, fmt, sample_message())
    finally:
        with contextlib.suppress(Exception):
            await sender.close()
