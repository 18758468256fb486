"""What the guardian writes down, and in what order: after a verdict, its locks are committed to the
store before anyone is told of them (retried until the store takes them), ended locks, trades and
the day's figures follow, then the rules' memory, and only then the notices. Also the audit row of
every broker call, the end of an unblocked symbol's permanent lock, and the rules' memory read back
at start-up.

All of it runs off the hot path: the consumer hands a verdict over as one task and moves on, and a
verdict that started an enforcement lets its request leave first. How the writes reach the store's
thread (in batches, in order) is ``bookkeeping.py``; what the rules' memory is, ``memory.py``.

``Recorder`` holds a reference to its guardian on purpose: it writes through the guardian's store
queue, marks what it committed in the guardian's sets (locks not yet stored, accounts whose
snapshot is due) and announces through its publisher, in that order.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING

from ..engine.decisions import Action, Lock
from ..engine.engine import Verdict
from ..engine.models import Account
from . import memory, texts
from .bookkeeping import Call
from .enforcer import CallRecord
from .snapshot import NoticeLevel

if TYPE_CHECKING:
    from .core import Guardian

log = logging.getLogger("deskguard.guardian")

LOCK_SAVE_RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # a lock the store refused is saved again, for ever
#: After an enforcement is started, the verdict's bookkeeping (and the store's thread) waits until
#: its first broker call is answered (its request has surely left), but no longer than this: the
#: request leaves first, even on a busy machine (see bookkeeping.py). On loopback the answer comes
#: within ~1 ms; from a real gateway after a network round trip, so this bound is what applies there.
REQUEST_LEAVES_S = 0.005


class Recorder:
    def __init__(self, guardian: Guardian) -> None:
        self.guardian = guardian
        self._memory: dict[int, str] = {}  # the rules' memory as last written to the store

    async def restore(self, account: Account) -> None:
        """Give the engine what the store kept of the account (rules.md "Memory")."""
        g = self.guardian
        state = g.engine.state(account.id)
        state.account = account
        kept = await g._db_call(memory.read_kept, g.store, account.id, g.engine.calendar, g.clock.now())
        memory.restore(g.engine, account.id, kept)
        self._memory[account.id] = memory.memory_text(g.engine, account.id)

    async def record_verdict(self, v: Verdict) -> None:
        """Persist, then announce: a lock is committed to the store before anyone is told of it.
        When the verdict started an enforcement, its request leaves first (formatting, the rules'
        memory, observers and the store's thread all wait a moment)."""
        g = self.guardian
        acct = v.account_id
        await g._requests_left()
        for lock in v.new_locks:
            try:
                await self.save_lock(lock)
            finally:
                g._uncommitted.discard(lock)
        for lock in v.ended_locks:
            await g._db_call(g.store.end_lock, lock, g.clock.now(), "ended")
        if v.new_trades:
            state = v.state
            cal = g.engine.calendar
            g._db_submit(g.store.record_trades, acct, v.new_trades)
            g._db_submit(g.store.record_day, acct, cal.trading_date(g.clock.now()),
                         state.realized_day, len(state.trades_today))
        self.save_memory(acct)
        publisher = g.publisher
        if v.new_locks:
            publisher.check_status(acct)  # now committed: LOCKED may be announced
            g._dirty.add(acct)  # now committed: the snapshots may show them
            g._schedule_publish()
        for lock in v.new_locks:
            publisher.notice(NoticeLevel.ENFORCEMENT, acct, lock.rule, texts.lock_notice(lock), "lock")
        for lock in v.ended_locks:
            publisher.notice(NoticeLevel.LOCK_ENDED, acct, lock.rule, texts.lock_ended(lock), "lock_end")
        for d in v.decisions:  # (an enforcement's decision row was written as it was decided)
            if d.action == Action.WARN:
                publisher.notice(NoticeLevel.WARNING, acct, d.rule, texts.warning_sentence(d), "warning")

    async def save_lock(self, lock: Lock) -> None:
        """Commit a lock, trying again until the store takes it: a lock that is enforced but not
        stored would not survive a restart. Each failure is audited; the first is a red alert."""
        g = self.guardian
        for attempt in itertools.count(1):
            try:
                await g._db_call(g.store.save_lock, lock)
            except Exception as exc:
                text = f"COULD NOT STORE THE LOCK ({lock.rule}, try {attempt}): {exc} — it is enforced; trying again"
                log.error("%s", text)
                if attempt == 1:
                    g.publisher.notice(NoticeLevel.ALERT, lock.account_id, lock.rule, text, "alert")
                else:
                    g._db_submit(g.store.audit, lock.account_id, lock.rule, NoticeLevel.ALERT.value, text)
                if not g.running and attempt >= len(LOCK_SAVE_RETRY_S):
                    raise
                await asyncio.sleep(LOCK_SAVE_RETRY_S[min(attempt, len(LOCK_SAVE_RETRY_S)) - 1])
            else:
                if attempt > 1:
                    g.publisher.notice(NoticeLevel.INFO, lock.account_id, lock.rule, f"lock stored after {attempt} tries")
                return

    def save_memory(self, acct: int) -> None:
        """Write the rules' memory when it changed (rules.md "Memory": a restart changes no decision).
        Worked out once per store batch, as the batch leaves (its JSON grows with the day's entries)."""
        self.guardian._store_queue.submit_latest(("memory", acct), lambda: self._memory_write(acct))

    def _memory_write(self, acct: int) -> list[Call]:
        g = self.guardian
        if acct not in g.engine.accounts:
            return []
        text = memory.memory_text(g.engine, acct)
        if text == self._memory.get(acct):
            return []
        self._memory[acct] = text
        return memory.memory_writes(g.store, acct, text, g.engine.state(acct).high_water_mark, g.clock.now())

    def record_call(self, rec: CallRecord) -> None:
        """One audit row per try of every broker call the enforcer makes."""
        result = "ok" if rec.ok else f"failed: {rec.error}"
        detail = f"{rec.call} {rec.target} (try {rec.attempt}): {result}"
        g = self.guardian
        g._db_submit(g.store.audit, rec.account_id, rec.rule, "broker_call", detail,
                     broker_call=rec.call, result="ok" if rec.ok else "failed", latency_ms=round(rec.latency_ms, 2))

    def unblocked(self, ended: list[Lock]) -> None:
        """Symbols no longer blocked: their permanent locks end in the store too, or the next start
        would bring them back (rules.md, permanent locks)."""
        g = self.guardian
        for lock in ended:
            g._db_submit(g.store.end_lock, lock, g.clock.now(), "the symbol is no longer blocked")
            g.publisher.notice(NoticeLevel.LOCK_ENDED, lock.account_id, lock.rule,
                               f"{lock.symbol} is no longer blocked", "lock_end")
