"""The guardian: wires broker, engine, enforcer and store, runs the event loop, owns the timers.

Flow: the broker's callbacks put engine events on a queue (O(1), never awaiting the SDK inside its
callbacks); one consumer task runs the engine and hands decisions to the enforcer at once; then the
bookkeeping (locks, audit, trades, figures) goes to the store on its own thread, and only after a
lock is committed is it announced to observers. A half-second heartbeat on the wall clock delivers
ClockTicks (lock ends, resets, session sweeps, grace timers) even after the PC slept.

Here: the life cycle (start, restore, resume, stop and drain), the queue and its consumer (the hot
path: event → engine → enforcer), the heartbeat, settings changes, when snapshots are published,
and the way to the store. Beside it, each with one job:
``publish.py`` (what observers are told: notices, status changes, snapshots, the P&L curve),
``recorder.py`` (what is written down, locks before they are announced), ``resync.py`` (reading an
account again when the picture may be wrong), ``enforcer.py`` (carrying decisions out at the
broker), ``bookkeeping.py`` (the store's thread), ``memory.py`` (what a restart keeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..broker.base import Broker, BrokerListener, ConnectionHealth
from ..engine.clock import Clock, SystemClock
from ..engine.decisions import ENFORCEMENT_ACTIONS, STOP_ACTIONS, Action, Decision, Lock
from ..engine.engine import RiskEngine, Verdict
from ..engine.events import ClockTick, Event, OrderUpdated, PositionUpdated, QuoteUpdated, Resync
from ..engine.models import Account
from ..engine.settings import EngineSettings
from ..store import Store
from ..store.writer import WriterProcess
from . import memory, texts
from .bookkeeping import StoreQueue
from .enforcer import NOTHING_TO_DO, CallRecord, Enforcer, EnforcerListener
from .publish import Publisher
from .recorder import REQUEST_LEAVES_S, Recorder
from .resync import Resyncer
from .snapshot import AccountSnapshot, GuardianObserver, NoticeLevel, PnlPoint

log = logging.getLogger("deskguard.guardian")

HEARTBEAT_S = 0.5
PUBLISH_EVERY_S = 0.1  # snapshots are coalesced: at most ~10 per second per account
GRACE_POLL_S = 2.0  # Order/searchOpen while a stop-loss grace timer runs (stops from the web screen)
#: A due snapshot waits (this long, at most PUBLISH_DEFERRALS times) while events wait to be decided.
PUBLISH_DEFER_S = 0.005
PUBLISH_DEFERRALS = 5


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A loosening waiting for the reset, as the rules panel shows it."""

    key: str  # "daily_realized_loss.max_loss" (or just the rule key when it is switched off)
    old: str | None
    new: str | None
    effective_at: datetime


@dataclass(frozen=True, slots=True)
class PendingSettings:
    settings: EngineSettings
    at: datetime
    changes: tuple[Any, ...] = ()  # config ConfigChange records (key, old_text, new_text, text)


