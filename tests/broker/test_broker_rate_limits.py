"""The gateway's budget through the real SDK against the simulator: a 429 comes back at once and
backs off, waiting for the budget is not the gateway's silence, a read storm stays within the
budget while a close goes first."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

import pytest
from broker_harness import USERNAME, Recorder, wait_until

from deskguard.broker.base import BrokerError, RateLimited, Refused, enforcement_priority
from deskguard.broker.budget import Priority, RequestBudget
from deskguard.broker.projectx import ProjectXBroker
from deskguard.engine.events import PositionUpdated
from deskguard.simulator import OrderSide, Simulator
from deskguard.simulator import RequestBudget as GatewayBudget

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.timeout(60)]

MakeBroker = Callable[..., ProjectXBroker]


async def started(make_broker: MakeBroker, **options: object) -> tuple[ProjectXBroker, Recorder]:
    broker = make_broker(**options)
    await broker.connect()
    recorder = Recorder()
    await broker.start([1001], ["MNQ"], recorder.listener())
    return broker, recorder


async def with_position(sim: Simulator, rec: Recorder) -> str:
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: rec.of(PositionUpdated, position__size=1))
    return sim.contract("MNQ").id


def open_size(sim: Simulator, contract_id: str) -> int:
    return sum(p["size"] for p in sim.state()["positions"] if p["accountId"] == 1001 and p["contractId"] == contract_id)


async def test_the_sdk_neither_limits_nor_sleeps_on_its_own(make_broker: MakeBroker) -> None:
    broker, _ = await started(make_broker)
    client = broker._session.client()
    assert client.rate_limiter.max_requests >= 1_000_000  # our budget replaces the SDK's limiter
    assert client._make_request.__func__ is type(client)._make_request.__wrapped__  # no 60 s sleep on a 429
    # Not even its lock: 200 acquisitions at once all pass in one turn of the loop.
    acquired = asyncio.gather(*(client.rate_limiter.acquire() for _ in range(200)))
    await asyncio.wait_for(acquired, timeout=0.5)


async def test_a_burst_of_reads_leaves_a_small_pool_of_idle_connections(sim: Simulator, make_broker: MakeBroker) -> None:
    """httpcore scans its pool per request, quadratically: a start-up burst must not leave 50 idle
    connections for every later close to scan."""
    from deskguard.broker.session import MAX_IDLE_CONNECTIONS

    broker, _ = await started(make_broker)
    pool = broker._session.client()._client._transport._pool
    sim.api.network_delay_s = 0.05  # each read takes 100 ms: the burst's reads are all in flight at once
    burst = asyncio.gather(*(broker.open_orders(1001) for _ in range(3 * MAX_IDLE_CONNECTIONS)))
    await wait_until(lambda: len(pool.connections) >= 3 * MAX_IDLE_CONNECTIONS)
    await burst
    sim.api.network_delay_s = 0.0
    await broker.open_positions(1001)  # one more request lets the pool drop the surplus
    assert 1 <= len(pool.connections) <= MAX_IDLE_CONNECTIONS


async def test_the_http_stack_finds_sniffio_rather_than_searching_for_it_per_request() -> None:
    """httpcore asks sniffio which async library runs whenever it makes a lock; without sniffio each
    request paid a failed import (a search of sys.path, ~30 us each time: encode/httpcore#1103)."""
    from httpcore._synchronization import current_async_library

    assert current_async_library() == "asyncio"
    assert sys.modules.get("sniffio") is not None  # imported once, found from then on


async def test_a_429_comes_back_at_once_as_rate_limited_and_backs_off(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker)
    contract = await with_position(sim, rec)
    budget = broker.budget

    sim.fail_next("Order/searchOpen", status=429)  # no Retry-After: the SDK would sleep 60 s
    seen = len(sim.requests("Order/searchOpen"))
    began = time.monotonic()
    with pytest.raises(RateLimited, match="Order/searchOpen account 1001: rate-limited by the gateway") as info:
        await broker.open_orders(1001)
    assert time.monotonic() - began < 2.0
    assert info.value.retry_after is None and isinstance(info.value, BrokerError)
    assert len(sim.requests("Order/searchOpen")) == seen + 1  # not retried behind our back
    assert budget.rate_limited == 1
    assert budget.paused_for(Priority.ROUTINE) > 1.0 and budget.paused_for(Priority.ENFORCEMENT) == 0.0

    # Routine reads are paused, a close is not (the gateway named no time to wait).
    began = time.monotonic()
    sim.fail_next("Position/closeContract", status=429)
    with pytest.raises(RateLimited) as info:
        await broker.close_position(1001, contract)
    assert "outcome unknown" not in str(info.value)  # a 429 was not carried out
    assert open_size(sim, contract) == 1
    await broker.close_position(1001, contract)  # the enforcer's next try
    assert time.monotonic() - began < 1.0
    assert open_size(sim, contract) == 0
    assert budget.rate_limited == 2


async def test_the_gateways_retry_after_holds_enforcement_back_too(sim: Simulator, make_broker: MakeBroker) -> None:
    # Our budget is generous, the gateway's is not: someone else uses this user's allowance.
    broker, rec = await started(make_broker, request_budget=RequestBudget(limit=1000, window=60.0))
    contract = await with_position(sim, rec)
    sim.set_request_budget(GatewayBudget(limit=5, window_s=2.0))
    with pytest.raises(RateLimited) as info:
        for _ in range(10):
            await broker.open_orders(1001)
    retry_after = info.value.retry_after
    assert retry_after is not None and 1.0 <= retry_after <= 2.0
    assert f"Retry-After {retry_after:g}s" in str(info.value)
    assert broker.budget.paused_for(Priority.ENFORCEMENT) > 0.5
    began = time.monotonic()
    await broker.close_position(1001, contract)  # waits out the pause instead of being refused
    assert retry_after - 0.5 < time.monotonic() - began < retry_after + 1.5
    assert open_size(sim, contract) == 0
    assert [r.status for r in sim.requests("Position/closeContract")] == [200]


async def test_waiting_for_the_budget_is_not_the_gateways_silence(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, _ = await started(make_broker, request_timeout=1.0, request_budget=RequestBudget(limit=10, window=1.5, reserve=0.0))
    budget = broker.budget
    while budget.used() < budget.limit:  # someone used the whole budget just now
        (await budget.acquire(Priority.ENFORCEMENT)).release()
    began, waited = time.monotonic(), budget.waited
    assert await broker.open_orders(1001) == []  # an answer, not "no answer within 1s"
    assert time.monotonic() - began > 1.2
    assert budget.waited - waited > 1.2


async def test_a_read_storm_stays_within_the_budget_and_a_close_goes_first(sim: Simulator, make_broker: MakeBroker) -> None:
    limit, window = 20, 1.0
    sim.set_request_budget(GatewayBudget(limit=limit, window_s=window))  # a breach would be a 429
    broker, rec = await started(make_broker, request_budget=RequestBudget(limit=limit, window=window, reserve=0.2))
    contract = await with_position(sim, rec)
    budget = broker.budget

    storm = asyncio.gather(*(broker.open_orders(1001) for _ in range(60)))  # ROUTINE
    await asyncio.sleep(1.2)
    assert budget.waiting(Priority.ROUTINE) > 10  # the storm is still queued
    closes = len(sim.requests("Position/closeContract"))
    began = time.perf_counter()
    await broker.close_position(1001, contract)
    close = sim.requests("Position/closeContract")[closes]
    with enforcement_priority():  # the enforcer's verification read goes first too
        verify_began = time.perf_counter()
        assert await broker.open_positions(1001) == []
        verify_took = time.perf_counter() - verify_began
    assert budget.waiting(Priority.ROUTINE) > 0  # still in the middle of the storm
    results = await asyncio.wait_for(storm, 30)

    assert close.mono - began < 0.3, f"the close reached the gateway after {close.mono - began:.3f}s"
    assert verify_took < 0.3
    assert all(r == [] for r in results)
    mine = [r for r in sim.requests() if r.user == USERNAME]
    assert not [r for r in mine if r.status == 429]
    times = [r.mono for r in mine]
    busiest = max(sum(1 for u in times if t - window < u <= t) for t in times)
    assert busiest <= limit
    assert busiest > limit * 0.7  # and the budget was actually used


async def test_success_false_is_a_refusal(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker)
    with pytest.raises(Refused, match=r"Order/cancel account 1001 order 424242: refused by the gateway") as info:
        await broker.cancel_order(1001, 424242)
    assert isinstance(info.value.error_code, int)
    contract = await with_position(sim, rec)
    sim.refuse_closes(1001)
    with pytest.raises(Refused) as info:
        await broker.close_position(1001, contract)
    assert info.value.error_code == 5
    assert open_size(sim, contract) == 1


async def test_a_request_and_its_answer_are_freed_at_once_not_left_to_the_garbage_collector(
        sim: Simulator, make_broker: MakeBroker) -> None:
    """httpx makes each response and its stream refer to each other; the broker's response hook
    breaks that cycle, so a request leaves no garbage for the collector (whose pauses then landed
    beside the reaction's slowest breaches)."""
    import gc

    broker, _ = await started(make_broker)
    await broker.open_positions(1001)  # warm: the client, its pool and hooks are made
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(5):
            await broker.open_positions(1001)
        gc.collect()
        left = sorted({type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith(("httpx", "httpcore"))})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
