"""The enforcement hot path (issue 18): the store's work leaves the loop in ordered batches that
wait while events wait to be decided (bookkeeping.py), never for ever."""

from __future__ import annotations

import asyncio
import threading

import pytest

from deskguard.guardian.bookkeeping import StoreQueue

pytestmark = pytest.mark.asyncio


async def test_store_calls_run_in_order_in_one_batch_on_the_store_s_thread() -> None:
    queue = StoreQueue(delay=0.005)
    seen: list[tuple[str, str]] = []
    for i in range(5):
        queue.submit(lambda i=i: seen.append((f"write {i}", threading.current_thread().name)))
    result = await queue.call(lambda: seen.append(("read", threading.current_thread().name)) or 42)
    assert result == 42
    assert [what for what, _ in seen] == [f"write {i}" for i in range(5)] + ["read"]
    assert {thread for _, thread in seen} == {"deskguard-store_0"}
    assert queue.batches == 1  # six calls, one wake-up of the thread
    queue.shutdown()


async def test_a_batch_waits_while_the_guardian_is_busy_but_not_for_ever() -> None:
    busy = [True]
    ran = asyncio.Event()
    loop = asyncio.get_running_loop()
    queue = StoreQueue(busy=lambda: busy[0], delay=0.005, max_defer=0.5)
    queue.submit(lambda: loop.call_soon_threadsafe(ran.set))
    await asyncio.sleep(0.05)
    assert not ran.is_set() and queue.batches == 0  # busy: still on the loop
    await asyncio.wait_for(ran.wait(), 5.0)  # the cap hands it over although still busy
    assert queue.batches == 1
    busy[0] = False
    queue.submit(lambda: None)
    await asyncio.sleep(0.05)
    assert queue.batches == 2  # not busy: after the short delay
    queue.shutdown()


async def test_a_latest_write_is_worked_out_once_per_batch_in_the_place_of_its_first_ask() -> None:
    """The rules' memory is asked for at every verdict; its JSON is built once, as the batch leaves."""
    queue = StoreQueue(delay=0.005)
    seen: list[str] = []
    produced: list[int] = []
    value = [0]

    def produce():
        produced.append(value[0])
        return [(seen.append, (f"memory {value[0]}",), {})] if value[0] != 3 else []

    queue.submit(seen.append, "before")
    for v in (1, 2):
        value[0] = v
        queue.submit_latest("memory", produce)
    queue.submit(seen.append, "after")
    await queue.drain()
    assert seen == ["before", "memory 2", "after"]  # the latest value, in the first ask's place
    assert produced == [2]  # worked out once, when the batch left
    value[0] = 3
    queue.submit_latest("memory", produce)
    await queue.drain()
    assert produced == [2, 3] and seen == ["before", "memory 2", "after"]  # []: nothing written
    queue.shutdown()


async def test_a_failing_call_raises_in_its_caller_and_a_failing_write_stops_nothing(caplog) -> None:
    queue = StoreQueue(delay=0.001)

    def broken() -> None:
        raise OSError("disk full")

    queue.submit(broken)
    with pytest.raises(OSError, match="disk full"):
        await queue.call(broken)
    assert await queue.call(lambda: "still working") == "still working"
    assert "store write broken failed" in caplog.text
    await queue.drain()
    queue.shutdown()
    queue.submit(lambda: None)  # after shutdown: dropped, loudly
    assert "store closed" in caplog.text


async def test_a_due_snapshot_waits_while_events_wait_to_be_decided_but_not_for_ever() -> None:
    from deskguard.engine.events import ClockTick
    from deskguard.engine.settings import EngineSettings
    from deskguard.guardian import Guardian
    from deskguard.guardian.core import PUBLISH_DEFERRALS

    guardian = Guardian(broker=object(), store=object(), settings=EngineSettings())  # type: ignore[arg-type]
    guardian.accounts = [1]
    passes: list[int] = []  # snapshots emitted so far, at each publishing pass
    snapshots: list[object] = []

    class Observer:
        def on_snapshot(self, snap: object) -> None:
            snapshots.append(snap)

    publish = guardian._publish

    def counted() -> None:
        passes.append(len(snapshots))
        publish()

    guardian._publish = counted  # type: ignore[method-assign]
    guardian.add_observer(Observer())  # type: ignore[arg-type]

    guardian.submit_event(ClockTick(guardian.clock.now()))  # waiting to be decided (no consumer runs)
    guardian._dirty.add(1)
    guardian._schedule_publish()
    for _ in range(200):
        if snapshots:
            break
        await asyncio.sleep(0.01)
    # Deferred PUBLISH_DEFERRALS times while the event waited, then published all the same.
    assert passes == [0] * (PUBLISH_DEFERRALS + 1) and len(snapshots) == 1

    guardian._queue.get_nowait()  # decided: nothing waits now
    passes.clear()
    guardian._dirty.add(1)
    guardian._schedule_publish()
    for _ in range(200):
        if len(snapshots) == 2:
            break
        await asyncio.sleep(0.01)
    assert passes == [1] and len(snapshots) == 2  # published on its first pass
    guardian._store_queue.shutdown()


