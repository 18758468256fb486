"""The notifier's decisions, with a recording sender: which webhook gets which event; not_guarding
once after the delay and guarding_again after it; a wake (the wall clock far ahead of the last look)
counts as blind time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from deskguard.config.model import NotificationSettings, Webhook
from deskguard.engine.state import AccountStatus
from deskguard.guardian import AccountSnapshot, Notice, NoticeLevel
from deskguard.notify import Message, Notifier

pytestmark = pytest.mark.asyncio

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


@dataclass
class Recorder:
    sent: list[tuple[str, Message]] = field(default_factory=list)

    def submit(self, url: str, fmt: str, message: Message) -> None:
        self.sent.append((url, message))

    async def close(self) -> None:
        pass

    def events(self, url: str | None = None) -> list[str]:
        return [m.event for u, m in self.sent if url is None or u == url]


def hooks(after: float = 30.0, **on: tuple[str, ...]) -> NotificationSettings:
    return NotificationSettings(not_guarding_after=timedelta(seconds=after),
                                webhooks=tuple(Webhook(url=f"https://example.com/{name}", on=events)
                                               for name, events in on.items()))


def snap(status: AccountStatus, account_id: int = 7) -> AccountSnapshot:
    return AccountSnapshot(account_id=account_id, name=f"ACC-{account_id}", at=NOW, status=status, balance=50_000.0,
                           realized_day=-120.0, open_pnl=0.0, open_pnl_stale=False, realized_week=-120.0, locks=(),
                           positions=(), orders=(), figures={}, warnings=(), day_start=None, next_reset=None)


def make(settings: NotificationSettings, **kw) -> tuple[Notifier, Recorder]:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    notifier = Notifier(settings, account_name=lambda a: f"ACC-{a}", sender=recorder, **kw)  # type: ignore[arg-type]
    return notifier, recorder


async def test_each_webhook_gets_the_events_it_asked_for() -> None:
    notifier, rec = make(hooks(locks=("lock", "lock_end"), alerts=("alert",), every=("enforcement", "lock", "warning",
                                                                                       "lock_end", "alert")))
    notifier.on_notice(Notice(NOW, NoticeLevel.ENFORCEMENT, 7, "daily_realized_loss", "Locked", "lock"))
    notifier.on_notice(Notice(NOW, NoticeLevel.WARNING, 7, "daily_realized_loss", "80% used", "warning"))
    notifier.on_notice(Notice(NOW, NoticeLevel.ALERT, None, None, "NOT GUARDING: hub down"))  # no event: not sent
    notifier.on_notice(Notice(NOW, NoticeLevel.INFO, None, None, "guarding 1 account(s)"))
    # A failed enforcement is an enforcement (with its outcome) and an alert.
    notifier.on_notice(Notice(NOW, NoticeLevel.ALERT, 7, "max_contracts", "Could not close MNQ", "enforcement"))
    assert rec.events("https://example.com/locks") == ["lock"]
    assert rec.events("https://example.com/alerts") == ["enforcement"]
    assert rec.events("https://example.com/every") == ["lock", "warning", "enforcement"]
    message = rec.sent[0][1]
    assert (message.account, message.rule, message.message, message.time) == ("ACC-7", "daily_realized_loss", "Locked",
                                                                              NOW)
    await notifier.close()


async def test_not_guarding_once_after_the_delay_then_guarding_again() -> None:
    notifier, rec = make(hooks(0.3, h=("not_guarding", "guarding_again")))
    notifier.on_snapshot(snap(AccountStatus.OK))
    notifier.on_snapshot(snap(AccountStatus.NOT_GUARDING))
    await asyncio.sleep(0.15)
    notifier.on_snapshot(snap(AccountStatus.OK))  # a blip: nothing
    await asyncio.sleep(0.3)
    assert rec.sent == []

    notifier.on_snapshot(snap(AccountStatus.NOT_GUARDING))
    started = time.monotonic()
    while not rec.sent:
        await asyncio.sleep(0.01)
    assert time.monotonic() - started >= 0.29
    notifier.on_snapshot(snap(AccountStatus.NOT_GUARDING))
    await asyncio.sleep(0.4)
    assert rec.events() == ["not_guarding"]
    assert rec.sent[0][1].rule == "" and "cannot guard ACC-7" in rec.sent[0][1].message

    notifier.on_snapshot(snap(AccountStatus.LOCKED))  # guarded (and locked) again
    assert rec.events() == ["not_guarding", "guarding_again"]
    again = rec.sent[1][1].message
    assert "guards ACC-7 again after" in again and "realized today −$120" in again
    await notifier.close()


async def test_a_wake_counts_the_sleep_as_blind_and_says_so() -> None:
    offset = [0.0]
    current = {7: snap(AccountStatus.OK)}
    notifier, rec = make(hooks(30, h=("not_guarding", "guarding_again")), wall=lambda: time.time() + offset[0],
                         tick_s=0.02, wake_settle_s=0.2, snapshot=lambda a: current[a])
    notifier.on_snapshot(current[7])
    await asyncio.sleep(0.1)
    assert rec.sent == []
    offset[0] += 7200  # two hours pass between two looks at the clock: the PC slept
    while not rec.sent:
        await asyncio.sleep(0.01)
    (url, message), = rec.sent
    assert message.event == "not_guarding" and "asleep" in message.message and "2 h" in message.message
    await asyncio.sleep(0.1)
    assert rec.events() == ["not_guarding"]  # the guard gets time to notice dead hubs and read again
    while len(rec.sent) < 2:
        await asyncio.sleep(0.01)
    assert rec.events() == ["not_guarding", "guarding_again"]
    assert "after 2 h blind" in rec.sent[1][1].message
    await notifier.close()


async def test_a_wake_during_a_reconnect_waits_for_the_re_sync() -> None:
    offset = [0.0]
    current = {7: snap(AccountStatus.OK)}
    notifier, rec = make(hooks(30, h=("not_guarding", "guarding_again")), wall=lambda: time.time() + offset[0],
                         tick_s=0.02, wake_settle_s=0.0, snapshot=lambda a: current[a])
    notifier.on_snapshot(current[7])
    await asyncio.sleep(0.1)
    current[7] = snap(AccountStatus.NOT_GUARDING)  # the hubs died in the sleep
    offset[0] += 600
    notifier.on_snapshot(current[7])
    started = time.monotonic()
    while not rec.sent:
        await asyncio.sleep(0.01)
    assert time.monotonic() - started < 1  # at the wake, not after not_guarding_after (30 s)
    assert "asleep" in rec.sent[0][1].message and "10 min" in rec.sent[0][1].message
    await asyncio.sleep(0.1)
    assert rec.events() == ["not_guarding"]  # still NOT GUARDING: no guarding_again yet
    current[7] = snap(AccountStatus.OK)
    notifier.on_snapshot(current[7])
    assert rec.events() == ["not_guarding", "guarding_again"]
    await notifier.close()


async def test_a_not_guarding_timer_that_fires_early_waits_out_the_rest(monkeypatch) -> None:
    """In the app the loop's timers are Qt's, which may fire up to 5 % early on a long interval:
    not_guarding still goes only once not_guarding_after has passed by the wall clock."""
    loop = asyncio.get_running_loop()
    call_later = loop.call_later
    monkeypatch.setattr(loop, "call_later", lambda delay, *args, **kw: call_later(delay * 0.5, *args, **kw))
    notifier, rec = make(hooks(0.4, h=("not_guarding",)))
    notifier.on_snapshot(snap(AccountStatus.OK))
    started = time.monotonic()
    notifier.on_snapshot(snap(AccountStatus.NOT_GUARDING))
    while not rec.sent and time.monotonic() - started < 2:
        await asyncio.sleep(0.01)
    assert rec.events() == ["not_guarding"] and time.monotonic() - started >= 0.39
    await notifier.close()
