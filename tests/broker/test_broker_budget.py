"""``RequestBudget`` on a fake clock: exact waits, no real sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from deskguard.broker.base import current_priority, enforcement_priority
from deskguard.broker.budget import Priority, RequestBudget, Slot
from deskguard.broker.projectx import _default_week_start, _retry_after, _week_start_from
from deskguard.engine.calendar import TradingCalendar

pytestmark = [pytest.mark.timeout(10)]

E, R = Priority.ENFORCEMENT, Priority.ROUTINE


class FakeClock:
    """A monotonic clock that moves only when told; its sleep wakes when the clock passes."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + delay, future))
        await future

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for at, future in list(self._sleepers):
            if at <= self.now:
                self._sleepers.remove((at, future))
                if not future.done():
                    future.set_result(None)
        await settle()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def budget_on(clock: FakeClock, **options: object) -> RequestBudget:
    return RequestBudget(clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]


async def take(budget: RequestBudget, n: int, priority: Priority = R, history: bool = False) -> list[Slot]:
    """``n`` slots granted at once (the test fails if any has to wait), answered at once."""
    slots = []
    for _ in range(n):
        task = asyncio.ensure_future(budget.acquire(priority, history))
        await settle()
        assert task.done(), "a request that should have gone through waited"
        slots.append(task.result())
        slots[-1].release()
    return slots


async def waiting(budget: RequestBudget, priority: Priority = R, history: bool = False) -> asyncio.Task[Slot]:
    """A request asking now (started before the clock moves on)."""
    task = asyncio.ensure_future(budget.acquire(priority, history))
    await settle()
    return task


@pytest.mark.asyncio
async def test_a_routine_read_waits_while_enforcement_uses_the_reserve() -> None:
    clock = FakeClock()
    budget = budget_on(clock, limit=10, window=60.0, reserve=0.2)
    assert (budget.limit_for(R), budget.limit_for(E)) == (8, 10)
    await take(budget, 8, R)
    read = await waiting(budget, R)
    await settle()
    assert not read.done() and budget.waiting(R) == 1
    await take(budget, 2, E)  # the reserve: the close goes through at once
    close = await waiting(budget, E)
    await settle()
    assert not close.done()  # the whole budget is used now
    assert budget.used() == 10 and budget.granted == 10
    await clock.advance(59.5)
    assert not read.done() and not close.done()
    await clock.advance(0.5)  # the first ten leave the window together
    assert close.done() and read.done()
    assert budget.waited == pytest.approx(60.0 + 60.0)


@pytest.mark.asyncio
async def test_the_201st_request_waits_until_the_oldest_leaves_the_window() -> None:
    clock = FakeClock()
    budget = budget_on(clock, reserve=0.0)  # the gateway's 200 per 60 s
    await take(budget, 1)
    await clock.advance(10.0)
    await take(budget, 199)
    assert budget.used() == 200
    late = await waiting(budget)
    await clock.advance(49.75)
    assert not late.done()
    await clock.advance(0.25)  # t = 60: the request of t = 0 leaves
    assert late.done() and late.result().granted_at == 60.0
    another = await waiting(budget)
    await clock.advance(9.75)
    assert not another.done()
    await clock.advance(0.25)  # t = 70: the 199 of t = 10 leave
    assert another.done()
    assert budget.waited == pytest.approx(50.0 + 10.0)


@pytest.mark.asyncio
async def test_a_slot_counts_until_one_window_after_its_answer() -> None:
    """The gateway counts a request when it arrives, somewhere between grant and answer."""
    clock = FakeClock()
    budget = budget_on(clock, limit=2, window=10.0, reserve=0.0)
    first = await budget.acquire(R)
    (await budget.acquire(R)).release()
    third = await waiting(budget)
    await clock.advance(10.0)  # the answered one leaves the window
    assert third.done()  # and stays in flight too
    fourth = await waiting(budget)
    await clock.advance(30.0)  # both requests in the window are in flight: no slot can free
    assert not fourth.done()
    first.release()  # its answer at t = 40
    await clock.advance(9.0)
    assert not fourth.done()
    await clock.advance(1.0)  # t = 50
    assert fourth.done()


@pytest.mark.asyncio
async def test_an_old_request_still_in_flight_does_not_keep_later_ones_in_the_window() -> None:
    """Requests leave the window one window after their answers, whatever is still in flight
    before them; and a slot given back unsent stops counting at once."""
    clock = FakeClock()
    budget = budget_on(clock, limit=3, window=10.0, reserve=0.0)
    hanging = await budget.acquire(E)  # granted at t = 0, no answer yet
    await take(budget, 2)  # answered at t = 0
    assert budget.used() == 3
    late = await waiting(budget)
    await clock.advance(10.0)  # the two answered ones leave; the hanging one still counts
    assert late.done() and budget.used() == 2
    unsent = await budget.acquire(R)
    assert budget.used() == 3
    unsent.cancel()
    assert budget.used() == 2 and budget.granted == 4
    late.result().release()
    hanging.release()  # its answer at t = 10
    await clock.advance(9.9)
    assert budget.used() == 2
    await clock.advance(0.1)
    assert budget.used() == 0


