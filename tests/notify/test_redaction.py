"""One redaction, one rule set: the logs' filter, the store and the SDK log bridge agree."""

from __future__ import annotations

import logging

import pytest

from deskguard import secrets
from deskguard.broker import sdk_logging
from deskguard.redaction import REDACTED, RedactingFilter, Redactor, redactor, url_secrets
from deskguard.store import redaction as store_redaction

KEY = "abc"  # short secrets are redacted too: a key is never shown, however short


def test_the_three_users_share_one_implementation() -> None:
    assert store_redaction.Redactor is Redactor
    assert secrets.redactor is redactor and secrets.RedactingFilter is RedactingFilter
    assert sdk_logging.RedactingFilter is RedactingFilter


@pytest.mark.parametrize("bad", ["", "   ", "\n"])
def test_an_empty_or_blank_secret_is_refused_everywhere(bad: str) -> None:
    with pytest.raises(ValueError):
        Redactor().add(bad)
    with pytest.raises(ValueError):
        Redactor([bad])
    Redactor().add_optional(None)  # nothing loaded: nothing to hide, no error
    Redactor().add_optional("")


def test_same_rules_in_every_user() -> None:
    mine = Redactor([KEY])
    text = f"key {KEY} url /negotiate?access_token=eyJ.a.b&id=1 header Bearer eyJ.c.d"
    assert mine(text) == f"key {REDACTED} url /negotiate?access_token={REDACTED}&id=1 header Bearer {REDACTED}"
    sdk_logging.register_secret("sdk-bridge-secret-42")
    assert "sdk-bridge-secret-42" in redactor.secrets()  # the SDK bridge registers in the process's one
    assert sdk_logging.redact("x sdk-bridge-secret-42 Bearer tok") == "x *** Bearer ***"
    assert redactor("x sdk-bridge-secret-42") == f"x {REDACTED}"


def test_longest_first_so_a_secret_inside_another_never_half_shows() -> None:
    r = Redactor(["token", "token-and-more"])
    assert r("a token-and-more b token") == f"a {REDACTED} b {REDACTED}"


def test_the_filter_redacts_message_args_and_traceback() -> None:
    r = Redactor(["s3cr3t-value"])
    try:
        raise RuntimeError("boom s3cr3t-value")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login %s", ("s3cr3t-value",), exc_info)
    RedactingFilter(r).filter(record)
    assert record.getMessage() == f"login {REDACTED}"
    assert record.exc_info is None and "s3cr3t-value" not in (record.exc_text or "")
    assert "RuntimeError" in (record.exc_text or "")


def test_a_webhook_url_and_its_token_part_are_secrets() -> None:
    url = "https://discord.com/api/webhooks/123/TOKENabc?wait=true"
    parts = url_secrets(url)
    r = Redactor(parts)
    assert r(f"POST {url} failed") == f"POST {REDACTED} failed"
    assert "TOKENabc" not in r("path /api/webhooks/123/TOKENabc?wait=true")
    assert "TOKENabc" not in r("aiohttp: discord.com/api/webhooks/123/TOKENabc?wait=true")
    assert url_secrets("https://u:pw-123@example.com/x")[-2:] == ["pw-123", "u:pw-123@example.com/x"]
    assert url_secrets("  ") == []
    # A short path is no token: "/api" is not blanked in every log line (the gateway's URLs end so).
    assert url_secrets("https://example.com/api") == ["https://example.com/api", "example.com/api"]
