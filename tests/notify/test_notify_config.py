"""[notifications]: not_guarding_after and webhooks, strictly validated, kept by a round-trip save."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from deskguard.config import ConfigError, DeskGuardConfig, load_config, loads_config, save_config

RULE_BOOK_EXAMPLE = """
[notifications]
enabled = true                         # tray notifications (with `sound`, as today)
not_guarding_after = "30s"             # how long the app may be unable to guard before it alerts
webhooks = [
  { url = "https://ntfy.sh/my-topic", format = "ntfy", on = ["enforcement", "lock", "not_guarding", "warning"] },
]
"""


def test_the_rule_books_example_reads() -> None:
    n = loads_config(RULE_BOOK_EXAMPLE).notifications
    assert n.enabled and n.not_guarding_after == timedelta(seconds=30)
    (hook,) = n.webhooks
    assert (hook.url, hook.format, hook.on) == ("https://ntfy.sh/my-topic", "ntfy",
                                                ("enforcement", "lock", "not_guarding", "warning"))


def test_defaults() -> None:
    n = DeskGuardConfig().notifications
    assert n.not_guarding_after == timedelta(seconds=30) and n.webhooks == ()


def test_every_format_and_event_is_accepted() -> None:
    text = """
[notifications]
not_guarding_after = "1h30m"
webhooks = [
  { url = "https://example.com/hook", format = "json", on = ["enforcement", "lock", "lock_end", "warning",
    "not_guarding", "guarding_again", "alert"] },
  { url = "https://discord.com/api/webhooks/1/abc", format = "discord", on = ["lock"] },
  { url = "https://hooks.slack.com/services/T/B/x", format = "slack", on = ["lock"] },
  { url = "https://ntfy.sh/topic", format = "ntfy", on = ["lock"] },
  { url = "https://api.telegram.org/bot1:AA/sendMessage?chat_id=42", format = "telegram", on = ["lock"] },
  { url = "tgram://bottoken/ChatID", format = "apprise", on = ["lock"] },
  { url = "http://127.0.0.1:9/local", on = ["alert"] },
]
"""
    n = loads_config(text).notifications
    assert [h.format for h in n.webhooks] == ["json", "discord", "slack", "ntfy", "telegram", "apprise", "json"]
    assert n.not_guarding_after == timedelta(hours=1, minutes=30)
    assert len(n.webhooks[0].on) == 7


@pytest.mark.parametrize(("entry", "key", "words"), [
    ('not_guarding_after = "soon"', "notifications.not_guarding_after", "is not a duration"),
    ("not_guarding_after = 30", "notifications.not_guarding_after", "must be a duration"),
    ('not_guarding_after = "0s"', "notifications.not_guarding_after", "not a positive duration"),
    ('webhooks = [{ url = "https://x.example/h", formt = "json" }]', "notifications.webhooks[0].formt",
     "did you mean format?"),
    ('webhooks = [{ url = "https://x.example/h", format = "teams" }]', "notifications.webhooks[0].format",
     "must be one of"),
    ('webhooks = [{ url = "https://x.example/h", on = ["lck"] }]', "notifications.webhooks[0].on[0]",
     'did you mean "lock"?'),
    ('webhooks = [{ url = "https://x.example/h", on = [] }]', "notifications.webhooks[0].on", "at least one event"),
    ('webhooks = [{ url = "https://x.example/h", on = ["lock", "lock"] }]', "notifications.webhooks[0].on",
     "lock more than once"),
    ('webhooks = [{ url = "http://example.com/secret-topic" }]', "notifications.webhooks[0].url", "https://"),
    ('webhooks = [{ url = "https://api.telegram.org/botT/sendMessage", format = "telegram" }]',
     "notifications.webhooks[0].url", "chat_id"),
    ('webhooks = [{ url = "nothing", format = "apprise" }]', "notifications.webhooks[0].url", "Apprise URL"),
    ('webhooks = [{ format = "json" }]', "notifications.webhooks[0].url", "is required"),
    ('webhooks = { url = "https://x.example/h" }', "notifications.webhooks", "must be a list"),
])
def test_bad_values_name_the_key(entry: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config(f"[notifications]\n{entry}\n")
    text = str(caught.value)
    assert f"{key}:" in text and words in text, text


def test_a_url_no_format_takes_is_named_beside_a_bad_format() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config('[notifications]\nwebhooks = [{ url = "example.com/hook", format = "teams" }]\n')
    text = str(caught.value)
    assert "notifications.webhooks[0].format: must be one of" in text, text
    assert "notifications.webhooks[0].url: is not a URL for any format" in text, text


@pytest.mark.parametrize("url", ["https://x.example/h", "tgram://bottoken/ChatID"])
def test_with_a_bad_format_a_url_some_format_takes_is_not_blamed(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config(f'[notifications]\nwebhooks = [{{ url = "{url}", format = "teams" }}]\n')
    assert "webhooks[0].url" not in str(caught.value)


def test_an_error_never_shows_the_urls_token() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config('[notifications]\nwebhooks = [{ url = "http://example.com/tok-SECRET-123" }]\n')
    assert "tok-SECRET-123" not in str(caught.value)


def test_a_round_trip_save_keeps_them_and_the_comments(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(RULE_BOOK_EXAMPLE)
    cfg = load_config(path)
    hooks = [h.model_dump() for h in cfg.notifications.webhooks]
    hooks.append({"url": "http://127.0.0.1:9/h", "format": "slack", "on": ["alert", "lock_end"]})
    changed = cfg.with_section("notifications", not_guarding_after="2m", webhooks=hooks)
    save_config(changed, path)
    text = path.read_text()
    assert "# how long the app may be unable to guard before it alerts" in text
    assert 'not_guarding_after = "2m"' in text
    again = load_config(path)
    assert again == changed
    assert [h.format for h in again.notifications.webhooks] == ["ntfy", "slack"]
    assert again.notifications.not_guarding_after == timedelta(minutes=2)
    # An unrelated change leaves the webhooks as written.
    save_config(again.with_section("ui", theme="dark"), path)
    assert load_config(path).notifications == again.notifications
