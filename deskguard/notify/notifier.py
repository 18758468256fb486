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


#: How often the notifier looks at the wall clock: a gap much longer than this between two looks
#: means the process could not run (the PC slept, or the process was frozen).
TICK_S = 1.0
#: After a wake, how long the guard gets to notice dead hubs and read the accounts again before
#: its picture counts as guarding again.
WAKE_SETTLE_S = 5.0


@dataclass(slots=True)
class _Blind:
    """An account the guard cannot guard, since ``since`` (the wall clock, time.time(): a sleeping
    PC's blind time counts, which the monotonic clock may not)."""

    since: float
    timer: asyncio.TimerHandle | None = None
    sent: bool = False
    why: str = ""
    settled_at: float = 0.0  # the wall time from which the current snapshot may say "guarding again"


def register_webhook_secrets(settings: NotificationSettings, *also: Any) -> None:
    """Treat every webhook URL (and its token part) like a secret: in the process's redactor, and
    in each of ``also`` that has ``add_redaction`` (the store)."""
    for hook in settings.webhooks:
        for secret in url_secrets(hook.url):
            redactor.add(secret)
            for other in also:
                other.add_redaction(secret)


class Notifier:
    """A GuardianObserver: ``guardian.add_observer(Notifier(settings, names, snapshot=guardian.snapshot))``.

    ``snapshot`` (an account's current snapshot) lets it notice recovery after a wake without
    waiting for the next published snapshot; ``wall`` is the wall clock (a test moves it)."""

    def __init__(
        self,
        settings: NotificationSettings,
        account_name: Callable[[int], str] = str,
        *,
        sender: WebhookSender | None = None,
        health_detail: Callable[[], str] = lambda: "",
        snapshot: Callable[[int], AccountSnapshot] | None = None,
        wall: Callable[[], float] = time.time,
        tick_s: float = TICK_S,
        wake_settle_s: float = WAKE_SETTLE_S,
    ) -> None:
        self.settings = settings
        self.account_name = account_name
        self.health_detail = health_detail
        self.snapshot = snapshot
        self.wall = wall
        self.tick_s = tick_s
        self.wake_settle_s = wake_settle_s
        self.sender = sender or WebhookSender()
        self._blind: dict[int, _Blind] = {}
        self._names: dict[int, str] = {}  # every account seen in a snapshot
        self._ticker: asyncio.Task[None] | None = None
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
            return self._names.get(account_id, str(account_id))

    # ----- GuardianObserver -----------------------------------------------------------------

    def on_notice(self, notice: Notice) -> None:
        if notice.event is None or not self.settings.webhooks:
            return
        message = Message(notice.event, self._name(notice.account_id), notice.rule or "", notice.text, notice.at)
        self.send(message, also_alert=notice.level == NoticeLevel.ALERT)

    def on_health(self, health: Any) -> None:
        pass  # the snapshots that follow every health change carry each account's status

    def on_snapshot(self, snap: AccountSnapshot) -> None:
        self._names[snap.account_id] = snap.name
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="notifier-clock")
        blind = snap.status == AccountStatus.NOT_GUARDING
        state = self._blind.get(snap.account_id)
        if blind and state is None:
            state = _Blind(self.wall())
            delay = self.settings.not_guarding_after.total_seconds()
            state.timer = asyncio.get_running_loop().call_later(delay, self._still_blind, snap.account_id)
            self._blind[snap.account_id] = state
        elif not blind and state is not None:
            self._recovered(snap)

    # ----- not_guarding / guarding_again ----------------------------------------------------

    def _still_blind(self, account_id: int) -> None:
        """not_guarding_after has passed without a break. The timer may fire early: in the app,
        qasync runs it on a Qt timer, which keeps to 5 % of a long interval either way (measured:
        ``asyncio.sleep(10)`` returned after 9.6 s); then it waits out the rest."""
        state = self._blind.get(account_id)
        if state is None or state.sent:
            return
        left = state.since + self.settings.not_guarding_after.total_seconds() - self.wall()
        if left > 0:
            state.timer = asyncio.get_running_loop().call_later(left, self._still_blind, account_id)
            return
        why = self.health_detail() or "no confirmed connection to the gateway"
        self._not_guarding(account_id, state, why)

    def _not_guarding(self, account_id: int, state: _Blind, why: str) -> None:
        state.sent, state.why = True, why
        name = self._name(account_id)
        since = datetime.fromtimestamp(state.since, UTC)
        text = (f"DeskGuard cannot guard {name}: not guarding for {_span(self.wall() - state.since)} "
                f"(since {since:%H:%M:%S} UTC; {why}). Your rules are not enforced until it reconnects.")
        log.warning("%s", text)
        self.send(Message("not_guarding", name, "", text, datetime.now(UTC)))

    def _recovered(self, snap: AccountSnapshot) -> None:
        state = self._blind.pop(snap.account_id)
        if state.timer is not None:
            state.timer.cancel()
        if state.sent:
            text = (f"DeskGuard guards {snap.name} again after {_span(self.wall() - state.since)} blind. "
                    f"The re-sync found {found(snap)}.")
            log.info("%s", text)
            self.send(Message("guarding_again", snap.name, "", text, snap.at))

    async def _tick(self) -> None:
        """Notice a wake: a look at the clock long after the last one means nothing could run in
        between (a sleeping PC, a frozen process) — every account was blind all that time."""
        last = self.wall()
        while True:
            await asyncio.sleep(self.tick_s)
            now = self.wall()
            gap = now - last - self.tick_s
            last = now
            try:
                if gap >= self.settings.not_guarding_after.total_seconds():
                    self._woke(now - gap)
                self._check_recovery()
            except Exception:
                log.exception("notifier clock check failed")

    def _woke(self, since: float) -> None:
        now = self.wall()
        why = f"the computer was asleep or DeskGuard could not run for {_span(now - since)}"
        for account_id in list(self._names):
            state = self._blind.get(account_id)
            if state is None:
                state = self._blind[account_id] = _Blind(since)
            elif state.timer is not None:
                state.timer.cancel()
            state.since = min(state.since, since)
            state.settled_at = now + self.wake_settle_s
            if not state.sent:
                self._not_guarding(account_id, state, why)

    def _check_recovery(self) -> None:
        """After a wake no snapshot may come if the account turns out fine: ask for one."""
        if self.snapshot is None:
            return
        now = self.wall()
        for account_id, state in list(self._blind.items()):
            if state.sent and now >= state.settled_at:
                snap = self.snapshot(account_id)
                if snap.status != AccountStatus.NOT_GUARDING:
                    self._recovered(snap)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        for state in self._blind.values():
            if state.timer is not None:
                state.timer.cancel()
        self._blind.clear()
        await self.sender.close()


def _span(seconds: float) -> str:
    return duration(timedelta(seconds=max(0, round(seconds))))


def found(snap: AccountSnapshot) -> str:
    """What an account holds, in words: positions, working orders, locks, the day's P&L."""
    positions = ", ".join(f"{p.symbol} {p.position.size}" for p in snap.positions)
    parts = [f"{len(snap.positions)} open position(s)" + (f" ({positions})" if positions else ""),
             f"{len(snap.orders)} working order(s)"]
    if snap.locks:
        parts.append("locked (" + ", ".join(sorted({rule_name(lock.rule) for lock in snap.locks})) + ")")
    parts.append(f"realized today {dollars(snap.realized_day)}")
    return ", ".join(parts)