class Guardian:
    def __init__(
        self,
        broker: Broker,
        store: Any,
        settings: EngineSettings,
        *,
        clock: Clock | None = None,
        accounts: Iterable[str | int] = (),
        symbols: Iterable[str] = (),
        pending: PendingSettings | None = None,
        on_pending_applied: Callable[[], None] = lambda: None,
        store_writer: bool = True,
    ) -> None:
        """``store_writer``: a store on disk has its routine writes made by a process of its own
        (``store/writer.py``; False: by the store's thread in this process, as a store in memory)."""
        self.broker = broker
        self.store = store
        self.clock = clock or SystemClock()
        self.engine = RiskEngine(settings, self.clock)
        self.pending = pending
        self.on_pending_applied = on_pending_applied
        self.account_filter = [str(a).strip().lower() for a in accounts]
        self.symbols = list(symbols)
        self._health = ConnectionHealth()  # as last notified (for edge detection)
        self.accounts: list[int] = []
        self.account_info: dict[int, Account] = {}
        self.publisher = Publisher(self)  # observers, notices, status changes, snapshots
        self.recorder = Recorder(self)  # what is written down, in order (locks before they are announced)
        self.resyncer = Resyncer(broker, self._spawn, lambda: self.running)
        self.enforcer = Enforcer(broker, self.engine.state, EnforcerListener(
            on_call=self._call_answered,
            on_outcome=self._enforcement_done,
            on_stale=self.resyncer.picture_was_stale,
            on_idle=self.resyncer.evaluate_again,
            on_placed=lambda d, order_id: self.engine.note_safety_net_order(d.account_id, order_id),
            on_settled=self.publisher.check_status,
        ))
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        on_disk = isinstance(store, Store) and store.path is not None
        self._store_queue = StoreQueue(
            busy=self._busy, store=store,
            writer=(lambda: WriterProcess(store.path, store.secrets)) if store_writer and on_disk else None)
        # account -> time.monotonic() an enforcement of it started, until the account's first broker
        # call since is answered (two at once on one account: the first answer ends both)
        self._leaving: dict[int, float] = {}
        self._left = asyncio.Event()  # set while no enforcement's first request is on its way out
        self._left.set()
        self._publish_deferrals = 0
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()  # every other task it starts: kept, drained on stop
        self._publish_handle: asyncio.TimerHandle | None = None
        self._stopping = False  # stop() has begun: no snapshot (nor memory write) is scheduled any more
        self._watched: set[str] = set()  # contracts whose quotes are streamed
        self._due: datetime | None = None  # the earliest deadline seen and not yet ticked
        # Updated in place by the hot path; read by the publisher and the recorder too:
        self._dirty: set[int] = set()  # accounts whose snapshot is due
        self._alerts: dict[int, str] = {}  # the not-flat alert standing per account
        self._resynced: set[int] = set()  # accounts re-synced since the last (re)connect
        self._uncommitted: set[Lock] = set()  # new locks not yet in the store: not shown yet
        self.running = False
        self.events_processed = 0

    @property
    def settings(self) -> EngineSettings:
        return self.engine.settings

    @property
    def health(self) -> ConnectionHealth:
        """The broker's live health (last-event ages move between notifications)."""
        live = getattr(self.broker, "health", None)
        return live if isinstance(live, ConnectionHealth) else self._health

    # ----- observers ---------------------------------------------------------------------------

    @property
    def observers(self) -> list[GuardianObserver]:
        return self.publisher.observers

    def add_observer(self, observer: GuardianObserver) -> None:
        self.publisher.observers.append(observer)

    def remove_observer(self, observer: GuardianObserver) -> None:
        with contextlib.suppress(ValueError):
            self.publisher.observers.remove(observer)

    def notify(self, level: NoticeLevel, account_id: int | None, text: str, rule: str | None = None,
               event: str | None = None) -> None:
        """Tell observers and the audit log something (used by the runtime, e.g. config reloads)."""
        self.publisher.notice(level, account_id, rule, text, event)

    # ----- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Sign in, pick the accounts, restore what the store kept, subscribe, and start guarding."""
        loop = asyncio.get_running_loop()
        self._stopping = False
        accounts = await self.broker.connect()
        chosen = [a for a in accounts if self._wanted(a)]
        if not chosen:
            names = ", ".join(a.name for a in accounts) or "none"
            raise LookupError(f"no active account matches {self.account_filter} (active: {names})")
        self.accounts = [a.id for a in chosen]
        self.account_info = {a.id: a for a in chosen}
        self.publisher.guard(self.accounts)  # NOT GUARDING until the first read
        for acct in chosen:
            await self.recorder.restore(acct)
        self.running = True
        self._tasks = [
            loop.create_task(self._consume(), name="guardian-consume"),
            loop.create_task(self._heartbeat(), name="guardian-heartbeat"),
        ]
        await self.broker.start(self.accounts, self.symbols, BrokerListener(self.submit_event, self._on_health))
        specs = await self.broker.contract_specs([])
        for spec in specs:
            self.engine.add_contract_spec(spec)
        unfinished = await self._db_call(self.store.unfinished_enforcements)
        for item in unfinished:
            self._resume_enforcement(item)
        self.publisher.notice(NoticeLevel.INFO, None, None,
                              f"guarding {len(self.accounts)} account(s): " + ", ".join(a.name for a in chosen))
        for key in self.settings.unmatched([(a.id, a.name) for a in chosen]):
            self.publisher.notice(NoticeLevel.ALERT, None, None,
                                  f'config.toml has rules for account "{key}", which is not among the accounts '
                                  "guarded: check its name (its rules guard nothing)")

    def _wanted(self, account: Account) -> bool:
        if not self.account_filter:
            return True
        return str(account.id) in self.account_filter or account.name.lower() in self.account_filter

    def _resume_enforcement(self, item: Any) -> None:
        """Complete an enforcement a killed process left unfinished, when its cause still holds on
        the same trading day: a lock still standing over what it acted on. Anything else is left to
        the re-evaluation after the start's fresh read, which decides again with today's picture."""
        acct = item.account_id
        if acct not in self.accounts:
            return
        action = Action(item.action)
        cal = self.engine.calendar
        if cal.trading_date(item.started_at) != cal.trading_date(self.clock.now()):
            self._db_submit(self.store.finish_enforcement, item.id, "not resumed: started on another trading day")
            return
        state = self.engine.state(acct)
        held = state.locks_covering(item.contract_id) if item.contract_id else [k for k in state.locks if k.symbol is None]
        if not held:
            self._db_submit(self.store.finish_enforcement, item.id,
                            "not resumed: no lock stands for it; left to the re-evaluation after restart")
            return
        if action == Action.REDUCE_POSITION or action not in ENFORCEMENT_ACTIONS:
            # A reduce's target size is not kept: resumed as is, it would close the whole position.
            # The re-evaluation after the start's Resync decides again with the right size.
            self._db_submit(self.store.finish_enforcement, item.id, "superseded by the re-evaluation after restart")
            return
        decision = Decision(acct, action, item.rule if hasattr(item, "rule") else "restart",
                            f"completing an enforcement interrupted by a restart: {item.reason}",
                            contract_id=item.contract_id)
        self._db_submit(self.store.finish_enforcement, item.id, "resumed after restart")
        self._enforce(decision)

    async def stop(self) -> None:
        self.running = False
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._stopping = True  # no snapshot is scheduled from here on (stopping the broker reports
        self._cancel_publish()  # a lost connection, which marks every snapshot due)
        await self.enforcer.drain(timeout=5.0)
        await self.enforcer.cancel_all()
        await self._drain_background(timeout=5.0)
        for acct in self.accounts:
            self.recorder.save_memory(acct)
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self._store_queue.drain()  # flush queued writes
        self._store_queue.shutdown()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Start a task the guardian keeps until it ends (and drains on stop); its failure is logged."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def _drain_background(self, timeout: float) -> None:
        """Let the guardian's own tasks finish (a lock being stored among them), then cancel the rest."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # ----- events in ---------------------------------------------------------------------------

    def submit_event(self, event: Event) -> None:
        """Called from the broker's callbacks: O(1), never awaits."""
        self._queue.put_nowait(event)

    def _on_health(self, health: ConnectionHealth) -> None:
        was = self._health.guarding
        if health.reconnects != self._health.reconnects:
            # Every reconnect is followed by a Resync per account; until it arrives, what happened
            # during the gap is unknown (a failing Trade/search keeps it unknown): not guarded.
            self._resynced.clear()
        self._health = health
        self.publisher.emit("on_health", health)
        for acct in self.accounts:
            self.publisher.check_status(acct)
        if was and not health.guarding:
            self.publisher.notice(NoticeLevel.ALERT, None, None, texts.connection_lost(health.detail))
        elif not was and health.guarding and self.running:
            self.publisher.notice(NoticeLevel.INFO, None, None, texts.CONNECTION_RESTORED)
        for acct in self.accounts:
            self._dirty.add(acct)
        self._schedule_publish()

    async def _consume(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                for verdict in self.engine.process(event):
                    self._handle(verdict, event)
                self.events_processed += 1
                if isinstance(event, QuoteUpdated):
                    self._quote_moved(event.quote.contract_id)
                    continue
                # Quotes set no timers and move no position: the rest is for the other events.
                if isinstance(event, PositionUpdated):  # the hub's word on a reduce or close awaiting it
                    self.enforcer.position_seen(event.account_id, event.position.contract_id)
                elif isinstance(event, Resync):
                    self.enforcer.position_seen(event.account_id)
                # An account's event moves only that account's deadlines (a tick: anyone's).
                self._note_deadline(None if isinstance(event, ClockTick) else event.account_id)
            except Exception:
                log.exception("failed to process %s", type(event).__name__)

    def _quote_moved(self, contract_id: str) -> None:
        """A quote that decided nothing still moves the holders' open P&L: their snapshots are due
        (publishing is coalesced to ~10 per second, so a quote storm costs no more than that)."""
        for acct in self.accounts:
            state = self.engine.accounts.get(acct)
            if state is not None and contract_id in state.positions:
                self._dirty.add(acct)
        if self._dirty:
            self._schedule_publish()

    def _note_deadline(self, account_id: int | None = None) -> None:
        """Remember the engine's next deadline until a ClockTick has been sent for it.

        Rules report only deadlines still ahead (a grace timer that ran out, a window that just
        closed, are no longer "next"), so asking only once the moment has passed would never see
        them: the earliest deadline seen is kept until the heartbeat ticks for it."""
        deadline = self.engine.next_deadline(account_id)
        if deadline is not None and (self._due is None or deadline < self._due):
            self._due = deadline

    async def _heartbeat(self) -> None:
        last_poll = 0.0
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                now = self.clock.now()
                if self.pending is not None and now >= self.pending.at:
                    self._apply_pending()
                self._note_deadline()
                if self._due is not None and now >= self._due:
                    self._due = None
                    self.submit_event(ClockTick(now))
                if time.monotonic() - last_poll >= GRACE_POLL_S:
                    last_poll = time.monotonic()
                    for acct in self.accounts:
                        if self.engine.state(acct).stop_grace:
                            self._spawn(self._poll_orders(acct), f"grace-poll-{acct}")
            except Exception:
                log.exception("heartbeat failed")

    async def _poll_orders(self, account_id: int) -> None:
        """Stops placed in the web screen may arrive late: read working orders while a timer runs."""
        try:
            orders = await self.broker.open_orders(account_id)
        except Exception as exc:
            log.warning("could not poll open orders of %s: %s", account_id, exc)
            return
        for order in orders:
            self.submit_event(OrderUpdated(order))

    # ----- decisions out -----------------------------------------------------------------------

    def _handle(self, verdict: Verdict, event: Event) -> None:
        acct = verdict.account_id
        # Enforcement first: the broker calls leave before any bookkeeping.
        for d in verdict.decisions:
            if d.action not in (Action.LOCK, Action.WARN):
                self._enforce(d)
                if d.is_enforcement:  # absorbed ones too: every decision is in the audit log
                    self._audit_decision(d)
        if isinstance(event, Resync):
            self._resynced.add(acct)
            self._watch_positions(verdict)
        elif verdict.state.positions.keys() - self._watched:
            self._watch_positions(verdict)
        if not verdict.state.positions and not verdict.state.orders:
            self._alerts.pop(acct, None)  # flat again: the not-flat alert is over
        self._uncommitted.update(verdict.new_locks)
        if verdict.end_of_day is not None and verdict.state.day_start is not None:
            self._db_submit(self.store.record_end_of_day, acct, memory.ended_day(self.engine.calendar,
                            verdict.state.day_start), verdict.end_of_day, self.clock.now())
        if verdict.new_locks or verdict.ended_locks or verdict.new_trades or verdict.decisions:
            self._spawn(self.recorder.record_verdict(verdict), f"record-{acct}")
        self.publisher.check_status(acct)
        self._dirty.add(acct)
        self._schedule_publish()

    def _enforce(self, d: Decision) -> None:
        if not self.enforcer.submit(d):
            return
        self._leaving[d.account_id] = time.monotonic()
        self._left.clear()
        if d.is_enforcement:
            self._db_submit(self.store.begin_enforcement, d.account_id, d.action.value, d.contract_id, d.reason)

    def _audit_decision(self, d: Decision) -> None:
        """The decision's audit row, in the store's order here (before its broker calls' rows and
        its outcome's); its sentence is worked out as the batch leaves, after the request."""
        self._store_queue.submit_latest(("decision", id(d)), lambda: [
            (self.store.audit, (d.account_id, d.rule, "decision", texts.decision_sentence(d)), {})])

    def _watch_positions(self, verdict: Verdict) -> None:
        for contract in verdict.state.positions.keys() - self._watched:
            self._watched.add(contract)
            self._spawn(self._watch(contract), f"watch-{contract}")

    async def _watch(self, contract_id: str) -> None:
        try:
            await self.broker.watch_contract(contract_id)
            specs = await self.broker.contract_specs([contract_id])
            for spec in specs:
                self.engine.add_contract_spec(spec)
        except Exception as exc:
            log.warning("cannot stream quotes for %s: %s", contract_id, exc)

    def _call_answered(self, record: CallRecord) -> None:
        """The enforcer's broker call came back: its request has left (the bookkeeping may go)."""
        self._request_left(record.account_id)
        self.recorder.record_call(record)

    def _request_left(self, account_id: int) -> None:
        if self._leaving.pop(account_id, None) is not None and not self._leaving:
            self._left.set()
            if not self._busy():
                self._store_queue.flush()  # the batch need not wait out its delay any more

    def _enforcement_done(self, account_id: int, d: Decision, ok: bool, detail: str) -> None:
        self._request_left(account_id)  # one that made no call (nothing left to do) ends here
        self._db_submit(self.store.finish_enforcement_for, account_id, d.action.value, d.contract_id,
                        "done" if ok else f"failed: {detail}")
        if ok and detail == NOTHING_TO_DO:
            pass  # e.g. a web-screen market order already filled: the close does the work
        elif ok:
            if d.action in STOP_ACTIONS:
                self.publisher.notice(NoticeLevel.INFO, account_id, d.rule, texts.enforcement_done(d, detail))
            else:
                self.publisher.notice(NoticeLevel.ENFORCEMENT, account_id, d.rule, texts.enforcement_done(d, detail),
                                      "enforcement")
        else:
            text = texts.enforcement_failed(d, detail)
            if self._alerts.get(account_id) != detail:  # say it once per failure, not every retry cycle
                self.publisher.notice(NoticeLevel.ALERT, account_id, d.rule, text, "enforcement")
            else:
                self._db_submit(self.store.audit, account_id, d.rule, NoticeLevel.ALERT.value, text)
            self._alerts[account_id] = detail
            if d.action in (Action.PLACE_STOP, Action.MOVE_STOP) and d.contract_id:
                self.engine.forget_stop_request(account_id, d.contract_id, d.rule)  # 012/018 ask again (rules.md)
            self.resyncer.after_failure(account_id, self.enforcer.retry_delay(d))
        self._dirty.add(account_id)
        self._schedule_publish()

    # ----- settings ----------------------------------------------------------------------------

    def update_settings(self, now_settings: EngineSettings, pending: PendingSettings | None = None) -> None:
        """Apply a tightened config at once; keep loosenings pending until the reset."""
        self.recorder.unblocked(self.engine.apply_settings(now_settings))
        self.pending = pending
        self.submit_event(ClockTick(self.clock.now()))

    def _apply_pending(self) -> None:
        assert self.pending is not None
        pending, self.pending = self.pending, None
        self.recorder.unblocked(self.engine.apply_settings(pending.settings))
        self._db_submit(self.on_pending_applied)
        text = "; ".join(str(c) for c in pending.changes) or "rule changes"
        self.publisher.notice(NoticeLevel.INFO, None, None, f"pending rule changes now in effect: {text}")
        self.submit_event(ClockTick(self.clock.now()))

    # ----- state out (when: here; what: publish.py) ---------------------------------------------

    def _schedule_publish(self) -> None:
        if self._publish_handle is None and not self._stopping:
            loop = asyncio.get_running_loop()
            self._publish_handle = loop.call_later(PUBLISH_EVERY_S, self._publish)

    def _cancel_publish(self) -> None:
        if self._publish_handle is not None:
            self._publish_handle.cancel()
            self._publish_handle = None

    def _publish(self) -> None:
        self._publish_handle = None
        if not self._queue.empty() and self._publish_deferrals < PUBLISH_DEFERRALS:
            # Events wait to be decided (a breach among them, maybe): they go first.
            self._publish_deferrals += 1
            self._publish_handle = asyncio.get_running_loop().call_later(PUBLISH_DEFER_S, self._publish)
            return
        self._publish_deferrals = 0
        dirty, self._dirty = self._dirty, set()
        for acct in dirty:
            if acct in self.accounts:
                self.publisher.publish(acct)
                self.recorder.save_memory(acct)  # coalesced with the snapshots: at most ~10 a second

    def pnl_history(self, account_id: int) -> list[PnlPoint]:
        return self.publisher.pnl_history(account_id)

    def snapshot(self, account_id: int) -> AccountSnapshot:
        return self.publisher.snapshot(account_id)

    def pending_changes(self) -> list[PendingChange]:
        """Loosenings waiting for the next reset (for the rules panel)."""
        if self.pending is None:
            return []
        at = self.pending.at
        return [PendingChange(c.key, c.old_text, c.new_text, at) for c in self.pending.changes]

    # ----- the store, on its own thread -----------------------------------------------------------

    def _requests_leaving(self) -> bool:
        """An enforcement started less than ``REQUEST_LEAVES_S`` ago has had no answer yet: its
        request may still be on its way out."""
        if not self._leaving:
            return False
        now = time.monotonic()
        return any(now - started < REQUEST_LEAVES_S for started in self._leaving.values())

    async def _requests_left(self) -> None:
        """Until every enforcement started a moment ago has had its first answer, or
        ``REQUEST_LEAVES_S`` has passed since the last of them started."""
        if self._requests_leaving():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(self._leaving.values()) + REQUEST_LEAVES_S - time.monotonic()):
                    await self._left.wait()

    def _busy(self) -> bool:
        """The store's batch waits: events wait to be decided, or a request is on its way out."""
        return not self._queue.empty() or self._requests_leaving()

    async def _db_call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return await self._store_queue.call(fn, *args, **kwargs)

    def _db_submit(self, fn: Callable, *args: Any, **kwargs: Any) -> None:
        """Fire-and-forget bookkeeping, in order, off the event loop (batched: bookkeeping.py);
        failures are logged loudly."""
        self._store_queue.submit(fn, *args, **kwargs)

    async def store_call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """For the UI: read the store on its thread (activity log, CSV export)."""
        return await self._db_call(fn, *args, **kwargs)
