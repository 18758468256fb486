"""The gateway's request budget, kept on our side so that enforcement never queues behind reads.

The gateway allows 200 requests per 60 s per user (``History/*`` additionally 50 per 30 s) and
answers HTTP 429 past it. One ``RequestBudget`` per broker (one user) hands out slots:

- ``ENFORCEMENT`` requests (closes, cancels, stops, and the enforcer's verification reads) may use
  the whole budget and, when both wait, go first.
- ``ROUTINE`` requests (resyncs, reconciles, polls) may use the budget minus a reserve that is
  kept for enforcement, so a storm of reads never leaves a close waiting for a window to slide.

A slot counts from its grant until one window after its request ended (``Slot.release``): the
gateway counts a request when it arrives, which is between the two, so it never sees more than
the limit in any window. ``acquire`` waits and never fails; ``back_off`` pauses after a 429. Within
a priority, requests go first come, first served. The clock and the sleep are injected, so tests
with a fake clock are exact and fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum


class Priority(IntEnum):
    ENFORCEMENT = 0  # first
    ROUTINE = 1


@dataclass(eq=False, slots=True)
class Slot:
    """One granted request. ``release()`` when its answer (or failure) is in."""

    budget: RequestBudget
    history: bool
    granted_at: float
    ended_at: float | None = None  # None while the request is in flight

    def release(self) -> None:
        """The request's answer is in (or it failed): it stays in the window one more window."""
        if self.ended_at is None:
            self.ended_at = self.budget._clock()
            self.budget._end(self)
            self.budget._dispatch()

    def cancel(self) -> None:
        """The request was never sent: give the slot back."""
        self.budget._forget(self)
        self.budget._dispatch()


class _Window:
    """The requests one limit counts: those in flight, and those that ended less than a window ago,
    kept in the order they ended, so pruning looks at the oldest only (not at every request of the
    window on every grant and release)."""

    __slots__ = ("ended", "in_flight")

    def __init__(self) -> None:
        self.in_flight: set[Slot] = set()
        self.ended: deque[Slot] = deque()  # by ended_at (the monotonic clock at release)

    def __len__(self) -> int:
        return len(self.in_flight) + len(self.ended)

    def add(self, slot: Slot) -> None:
        self.in_flight.add(slot)

    def forget(self, slot: Slot) -> bool:
        """A slot given back unsent; whether it was counted here."""
        if slot in self.in_flight:
            self.in_flight.discard(slot)
            return True
        return False

    def end(self, slot: Slot) -> None:
        if slot in self.in_flight:
            self.in_flight.discard(slot)
            self.ended.append(slot)

    def prune(self, now: float, window: float) -> None:
        ended = self.ended
        while ended and ended[0].ended_at is not None and ended[0].ended_at <= now - window:
            ended.popleft()


@dataclass(eq=False, slots=True)
class _Ticket:
    priority: Priority
    history: bool
    since: float
    future: asyncio.Future[Slot] = field(repr=False)


