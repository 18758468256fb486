"""Each webhook format's request, as a receiver on 127.0.0.1 gets it; retries, timeout, Apprise."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import pytest
from webhook_receiver import webhook_receiver

from deskguard.notify import Message, WebhookSender, send_test
from deskguard.redaction import RedactingFilter, redactor

pytestmark = pytest.mark.asyncio

AT = datetime(2026, 12, 4, 21, 3, 7, tzinfo=UTC)
API_KEY = "formats-API-key-never-shown-42"
MESSAGE = Message("lock", "50KTC-V2-123456-789", "daily_realized_loss",
                  f"Locked until the reset: daily loss of −$612.50 past the $500 limit (key {API_KEY})", AT)
SENTENCE = "Locked until the reset: daily loss of −$612.50 past the $500 limit (key [redacted])"


@pytest.fixture(autouse=True)
def _key_is_a_secret() -> None:
    redactor.add(API_KEY)


async def _send(fmt: str, path: str, message: Message = MESSAGE, **kw) -> tuple:  # type: ignore[no-untyped-def]
    async with webhook_receiver() as rx:
        sender = WebhookSender(**kw)
        result = await sender.deliver(f"{rx.url}{path}", fmt, message)
        await sender.close()
        return result, rx.received


async def test_json() -> None:
    result, (got,) = await _send("json", "/json/hook")
    assert result.ok and result.status == 200 and str(result) == "HTTP 200 OK"
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.json() == {"event": "lock", "account": "50KTC-V2-123456-789", "rule": "daily_realized_loss",
                          "message": SENTENCE, "time": "2026-12-04T21:03:07Z"}


async def test_discord_and_slack() -> None:
    text = f"DeskGuard lock: 50KTC-V2-123456-789 — {SENTENCE}"
    _, (got,) = await _send("discord", "/api/webhooks/1/tok")
    assert got.json() == {"content": text} and got.headers["Content-Type"].startswith("application/json")
    _, (got,) = await _send("slack", "/services/T/B/x")
    assert got.json() == {"text": text} and got.headers["Content-Type"].startswith("application/json")


async def test_discord_content_is_clipped_to_its_limit() -> None:
    long = Message("warning", "A", "r", "x" * 5000, AT)
    _, (got,) = await _send("discord", "/d", long)
    assert len(got.json()["content"]) == 2000


async def test_ntfy_body_is_the_message_with_a_title_header() -> None:
    _, (got,) = await _send("ntfy", "/my-topic")
    assert got.text == SENTENCE
    assert got.headers["Title"] == "DeskGuard lock: 50KTC-V2-123456-789"
    assert got.headers["Priority"] == "high" and got.headers["Tags"] == "lock"
    assert got.headers["Content-Type"] == "text/plain; charset=utf-8"
    # A title that is not ASCII travels RFC 2047-encoded (ntfy decodes it).
    _, (got,) = await _send("ntfy", "/t", Message("warning", "Compte-é", "", "m", AT))
    assert got.headers["Title"].startswith("=?UTF-8?B?") and got.headers["Priority"] == "default"


async def test_telegram_posts_chat_id_and_text_to_the_send_message_url() -> None:
    _, (got,) = await _send("telegram", "/bot123:AA-tok/sendMessage?chat_id=-100042")
    assert got.path == "/bot123:AA-tok/sendMessage" and got.query == {"chat_id": "-100042"}
    assert got.json() == {"chat_id": "-100042", "text": f"DeskGuard lock: 50KTC-V2-123456-789 — {SENTENCE}"}
    assert got.headers["Content-Type"].startswith("application/json")


async def test_apprise_json_url_goes_through_apprise() -> None:
    async with webhook_receiver() as rx:
        host = rx.url.removeprefix("http://")
        result = await WebhookSender().deliver(f"json://{host}/apprise/in", "apprise", MESSAGE)
        assert result.ok, result
        (got,) = rx.on("/apprise/in")
        body = got.json()
        assert body["title"] == "lock" and body["message"] == SENTENCE


async def test_apprise_refuses_an_unknown_url() -> None:
    result = await WebhookSender().deliver("nosuchservice://x/y", "apprise", MESSAGE)
    assert not result.ok and "does not recognise" in result.detail


async def test_5xx_is_retried_with_backoff_4xx_is_final() -> None:
    async with webhook_receiver() as rx:
        rx.fail_next = 2
        sender = WebhookSender(retry_delays=(0.2, 0.4))
        started = time.monotonic()
        result = await sender.deliver(f"{rx.url}/flaky", "json", MESSAGE)
        assert result.ok and result.attempts == 3 and len(rx.on("/flaky")) == 3
        assert time.monotonic() - started >= 0.6  # both pauses were taken
        result = await sender.deliver(f"{rx.url}/status/404/x", "json", MESSAGE)
        assert not result.ok and result.status == 404 and result.attempts == 1
        rx.fail_next = 5
        result = await sender.deliver(f"{rx.url}/down", "json", MESSAGE)
        assert not result.ok and result.attempts == 3 and str(result) == "HTTP 500 Internal Server Error after 3 tries"
        await sender.close()


async def test_a_webhook_that_never_answers_times_out() -> None:
    async with webhook_receiver() as rx:
        sender = WebhookSender(timeout_s=0.3, retry_delays=(0.1,))
        started = time.monotonic()
        result = await sender.deliver(f"{rx.url}/hang/x", "json", MESSAGE)
        assert not result.ok and result.detail == "no answer within 0.3s" and result.attempts == 2
        assert time.monotonic() - started < 3
        await sender.close()


async def test_submit_returns_at_once_and_close_cancels_what_hangs() -> None:
    async with webhook_receiver() as rx:
        sender = WebhookSender(timeout_s=30)
        started = time.monotonic()
        for _ in range(20):
            sender.submit(f"{rx.url}/hang/x", "json", MESSAGE)
        assert time.monotonic() - started < 0.1 and sender.in_flight == 20
        await asyncio.sleep(0.3)
        assert rx.hanging == 20
        await sender.close(timeout=0.1)
        assert sender.in_flight == 0


async def test_failures_are_logged_without_the_url_or_the_key(caplog: pytest.LogCaptureFixture) -> None:
    async with webhook_receiver() as rx:
        url = f"{rx.url}/status/500/SECRET-topic-token-77"
        with caplog.at_level(logging.DEBUG):
            result = await send_test(url, "ntfy")
        assert not result.ok and result.status == 500 and result.attempts == 1
        (got,) = rx.received
        assert "Test from DeskGuard" in got.text
    ours = [r for r in caplog.records if r.name.startswith("deskguard")]
    logged = "\n".join(r.getMessage() for r in ours)
    assert "webhook (127.0.0.1)" in logged and "not sent" in logged
    assert "SECRET-topic-token-77" not in logged and API_KEY not in logged
    # A library that logs the URL itself (aiohttp's access log, say) is blanked by the logs' filter.
    record = logging.LogRecord("aiohttp.client", logging.INFO, __file__, 1, "POST %s", (url,), None)
    RedactingFilter().filter(record)
    assert "SECRET-topic-token-77" not in record.getMessage()


async def test_send_test_reports_a_connection_refused() -> None:
    async with webhook_receiver() as rx:
        url = rx.url
    result = await send_test(f"{url}/gone", "json", timeout_s=2)
    assert not result.ok and result.status is None and result.detail.startswith("could not send")
