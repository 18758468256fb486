"""Webhooks through the simulator and the real SDK, judged at a receiver on 127.0.0.1: a breach's
enforcement and lock arrive within 2 s; not_guarding after the configured delay while the hubs are
down and reconnects refused, guarding_again after; a webhook that never answers adds nothing to
enforcement time; no message, log line or audit entry holds the API key or the URL's token."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import pytest
from guardian_harness import ACCOUNT, API_KEY, MNQ_PRICE, OTHER, ok, settings_with, sim_flat, stays, wait_for
from webhook_receiver import webhook_receiver

from deskguard.config.model import WEBHOOK_EVENTS, NotificationSettings, Webhook
from deskguard.notify import Message, Notifier, WebhookSender
from deskguard.redaction import RedactingFilter

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

DAILY_LOSS_100 = {"daily_realized_loss": {"max_loss": 100.0}, "cooldown_after_loss": {"enabled": False}}
URL_TOKEN = "SECRET-URL-TOKEN-5f3a9c"


def settings(*hooks: tuple[str, str], after: float = 30.0) -> NotificationSettings:
    return NotificationSettings(not_guarding_after=timedelta(seconds=after),
                                webhooks=tuple(Webhook(url=url, format=fmt, on=WEBHOOK_EVENTS) for url, fmt in hooks))


def attach(rig, notifications: NotificationSettings, sender: WebhookSender | None = None) -> Notifier:  # type: ignore[no-untyped-def]
    """The notifier as the runtime attaches it."""
    guardian = rig.guardian
    notifier = Notifier(notifications, account_name=lambda a: guardian.account_info[a].name,
                        sender=sender, health_detail=lambda: guardian.health.detail, snapshot=guardian.snapshot)
    guardian.add_observer(notifier)
    rig.extra.setdefault("notifiers", []).append(notifier)
    return notifier


async def close_all(rig) -> None:  # type: ignore[no-untyped-def]
    for notifier in rig.extra.get("notifiers", []):
        await notifier.close()


async def hold(rig, account: int, symbol: str, side: str, size: int) -> None:  # type: ignore[no-untyped-def]
    ok(rig.sim.place_order(account, symbol, side, size))
    await wait_for(lambda: any(p.symbol == symbol for p in rig.snap(account).positions), 3, f"guardian sees {symbol}")


async def breach(rig, account: int) -> float:  # type: ignore[no-untyped-def]
    """A −$120 realized loss past the $100 limit with MES still open: the seconds from the losing
    close to the account flat at the gateway (the flatten verified by the simulator's own state)."""
    rig.sim.set_price("MNQ", MNQ_PRICE)
    await hold(rig, account, "MES", "buy", 1)
    await hold(rig, account, "MNQ", "buy", 2)
    rig.sim.set_price("MNQ", MNQ_PRICE - 30)
    started = time.monotonic()
    ok(rig.sim.close_position(account, "MNQ"))
    await wait_for(lambda: sim_flat(rig.sim, account), 5, f"account {account} flat at the gateway", interval=0.005)
    return time.monotonic() - started


async def test_a_breach_sends_enforcement_and_lock_within_2s_and_no_secret(sim, make_guardian, caplog):
    async with webhook_receiver() as rx:
        rig = await make_guardian(settings_with(**DAILY_LOSS_100))
        failing = f"{rx.url}/status/500/{URL_TOKEN}"  # every send fails: its warnings are logged
        attach(rig, settings((f"{rx.url}/hook/{URL_TOKEN}", "json"), (failing, "ntfy")),
               WebhookSender(retry_delays=(0.05,)))
        with caplog.at_level(logging.DEBUG):
            await hold(rig, ACCOUNT, "MES", "buy", 1)
            await hold(rig, ACCOUNT, "MNQ", "buy", 2)
            sim.set_price("MNQ", MNQ_PRICE - 30)
            started = asyncio.get_running_loop().time()
            ok(sim.close_position(ACCOUNT, "MNQ"))
            path = f"/hook/{URL_TOKEN}"
            await wait_for(lambda: {"enforcement", "lock"} <= set(rx.events(path)), 2.0,
                           "enforcement and lock at the webhook within 2 s")
            await wait_for(lambda: len(rx.on(failing.removeprefix(rx.url))) >= 4, 3, "the failing hook tried twice")
            await close_all(rig)

        bodies = {r.json()["event"]: r for r in rx.on(path)}
        closes = sim.requests("Position/closeContract")
        assert closes, "the flatten closed MES at the gateway"
        for event in ("enforcement", "lock"):
            got = bodies[event]
            assert got.at - started < 2.0
            body = got.json()
            assert set(body) == {"event", "account", "rule", "message", "time"}
            assert body["account"] == rig.guardian.account_info[ACCOUNT].name
            assert body["rule"] == "daily_realized_loss" and body["time"].endswith("Z")
        # The message is the sentence the audit log shows.
        audit = {e.detail for e in rig.store.audit_entries(account_id=ACCOUNT)}
        assert bodies["lock"].json()["message"] in audit and bodies["enforcement"].json()["message"] in audit

        everything = [r.text for r in rx.received] + [str(r.headers) for r in rx.received]
        everything += [str(e) for e in rig.store.audit_entries()]
        ours = [r for r in caplog.records if r.name.startswith("deskguard")]
        assert any("not sent" in r.getMessage() for r in ours), "the failing webhook was logged"
        redact = RedactingFilter()
        for record in caplog.records:  # as the app's log handlers write every record
            redact.filter(record)
            everything.append(record.getMessage() + (record.exc_text or ""))
        for text in everything:
            assert API_KEY not in text and URL_TOKEN not in text, text


async def test_not_guarding_after_the_delay_once_then_guarding_again(sim, make_guardian):
    async with webhook_receiver() as rx:
        rig = await make_guardian(settings_with(**DAILY_LOSS_100), accounts=[ACCOUNT])
        attach(rig, settings((f"{rx.url}/h", "json"), after=2.0))
        await hold(rig, ACCOUNT, "MNQ", "buy", 1)

        # A blip shorter than not_guarding_after sends nothing.
        sim.drop_hub_connections(refuse_s=0.5)
        await wait_for(lambda: any(not h.guarding for h in rig.watcher.healths), 3, "the blip is seen")
        await wait_for(lambda: rig.guardian.health.guarding and ACCOUNT in rig.guardian._resynced, 8, "back")
        await stays(lambda: not rx.received, 2.5, "nothing sent for a blip")

        # Down, with reconnects refused for 6 s: not_guarding once, after the delay.
        dropped = asyncio.get_running_loop().time()
        sim.drop_hub_connections(refuse_s=6.0)
        await wait_for(lambda: "not_guarding" in rx.events("/h"), 5, "not_guarding sent")
        (sent,) = rx.on("/h")  # one account guarded: one message (each account gets its own)
        assert sent.at - dropped >= 2.0
        body = sent.json()
        assert body["account"] == rig.guardian.account_info[ACCOUNT].name and body["rule"] == ""
        assert "not guarding for 2 s" in body["message"] or "not guarding for 3 s" in body["message"]
        await stays(lambda: rx.events("/h") == ["not_guarding"], 1.5, "sent once")

        await wait_for(lambda: "guarding_again" in rx.events("/h"), 15, "guarding_again after the reconnect")
        assert rx.events("/h") == ["not_guarding", "guarding_again"]
        again = rx.on("/h")[1].json()["message"]
        assert "blind" in again and "1 open position(s) (MNQ 1)" in again and "0 working order(s)" in again
        assert rx.on("/h")[1].at - dropped >= 6.0  # only once the refusal ended and the re-sync read
        await close_all(rig)


async def test_a_webhook_that_never_answers_adds_nothing_to_enforcement_time(sim, make_guardian):
    async with webhook_receiver() as rx:
        rig = await make_guardian(settings_with(**DAILY_LOSS_100))
        notifier = attach(rig, settings(), WebhookSender(timeout_s=60))
        plain = await breach(rig, ACCOUNT)  # no webhook

        dead = tuple((f"{rx.url}/hang/{i}", "json") for i in range(10))
        notifier.update(settings(*dead))
        notifier.send(Message("warning", "x", "r", "queued before the breach", rig.snap().at))
        await wait_for(lambda: rx.hanging >= 10, 3, "ten sends hanging at the dead webhooks")
        with_dead = await breach(rig, OTHER)
        await wait_for(lambda: rx.hanging >= 20, 3, "the breach's own messages hang too")
        assert notifier.sender.in_flight >= 20

        # Same run, same breach: the dead webhooks add nothing (a margin for a busy machine only).
        assert with_dead <= plain + 0.15, (plain, with_dead)
        await close_all(rig)


async def test_headless_sends_the_webhooks_of_config_toml(sim, tmp_path, processes):
    """The product as users run it: ``deskguard --headless`` with webhooks in config.toml."""
    import signal

    from headless_harness import ONE_ACCOUNT_LOSS_50, Headless, headless_env, make_home

    async with webhook_receiver() as rx:
        config = ONE_ACCOUNT_LOSS_50 + f"""
[notifications]
not_guarding_after = "5s"
webhooks = [
  {{ url = "{rx.url}/json/{URL_TOKEN}", format = "json", on = ["enforcement", "lock"] }},
  {{ url = "{rx.url}/status/500/{URL_TOKEN}", format = "slack", on = ["lock"] }},
]
"""
        home = make_home(tmp_path, config)
        guard = await Headless.start(headless_env(sim, home, API_KEY, "headless-notify"))
        processes.append(guard)
        await guard.wait_line("guarding…")
        ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
        await guard.wait_line("[1001]", "OK", timeout=10)
        sim.set_price("MNQ", MNQ_PRICE - 30)
        ok(sim.close_position(ACCOUNT, "MNQ"))
        await guard.wait_line("LOCKED", "daily_realized_loss", timeout=10)
        path = f"/json/{URL_TOKEN}"
        await wait_for(lambda: "lock" in rx.events(path), 2.0, "the lock at the webhook within 2 s of the lock")
        await wait_for(lambda: len(rx.on(f"/status/500/{URL_TOKEN}")) == 3, 8, "the failing webhook tried 3 times")
        await guard.wait_line("slack webhook (127.0.0.1)", "not sent", timeout=5)
        guard.proc.send_signal(signal.SIGTERM)
        assert await guard.exit_code() == 0

    lock = next(r.json() for r in rx.on(path) if r.json()["event"] == "lock")
    assert lock["account"] == "50KTC-V2-123456-1001" and lock["rule"] == "daily_realized_loss"
    assert list(home.rglob("*.log")) and list(home.rglob("state.db"))
    written = guard.output + "".join(p.read_text() for p in home.rglob("*.log"))
    written += "".join(p.read_bytes().decode("latin-1") for p in home.rglob("state.db*"))
    assert API_KEY not in written and URL_TOKEN not in written
