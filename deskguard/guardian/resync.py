"""Reconciling by reading: when the guardian's picture of an account may be wrong, the broker reads
the account again (a ``Resync`` event) and every rule is evaluated on what it says.

Three occasions, all reported by the enforcer: a refused or failed call (read again after the
enforcer's growing pause, so a stuck position takes a small share of the request budget), a stale
picture (the broker had nothing where the engine saw something: hub events out of order, a missed
close), and decisions absorbed while an enforcement was in flight (evaluated again once it is idle).
The reconnect's own re-sync is the broker's; which accounts have had theirs is the guardian's
(``_resynced``, part of an account's status).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ..broker.base import Broker

log = logging.getLogger("deskguard.guardian")


class Resyncer:
    def __init__(self, broker: Broker, spawn: Callable[[Coroutine[Any, Any, Any], str], Any],
                 running: Callable[[], bool]) -> None:
        self.broker = broker
        self._spawn = spawn  # the guardian's: the task is kept, and drained on stop
        self._running = running
        self._waiting: set[int] = set()  # accounts with a delayed read under way

    def evaluate_again(self, account_id: int) -> None:
        """The enforcer absorbed decisions while busy and is idle now: every rule is evaluated again
        against a fresh read (a size breach on another contract during a flatten that set no lock,
        a position opened after the flatten's last read): a re-sync, not a clock tick."""
        if self._running():
            self.after_failure(account_id)

    def picture_was_stale(self, account_id: int) -> None:
        """An enforcement found the broker without what the engine believed (hub events out of
        order, a missed close): the broker's word wins, read it again."""
        log.info("account %s: the broker had nothing to enforce on; re-syncing its picture", account_id)
        self.after_failure(account_id)

    def after_failure(self, account_id: int, delay: float = 0.0) -> None:
        """Reconcile by reading: the broker's word decides what is still open, and every rule is
        evaluated on it. One read per account at a time; after a refused call it waits the
        enforcer's growing pause first, so a stuck position takes a small share of the budget."""
        if not self._running():
            return
        if delay <= 0:
            self.broker.request_resync(account_id)  # the broker coalesces requests per account
            return
        if account_id in self._waiting:
            return
        self._waiting.add(account_id)
        self._spawn(self._resync(account_id, delay), f"resync-{account_id}")

    async def _resync(self, account_id: int, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            self._waiting.discard(account_id)
        # The broker reads and delivers it, replaying what the hubs said meanwhile on top: a
        # Resync read before an update and queued after it would undo the update.
        self.broker.request_resync(account_id)
