"""One event as each webhook format's HTTP request (rules.md "Notifications", ``format``).

``json``: a POST of ``{"event", "account", "rule", "message", "time"}``; ``discord``:
``{"content": …}``; ``slack``: ``{"text": …}``; ``ntfy``: the message as the body with a ``Title``
header; ``telegram``: the bot's ``sendMessage`` URL (``chat_id`` in its query) with the body
``{"chat_id", "text"}``. ``apprise`` is no HTTP request of ours: the sender hands title (the event)
and body (the message) to Apprise.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from ..redaction import redactor

DISCORD_LIMIT = 2000  # characters of a Discord message's content
TELEGRAM_LIMIT = 4096
URGENT_EVENTS = frozenset({"enforcement", "lock", "not_guarding", "alert"})


@dataclass(frozen=True, slots=True)
class Message:
    """One event to send: the json format's fields."""

    event: str  # enforcement, lock, lock_end, warning, not_guarding, guarding_again, alert
    account: str  # the account's name ("" for an event of no account)
    rule: str  # the rule key, e.g. daily_realized_loss ("" for connection events)
    message: str  # the plain-English sentence the audit log shows
    time: datetime

    @property
    def time_text(self) -> str:
        """ISO 8601 in UTC, e.g. ``2026-12-05T14:03:07Z``."""
        return self.time.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def title(self) -> str:
        """``DeskGuard lock: 50KTC-V2-123456-789`` — the event and the account."""
        return f"DeskGuard {self.event}" + (f": {self.account}" if self.account else "")

    @property
    def text(self) -> str:
        """Title and message in one line of text (discord, slack, telegram)."""
        return f"{self.title} — {self.message}"

    def redacted(self) -> Message:
        """The same message with every secret (the API key, webhook URLs) blanked."""
        return Message(self.event, redactor(self.account), self.rule, redactor(self.message), self.time)


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    url: str
    headers: dict[str, str]
    body: bytes


_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _header_text(text: str) -> str:
    """A header value HTTP can carry: ASCII as is, anything else as RFC 2047 (ntfy decodes it)."""
    if text.isascii():
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_request(url: str, fmt: str, message: Message) -> WebhookRequest:
    """The POST that delivers ``message`` to a webhook of format ``fmt`` (not ``apprise``)."""
    m = message.redacted()
    if fmt == "json":
        body = {"event": m.event, "account": m.account, "rule": m.rule, "message": m.message, "time": m.time_text}
        return WebhookRequest(url, dict(_JSON), _json(body))
    if fmt == "discord":
        return WebhookRequest(url, dict(_JSON), _json({"content": _clip(m.text, DISCORD_LIMIT)}))
    if fmt == "slack":
        return WebhookRequest(url, dict(_JSON), _json({"text": m.text}))
    if fmt == "ntfy":
        headers = {"Content-Type": "text/plain; charset=utf-8", "Title": _header_text(m.title),
                   "Tags": m.event, "Priority": "high" if m.event in URGENT_EVENTS else "default"}
        return WebhookRequest(url, headers, m.message.encode("utf-8"))
    if fmt == "telegram":
        chat = parse_qs(urlsplit(url).query).get("chat_id", [""])[0]
        return WebhookRequest(url, dict(_JSON), _json({"chat_id": chat, "text": _clip(m.text, TELEGRAM_LIMIT)}))
    raise ValueError(f"no HTTP request for webhook format {fmt!r}")


def sample_message(now: datetime | None = None) -> Message:
    """What Settings → Notifications → "Send test" sends."""
    return Message("warning", "", "", "Test from DeskGuard: this webhook works.", now or datetime.now(UTC))