@pytest.mark.integration
async def test_a_second_size_breach_during_the_reduce_s_verification_is_reduced_from_a_positions_read(
        sim, make_guardian):
    """The trader adds again while the guard's reduce still reads the position back: the new
    breach is reduced right after, from a fresh Position/searchOpen — not after a re-read of the
    whole account — and never below the limit."""
    from guardian_harness import ACCOUNT, ok, settings_with, sim_size, stays, wait_for

    rig = await make_guardian(settings_with(max_contracts_per_instrument={"limits": {"MNQ": 2, "MES": 10}}))
    rig.guardian.enforcer.hub_confirm_s = 0  # the cut is verified by reading (as when the hub is late)
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 2))
    await wait_for(lambda: rig.snap().positions, 3, "guardian sees the position")
    sim.delay_next("Position/searchOpen", 1, 1.0)  # the first reduce's verification read is slow
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # 3 > 2: reduce
    await wait_for(lambda: sim_size(sim, "MNQ") == 2, 3, "first reduce")
    assert rig.guardian.enforcer.in_flight(ACCOUNT)  # still verifying
    mark = sim.requests()[-1].seq
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # 3 > 2 again, while that reduce is in flight
    await wait_for(lambda: sim_size(sim, "MNQ") == 2, 4, "second breach reduced")
    await stays(lambda: sim_size(sim, "MNQ") == 2, 0.5, "MNQ stays at its limit, not below")
    endpoints = [r.endpoint for r in sim.requests(since=mark)]
    assert endpoints.count("Position/partialCloseContract") == 1, endpoints
    assert "Trade/search" not in endpoints and "Account/search" not in endpoints, endpoints  # no re-read
    assert not rig.guardian.enforcer.in_flight(ACCOUNT)


@pytest.mark.integration
async def test_an_accepted_cut_is_confirmed_by_the_hub_s_position_update_without_a_read(sim, make_guardian):
    """The usual case: the gateway accepts the cut and pushes the position's new size; that update
    confirms it, so the breach costs one request, not a cut and a read."""
    from guardian_harness import ACCOUNT, ok, settings_with, sim_size, stays, wait_for

    from deskguard.guardian import NoticeLevel

    rig = await make_guardian(settings_with(max_contracts_per_instrument={"limits": {"MNQ": 2, "MES": 10}}))
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 2))
    await wait_for(lambda: rig.snap().positions, 3, "guardian sees the position")
    mark = sim.requests()[-1].seq
    calls = _enforcer_calls(rig)
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # 3 > 2: reduce
    await wait_for(lambda: rig.watcher.of(NoticeLevel.ENFORCEMENT, ACCOUNT), 3, "the reduce's outcome")
    await stays(lambda: sim_size(sim, "MNQ") == 2, 0.3, "MNQ at its limit")
    assert [(c.call, c.ok) for c in calls] == [("Position/partialCloseContract", True)], calls
    endpoints = [r.endpoint for r in sim.requests(since=mark) if r.endpoint.startswith(("Position/", "Order/"))]
    assert endpoints == ["Position/partialCloseContract"], endpoints  # nor anything else read meanwhile
    assert "Reduced MNQ to 2" in rig.watcher.of(NoticeLevel.ENFORCEMENT, ACCOUNT)[-1].text
    assert not rig.guardian.enforcer.in_flight(ACCOUNT) and not rig.guardian.enforcer._awaiting
    # The audit log tells it in order: the decision, its broker call, its outcome.
    await rig.guardian._store_queue.drain()
    events = [r.event for r in rig.store.audit_entries(account_id=ACCOUNT, after_id=0)
              if r.rule == "max_contracts_per_instrument"]
    assert events == ["decision", "broker_call", "enforcement"], events