@pytest.mark.asyncio
async def test_enforcement_goes_first_when_both_wait() -> None:
    clock = FakeClock()
    budget = budget_on(clock, limit=4, window=10.0, reserve=0.0)
    await take(budget, 1)
    await clock.advance(1.0)
    await take(budget, 3)
    order: list[str] = []
    reads = [await waiting(budget, R) for _ in range(2)]
    close = await waiting(budget, E)  # asked last
    for name, task in (("read 1", reads[0]), ("read 2", reads[1]), ("close", close)):
        task.add_done_callback(lambda _, name=name: order.append(name))
    await clock.advance(9.0)  # t = 10: one slot frees
    assert order == ["close"]
    await clock.advance(1.0)  # t = 11: three more free
    assert order == ["close", "read 1", "read 2"]  # first come, first served among reads


@pytest.mark.asyncio
async def test_history_has_its_own_window_on_top_of_the_overall_one() -> None:
    clock = FakeClock()
    budget = budget_on(clock, limit=100, window=60.0, history_limit=5, history_window=30.0, reserve=0.0)
    await take(budget, 5, history=True)
    bars = await waiting(budget, history=True)
    await take(budget, 3)  # other requests are not held up behind the bars
    assert budget.used(history=True) == 5 and budget.used() == 8
    await clock.advance(29.5)
    assert not bars.done()
    await clock.advance(0.5)
    assert bars.done() and budget.used(history=True) == 1 and budget.used() == 9


@pytest.mark.asyncio
async def test_back_off_pauses_routine_for_the_default_and_both_for_a_retry_after() -> None:
    clock = FakeClock()
    budget = budget_on(clock, limit=100, window=60.0, default_back_off=3.0, max_back_off=30.0)
    assert budget.back_off(None) == 3.0 and budget.rate_limited == 1
    read = await waiting(budget, R)
    await take(budget, 1, E)  # no Retry-After: enforcement is not held back
    await clock.advance(2.5)
    assert not read.done()
    await clock.advance(0.5)
    assert read.done()

    assert budget.back_off(5.0) == 5.0  # the gateway named a time: it refuses enforcement too
    assert budget.paused_for(E) == budget.paused_for(R) == 5.0
    read, close = await waiting(budget, R), await waiting(budget, E)
    await clock.advance(4.5)
    assert not read.done() and not close.done()
    await clock.advance(0.5)
    assert read.done() and close.done()

    assert budget.back_off(600.0) == 30.0  # capped
    assert budget.paused_for(E) == 30.0 and budget.rate_limited == 3


@pytest.mark.asyncio
async def test_a_cancelled_wait_leaves_the_queue() -> None:
    clock = FakeClock()
    budget = budget_on(clock, limit=1, window=10.0, reserve=0.0)
    await take(budget, 1)
    first, second = await waiting(budget), await waiting(budget)
    first.cancel()
    await settle()
    assert budget.waiting() == 1
    await clock.advance(10.0)
    assert second.done() and budget.used() == 1
    second.result().cancel()  # never sent: the slot is given back
    assert budget.used() == 0
    await take(budget, 1)


@pytest.mark.asyncio
async def test_the_enforcement_context_sets_the_priority_for_tasks_started_inside() -> None:
    assert current_priority() == R
    with enforcement_priority():
        assert current_priority() == E
        assert await asyncio.create_task(asyncio.sleep(0, result=current_priority())) == E
    assert current_priority() == R


def test_retry_after_is_seconds_or_a_date() -> None:
    assert _retry_after("7") == 7.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_the_week_starts_at_the_sunday_reset() -> None:
    chicago = ZoneInfo("America/Chicago")
    week = _default_week_start()
    assert week == TradingCalendar().week_start(datetime.now(UTC))
    local = week.astimezone(chicago)
    assert (local.weekday(), local.hour, local.minute) == (6, 17, 0)
    # From a day start in another zone: the Sunday reset there, across the November DST change.
    new_york = ZoneInfo("America/New_York")
    calendar = TradingCalendar(timezone=new_york)
    for now in (datetime(2026, 11, 4, 12, tzinfo=UTC), datetime(2026, 11, 1, 23, tzinfo=UTC),
                datetime(2026, 11, 7, 23, tzinfo=UTC)):
        derived = _week_start_from(lambda now=now: calendar.day_start(now))()
        assert derived == calendar.week_start(now) and derived.utcoffset() == calendar.week_start(now).utcoffset()
