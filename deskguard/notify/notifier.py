"""The guardian observer that sends webhooks: which event, to which webhook, and when.

Events come from the guardian's notices, each tagged with its webhook event (``enforcement`` when
an enforcement finished, with its outcome; ``lock`` once the lock is stored; ``lock_end``,
``warning``, ``alert``); a failed enforcement is an ``alert`` too. ``not_guarding`` is the
notifier's own: an account whose snapshots say NOT GUARDING (a hub down, the gateway unreachable
or refusing the token, the re-sync after a reconnect or a wake not yet read) for
``not_guarding_after`` without a break is announced once, and ``guarding_again`` follows when it is
guarded again, with how long it was blind and what the re-sync found.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config.model import NotificationSettings
from ..engine.state import AccountStatus
from ..guardian.snapshot import AccountSnapshot, Notice, NoticeLevel
from ..guardian.texts import dollars, duration, rule_name
from ..redaction import redactor, url_secrets
from .formats import Message
from .sender import WebhookSender

log = logging.getLogger("deskguard.notify")


@dataclass(slots=True)
class _Blind:
    """An account the guard cannot guard, since ``since`` (monotonic) / ``at`` (wall clock)."""

    since: float
    at: datetime
    timer: asyncio.TimerHandle | None = None
    sent: bool = False


def register_webhook_secrets(settings: NotificationSettings, *also: Any) -> None:
    """Treat every webhook URL (and its token part) like a secret: in the process's redactor, and
    in each of ``also`` that has ``add_redaction`` (the store)."""
    for hook in settings.webhooks:
        for secret in url_secrets(hook.url):
            redactor.add(secret)
            for other in also:
                other.add_redaction(secret)


class Notifier:
    """A GuardianObserver: ``guardian.add_observer(Notifier(settings, names))``."""

    def __init__(
        self,
        settings: NotificationSettings,
        account_name: Callable[[int], str] = str,
        *,
        sender: WebhookSender | None = None,
        health_detail: Callable[[], str] = lambda: "",
    ) -> None:
        self.settings = settings
        self.account_name = account_name
        self.health_detail = health_detail
        self.sender = sender or WebhookSender()
        self._blind: dict[int, _Blind] = {}
        register_webhook_secrets(settings)

    def update(self, settings: NotificationSettings) -> None:
        """A new [notifications] (applies at once; a not_guarding timer already running keeps its delay)."""
        register_webhook_secrets(settings)
        self.settings = settings

    # ----- sending --------------------------------------------------------------------------

    def send(self, message: Message, *, also_alert: bool = False) -> int:
        """Hand ``message`` to every webhook that asked for its event (and, with ``also_alert``,
        to those that asked for ``alert``); the number of webhooks it went to."""
        count = 0
        for hook in self.settings.webhooks:
            if message.event in hook.on or (also_alert and "alert" in hook.on):
                self.sender.submit(hook.url, hook.format, message)
                count += 1
        return count

    def _name(self, account_id: int | None) -> str:
        if account_id is None:
            return ""
        try:
            return self.account_name(account_id)
        except Exception:
            return str(account_id)

    # ----- GuardianObserver -----------------------------------------------------------------

    def on_notice(self, notice: Notice) -> None:
        if notice.event is None or not self.settings.webhooks:
            return
        message = Message(notice.event, self._name(notice.account_id), notice.rule or "", notice.text, notice.at)
        self.send(message, also_alert=notice.level == NoticeLevel.ALERT)

    def on_health(self, health: Any) -> None:
        pass  # the snapshots that follow every health change carry each account's status

    def on_snapshot(self, snap: AccountSnapshot) -> None:
        blind = snap.status == AccountStatus.NOT_GUARDING
        state = self._blind.get(snap.account_id)
        if blind and state is None:
            state = _Blind(time.monotonic(), snap.at)
            delay = self.settings.not_guarding_after.total_seconds()
            state.timer = asyncio.get_running_loop().call_later(delay, self._still_blind, snap.account_id, snap.name)
            self._blind[snap.account_id] = state
        elif not blind and state is not None:
            del self._blind[snap.account_id]
            if state.timer is not None:
                state.timer.cancel()
            if state.sent:
                self._guarding_again(snap, time.monotonic() - state.since)

    def _still_blind(self, account_id: int, name: str) -> None:
        state = self._blind.get(account_id)
        if state is None or state.sent:
            return
        state.sent = True
        blind_for = time.monotonic() - state.since
        why = self.health_detail() or "no confirmed connection to the gateway"
        text = (f"DeskGuard cannot guard {name}: not guarding for {duration(timedelta(seconds=round(blind_for)))} "
                f"(since {state.at.astimezone(UTC):%H:%M:%S} UTC; {why}). Your rules are not enforced until "
                "it reconnects.")
        log.warning("%s", text)
        self.send(Message("not_guarding", name, "", text, datetime.now(UTC)))

    def _guarding_again(self, snap: AccountSnapshot, blind_for: float) -> None:
        blind = duration(timedelta(seconds=round(blind_for)))
        text = f"DeskGuard guards {snap.name} again after {blind} blind. The re-sync found {found(snap)}."
        log.info("%s", text)
        self.send(Message("guarding_again", snap.name, "", text, snap.at))

    async def close(self) -> None:
        for state in self._blind.values():
            if state.timer is not None:
                state.timer.cancel()
        self._blind.clear()
        await self.sender.close()


def found(snap: AccountSnapshot) -> str:
    """What an account holds, in words: positions, working orders, locks, the day's P&L."""
    positions = ", ".join(f"{p.symbol} {p.position.size}" for p in snap.positions)
    parts = [f"{len(snap.positions)} open position(s)" + (f" ({positions})" if positions else ""),
             f"{len(snap.orders)} working order(s)"]
    if snap.locks:
        parts.append("locked (" + ", ".join(sorted({rule_name(lock.rule) for lock in snap.locks})) + ")")
    parts.append(f"realized today {dollars(snap.realized_day)}")
    return ", ".join(parts)