@pytest.mark.integration
async def test_a_close_confirmed_by_the_hub_needs_no_read(sim, make_guardian):
    """A blocked symbol is closed on sight; the hub's update that the position is gone confirms the
    close, which so makes no read of its own."""
    from guardian_harness import ACCOUNT, ok, settings_with, sim_size, stays, wait_for

    from deskguard.guardian import NoticeLevel

    rig = await make_guardian(settings_with(symbol_blocks={"enabled": True, "symbols": ("RTY",)}))
    calls = _enforcer_calls(rig)
    ok(sim.place_order(ACCOUNT, "RTY", "buy", 1))
    await wait_for(lambda: any("RTY" in n.text for n in rig.watcher.of(NoticeLevel.ENFORCEMENT, ACCOUNT)), 3,
                   "the close's outcome")
    await stays(lambda: sim_size(sim, "RTY") == 0, 0.3, "RTY flat")
    assert [(c.call, c.ok) for c in calls] == [("Position/closeContract", True)], calls


def _enforcer_calls(rig) -> list:
    """Every broker call the guardian's enforcer makes from now on (its CallRecords)."""
    calls: list = []
    listener = rig.guardian.enforcer.listener
    record = listener.on_call
    listener.on_call = lambda call: (calls.append(call), record(call))[1]
    return calls


@pytest.mark.integration
async def test_a_cut_the_hub_does_not_confirm_is_read_back_after_hub_confirm_s(sim, make_guardian):
    """The user hub pushes nothing (silent, connections up): the accepted cut gets no update, so
    after ``hub_confirm_s`` the position is read, and the reduce ends on what the read shows."""
    from guardian_harness import ACCOUNT, ok, settings_with, sim_size, wait_for

    from deskguard.guardian import NoticeLevel

    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 3))  # over the limit of 2 before the guard starts
    sim.set_hub_silent("user")
    mark = sim.requests()[-1].seq if sim.requests() else 0
    rig = await make_guardian(settings_with(max_contracts_per_instrument={"limits": {"MNQ": 2, "MES": 10}}),
                              start=False)
    rig.guardian.enforcer.hub_confirm_s = 0.4
    await rig.guardian.start()  # its first read sees 3 > 2: reduce
    await wait_for(lambda: rig.watcher.of(NoticeLevel.ENFORCEMENT, ACCOUNT), 4, "the reduce's outcome")
    assert sim_size(sim, "MNQ") == 2
    calls = [r for r in sim.requests(since=mark) if r.endpoint.startswith("Position/")]
    cut = next(i for i, r in enumerate(calls) if r.endpoint == "Position/partialCloseContract")
    assert [r.endpoint for r in calls[cut:]] == ["Position/partialCloseContract", "Position/searchOpen"]
    assert calls[cut + 1].mono - calls[cut].mono >= 0.4  # read only once the hub stayed silent that long
    assert "Reduced MNQ to 2" in rig.watcher.of(NoticeLevel.ENFORCEMENT, ACCOUNT)[-1].text


async def _buy_during_every_read_back(sim, rig, symbol: str, endpoint: str, times: int, settled: int) -> int:
    """Buy 1 ``symbol``, then again ``times`` times, each while the guard reads the position back
    (every read-back is slow) after its ``endpoint`` call brought it back to ``settled``; check it
    ends at ``settled`` with no alert. Returns the request mark from before the first buy."""
    from guardian_harness import ACCOUNT, ok, sim_size, stays, wait_for

    from deskguard.guardian import NoticeLevel

    rig.guardian.enforcer.hub_confirm_s = 0  # every call verified by reading (as when the hub is late)
    sim.delay_next("Position/searchOpen", times + 1, 0.3)
    mark = sim.requests()[-1].seq
    ok(sim.place_order(ACCOUNT, symbol, "buy", 1))
    for done in range(1, times + 1):
        await wait_for(lambda d=done: [r.endpoint for r in sim.requests(since=mark)].count(endpoint) >= d
                       and sim_size(sim, symbol) == settled, 3, f"{endpoint} {done}")
        ok(sim.place_order(ACCOUNT, symbol, "buy", 1))
    await wait_for(lambda: sim_size(sim, symbol) == settled and not rig.guardian.enforcer.in_flight(ACCOUNT), 5,
                   "the last buy handled, the enforcement settled")
    await stays(lambda: sim_size(sim, symbol) == settled, 0.3, f"{symbol} stays at {settled}")
    assert not rig.watcher.of(NoticeLevel.ALERT, ACCOUNT), [n.text for n in rig.watcher.of(NoticeLevel.ALERT)]
    return mark