class RequestBudget:
    """Sliding-window request budget with two priorities (see the module docstring).

    Args:
        limit, window: requests per window (seconds) on every endpoint.
        history_limit, history_window: the additional allowance of ``History/*`` requests (they
            count against both).
        reserve: the share of each limit kept for enforcement (routine requests may use the rest,
            at least one).
        max_back_off: the longest pause a 429 causes.
        default_back_off: the routine pause after a 429 that named no ``Retry-After``.
        clock: a monotonic clock in seconds; sleep: its matching sleep.
    """

    def __init__(
        self,
        limit: int = 200,
        window: float = 60.0,
        *,
        history_limit: int = 50,
        history_window: float = 30.0,
        reserve: float = 0.2,
        max_back_off: float = 30.0,
        default_back_off: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or history_limit < 1:
            raise ValueError("request budget limits must be at least 1")
        if window <= 0 or history_window <= 0:
            raise ValueError("request budget windows must be positive")
        if not 0.0 <= reserve < 1.0:
            raise ValueError("the enforcement reserve must be a share from 0 up to (not including) 1")
        self.limit, self.window = int(limit), float(window)
        self.history_limit, self.history_window = int(history_limit), float(history_window)
        self.reserve = float(reserve)
        self.max_back_off = float(max_back_off)
        self.default_back_off = float(default_back_off)
        self._clock = clock
        self._sleep = sleep
        self._slots = _Window()  # every request in the window
        self._history_slots = _Window()  # History/* requests in their window
        self._queues: dict[Priority, deque[_Ticket]] = {p: deque() for p in Priority}
        self._paused_until: dict[Priority, float] = {p: -math.inf for p in Priority}
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = math.inf
        # Counters for tests and observers.
        self.granted = 0  # slots handed out
        self.waited = 0.0  # seconds spent waiting for a slot, summed over requests
        self.rate_limited = 0  # 429s reported through back_off

    # ------------------------------------------------------------------ public

    def limit_for(self, priority: Priority, history: bool = False) -> int:
        limit = self.history_limit if history else self.limit
        if priority == Priority.ENFORCEMENT:
            return limit
        return max(1, limit - round(limit * self.reserve))

    async def acquire(self, priority: Priority = Priority.ROUTINE, history: bool = False) -> Slot:
        """Wait until the budget has room for one request of ``priority``; never fails."""
        ticket = _Ticket(Priority(priority), history, self._clock(), asyncio.get_running_loop().create_future())
        self._queues[ticket.priority].append(ticket)
        self._dispatch()
        try:
            return await ticket.future
        except asyncio.CancelledError:
            if ticket.future.done() and not ticket.future.cancelled():
                ticket.future.result().cancel()  # granted, never sent
            else:
                with contextlib.suppress(ValueError):
                    self._queues[ticket.priority].remove(ticket)
                self._dispatch()
            raise

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority = Priority.ROUTINE, history: bool = False) -> AsyncIterator[Slot]:
        """``acquire`` … ``release``, as a context."""
        granted = await self.acquire(priority, history)
        try:
            yield granted
        finally:
            granted.release()

    def back_off(self, retry_after: float | None = None) -> float:
        """The gateway answered 429. New routine requests pause for ``retry_after`` (or
        ``default_back_off`` when it named none), enforcement for ``retry_after`` only (the gateway
        would refuse it too); both capped at ``max_back_off``. Returns the routine pause."""
        self.rate_limited += 1
        now = self._clock()
        pause = min(max(self.default_back_off if retry_after is None else float(retry_after), 0.0), self.max_back_off)
        self._pause(Priority.ROUTINE, now + pause)
        if retry_after is not None:
            self._pause(Priority.ENFORCEMENT, now + pause)
        self._dispatch()
        return pause

    def used(self, history: bool = False) -> int:
        """Requests in the current window (in flight included): all, or ``History/*`` ones."""
        self._prune(self._clock())
        return len(self._history_slots if history else self._slots)

    def waiting(self, priority: Priority | None = None) -> int:
        """Requests waiting for a slot (of one priority, or all)."""
        return sum(len(q) for p, q in self._queues.items() if priority is None or p == priority)

    def paused_for(self, priority: Priority = Priority.ROUTINE) -> float:
        """Seconds left of a 429's pause for new requests of ``priority``."""
        return max(0.0, self._paused_until[priority] - self._clock())

    # ------------------------------------------------------------------ internals

    def _pause(self, priority: Priority, until: float) -> None:
        self._paused_until[priority] = max(self._paused_until[priority], until)

    def _prune(self, now: float) -> None:
        self._slots.prune(now, self.window)
        self._history_slots.prune(now, self.history_window)

    def _end(self, slot: Slot) -> None:
        self._slots.end(slot)
        if slot.history:
            self._history_slots.end(slot)

    @staticmethod
    def _room_in(slots: _Window, limit: int, window: float, now: float) -> float:
        """0 when the window has room under ``limit``; else seconds until it has (inf: not before
        a request in flight ends)."""
        need = len(slots) - limit + 1  # slots that must leave the window first
        if need <= 0:
            return 0.0
        if len(slots.ended) < need:
            return math.inf
        ended_at = slots.ended[need - 1].ended_at
        assert ended_at is not None  # an ended slot has its end
        return max(ended_at + window - now, 0.0)

    def _delay(self, ticket: _Ticket, now: float) -> float:
        wait = self._paused_until[ticket.priority] - now
        wait = max(wait, self._room_in(self._slots, self.limit_for(ticket.priority), self.window, now))
        if ticket.history:
            limit = self.limit_for(ticket.priority, history=True)
            wait = max(wait, self._room_in(self._history_slots, limit, self.history_window, now))
        return max(wait, 0.0)

    def _dispatch(self) -> None:
        """Grant every waiter that may go now, enforcement first and in order within a priority;
        set a timer for the earliest one that must wait."""
        now = self._clock()
        self._prune(now)
        wake_at = math.inf
        blocked: set[bool] = set()  # kinds (History or not) whose first waiter must wait: the rest wait behind it
        for priority in Priority:
            queue = self._queues[priority]
            for ticket in list(queue):
                if len(blocked) == 2:
                    break
                if ticket.future.done():  # cancelled
                    queue.remove(ticket)
                    continue
                if ticket.history in blocked:
                    continue
                wait = self._delay(ticket, now)
                if wait > 0:
                    blocked.add(ticket.history)  # also blocks this kind's routine waiters
                    wake_at = min(wake_at, now + wait)
                    continue
                queue.remove(ticket)
                slot = Slot(self, ticket.history, now)
                self._slots.add(slot)
                if ticket.history:
                    self._history_slots.add(slot)
                self.granted += 1
                self.waited += now - ticket.since
                ticket.future.set_result(slot)
        self._set_timer(wake_at if self.waiting() else math.inf)

    def _set_timer(self, wake_at: float) -> None:
        if self._timer is not None and not self._timer.done() and self._timer_at <= wake_at < math.inf:
            return  # an earlier wake-up is set already; it dispatches again
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, math.inf
        if wake_at < math.inf:
            self._timer_at = wake_at
            self._timer = asyncio.get_running_loop().create_task(self._wake_at(wake_at))

    async def _wake_at(self, when: float) -> None:
        await self._sleep(max(0.0, when - self._clock()))
        self._timer, self._timer_at = None, math.inf
        self._dispatch()

    def _forget(self, slot: Slot) -> None:
        if self._slots.forget(slot):
            self.granted -= 1
        self._history_slots.forget(slot)