async def test_a_trader_adding_during_every_verification_is_cut_each_time_and_no_failure_pauses_the_guard(
        sim, make_guardian):
    """Each of the reduce's read-backs is slow and the trader adds a contract while it runs, more
    often than the reduce's failed-round budget (FLATTEN_ROUNDS): every cut was accepted, so the
    reduce is not judged failed (a failure would pause this account's reduces, FIRST_RETRY_S and
    doubling) and the position ends at its limit."""
    from guardian_harness import ACCOUNT, ok, settings_with, wait_for

    from deskguard.guardian.enforcer import FLATTEN_ROUNDS

    rig = await make_guardian(settings_with(max_contracts_per_instrument={"limits": {"MNQ": 2, "MES": 10}},
                                            trade_frequency={"enabled": False}))  # entries galore here
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 2))
    await wait_for(lambda: rig.snap().positions, 3, "guardian sees the position")
    adds = FLATTEN_ROUNDS + 1
    mark = await _buy_during_every_read_back(sim, rig, "MNQ", "Position/partialCloseContract", adds, settled=2)
    cuts = [r for r in sim.requests(since=mark) if r.endpoint == "Position/partialCloseContract"]
    assert len(cuts) == adds + 1 and all(r.body.get("size") == 1 for r in cuts), [r.body for r in cuts]


async def test_a_trader_reopening_a_blocked_symbol_during_every_verification_is_closed_each_time_without_failure(
        sim, make_guardian):
    """The close-on-sight of a locked symbol, against a trader who re-opens it during each of the
    close's slow read-backs, more often than FLATTEN_ROUNDS: every close was accepted, so it is not
    judged failed (which would pause this close, FIRST_RETRY_S and doubling), and RTY ends flat."""
    from guardian_harness import settings_with

    from deskguard.guardian.enforcer import FLATTEN_ROUNDS

    rig = await make_guardian(settings_with(symbol_blocks={"enabled": True, "symbols": ("RTY",)},
                                            trade_frequency={"enabled": False}))
    # A blocked symbol: closed on sight (and locked); re-opened each time a close has gone through.
    await _buy_during_every_read_back(sim, rig, "RTY", "Position/closeContract", FLATTEN_ROUNDS + 1, settled=0)


async def test_the_store_s_thread_lets_go_of_the_gil_between_two_writes_of_a_batch() -> None:
    """A hub event arriving during a batch must not wait for the whole batch: between two writes
    the thread sleeps (and so frees the GIL for the loop); before the first and after the last it
    does not."""
    order: list[str] = []
    queue = StoreQueue(delay=0.001, gap=0.0002, sleep=lambda s: order.append(f"sleep {s:g}"))
    for i in range(3):
        queue.submit(order.append, f"write {i}")
    await queue.drain()
    assert order == ["write 0", "sleep 0.0002", "write 1", "sleep 0.0002", "write 2"]
    queue.shutdown()


async def test_while_the_guardian_is_busy_the_store_s_thread_writes_nothing_more_but_not_for_ever() -> None:
    """A batch already on the thread stops between two writes while a close is on its way out
    (the GIL stays with the loop), goes on when the guardian is idle, and gives up waiting after
    ``max_defer`` so a storm cannot hold the writes back for ever."""
    busy = threading.Event()
    written: list[int] = []

    def write(i: int) -> None:
        written.append(i)
        if i == 0:
            busy.set()  # the loop took in a breach while the first write ran

    queue = StoreQueue(busy=busy.is_set, delay=0.001, max_defer=0.3)
    for i in range(3):
        queue.submit(write, i)
    await asyncio.sleep(0.1)
    assert written == [0]  # busy: the rest waits
    busy.clear()
    await asyncio.sleep(0.05)
    assert written == [0, 1, 2]  # idle again: written

    written.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(2):
        queue.submit(write, i)
    await queue.drain()  # busy all along (set by write 0): written after max_defer all the same
    assert written == [0, 1] and loop.time() - started >= 0.25
    queue.shutdown()


async def test_stopping_schedules_no_snapshot_or_memory_write_after_the_store_closed(sim, make_guardian, caplog) -> None:
    """Stopping the broker reports the lost connection (a health change marks every account's
    snapshot due); nothing may be handed to the store's queue once it is shut: it would be dropped."""
    import asyncio

    from deskguard.guardian.core import PUBLISH_EVERY_S

    rig = await make_guardian()
    await asyncio.sleep(PUBLISH_EVERY_S * 3)  # the start's snapshots are out: none is due when it stops
    await rig.stop()
    await asyncio.sleep(PUBLISH_EVERY_S * 3)
    assert "store closed" not in caplog.text


async def test_a_guard_on_a_state_db_has_its_writes_made_by_the_writer_process(make_guardian) -> None:
    """Issue 18: no thread of the guard's process writes SQLite; its writer process does, and it
    ends with the guard."""
    import os

    rig = await make_guardian()
    queue = rig.guardian._store_queue
    await queue.drain()
    pid = queue.writer_pid
    assert pid is not None and pid != os.getpid()
    assert any(e.event == "status" for e in rig.store.audit_entries())  # written there, read here
    await rig.stop()
    assert queue.writer_pid is None


class _AnsweredLater:
    """A broker whose stop placement is answered when the test says so."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[int] | None = None

    async def place_stop(self, *args: object, **kwargs: object) -> int:
        self.answer = asyncio.get_running_loop().create_future()
        return await self.answer


class _NoStore:
    """A store that takes every write and keeps nothing."""

    def __getattr__(self, name: str) -> object:
        return lambda *args, **kwargs: None


def _stop_decision():
    from deskguard.engine.decisions import Action, Decision

    return Decision(1, Action.PLACE_STOP, "breakeven", "move to breakeven", contract_id="CON.F.US.MNQ.Z26",
                    size=1, stop_price=21000.0, side=1)


async def test_bookkeeping_waits_for_the_enforcement_s_first_answer_then_goes_at_once(monkeypatch) -> None:
    """After an enforcement starts, the verdict's bookkeeping and the store's batch wait until its
    first broker call is answered (its request has surely left) — not a fixed while — and go then."""
    from deskguard.engine.settings import EngineSettings
    from deskguard.guardian import Guardian, core

    monkeypatch.setattr(core, "REQUEST_LEAVES_S", 5.0)  # the bound is not what ends the wait here
    broker = _AnsweredLater()
    guardian = Guardian(broker=broker, store=_NoStore(), settings=EngineSettings())  # type: ignore[arg-type]
    guardian._store_queue.delay = 10.0  # a batch would not leave on its own during this test
    guardian._enforce(_stop_decision())
    guardian._db_submit(lambda: None)  # a write of the verdict's bookkeeping
    waiting = asyncio.ensure_future(guardian._requests_left())
    await asyncio.sleep(0.05)
    assert broker.answer is not None and not waiting.done() and guardian._busy()
    assert guardian._store_queue.batches == 0  # nothing handed to the store while the request leaves

    broker.answer.set_result(77)
    await asyncio.wait_for(waiting, 0.5)  # answered: the bookkeeping goes
    assert not guardian._busy() and guardian._store_queue.batches == 1  # and the batch, without its delay
    await guardian.enforcer.drain()
    guardian._store_queue.shutdown()


async def test_bookkeeping_waits_no_longer_than_request_leaves_s_for_an_answer(monkeypatch) -> None:
    from deskguard.engine.settings import EngineSettings
    from deskguard.guardian import Guardian, core

    monkeypatch.setattr(core, "REQUEST_LEAVES_S", 0.2)
    broker = _AnsweredLater()
    guardian = Guardian(broker=broker, store=_NoStore(), settings=EngineSettings())  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    started = loop.time()
    guardian._enforce(_stop_decision())
    await asyncio.wait_for(guardian._requests_left(), 2.0)  # never answered
    assert 0.15 <= loop.time() - started < 1.0 and not guardian._requests_leaving()
    await guardian.enforcer.cancel_all()
    guardian._store_queue.shutdown()
