"""Reaction time: the simulator's push of a breaching trade → the first enforcement request it receives.

Both ends are stamped by the simulator itself (``time.perf_counter``), through the real SDK over
loopback HTTP and SignalR. The simulator runs in a process of its own (:mod:`.simulator_process`),
as a real gateway is another machine, and the breaches are made there too (its ``reaction``
command): the measured process runs only the guard, or only the floor's client, and no driver.
The breach: account holds 2 MNQ with ``max_contracts`` limit 2; the trader buys 1 more from the
"web screen"; the guard must send ``Position/partialCloseContract``.
The clock starts at the fill's ``GatewayUserTrade`` push (the position push that actually carries
the breach comes after it, so the figure is slightly pessimistic).

The SDK floor is a minimal client measured in the same run on another account: the SDK's realtime
client with a raw ``position_update`` callback that fires the same REST call at once — no engine,
no queue, no DeskGuard. ``reaction / floor`` is DeskGuard's own overhead. The two sides take
turns in ``BLOCKS`` blocks of breaches (floor, guard, floor, guard, …), so both sample the same
spells of the machine's noise.

With ``load`` (``python -m deskguard.bench reaction --load N``) both sides are measured twice in the
same run: idle, then again while N CPU-bound competitor processes (:mod:`.load`) keep the cores
busy, as charting software on a trader's PC does. The ``*_loaded_*`` figures are the second pass.
The guard's garbage-collector pauses during its breaches are measured too (``gc.callbacks``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from .load import CpuLoad
from .probes import GcPauses
from .simulator_process import SimulatorProcess

ENFORCEMENT = ("Position/partialCloseContract", "Position/closeContract", "Order/cancel")
GUARDED, FLOOR = 1001, 1002
LIMIT = 2


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


#: A breach not enforced within this long counts as this long (and as missed), as in the storm.
ENFORCE_TIMEOUT_S = 5.0


async def _breaches(sim: Any, account_id: int, n: int, timeout: float = ENFORCE_TIMEOUT_S,
                    at: list[float] | None = None) -> list[float]:
    """Make ``n`` breaches one after another; return push → first enforcement request, in ms
    (``timeout`` in ms for a breach not enforced in time; the next waits until it is reduced).
    ``at`` gets each breach's push time (``time.perf_counter``, the same clock in every process
    of the machine), so a trace in the guard's process can line its own marks up with them.
    Runs beside the simulator (in its process for the benchmark, in-process for tests)."""
    out: list[float] = []
    # The driver polls the simulator's logs: it reads only the records newer than its marks (they
    # grow with every breach; scanning them whole, and copying every trade of the day to read a
    # position size, cost the later passes several ms a poll).
    requests, pushes = sim.recorder.requests, sim.recorder.pushes
    for _ in range(n):
        push_seq = pushes[-1].seq if pushes else 0
        req_seq = requests[-1].seq if requests else 0
        placed = time.perf_counter()
        sim.place_order(account_id, "MNQ", "buy", 1)
        deadline = time.perf_counter() + timeout
        request = None
        while request is None:
            request = next((r for r in _newer(requests, req_seq) if r.endpoint in ENFORCEMENT
                            and isinstance(r.body, dict) and r.body.get("accountId") == account_id), None)
            if request is None:
                if time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.0005)
        if request is None:
            out.append(timeout * 1000)
            if at is not None:
                at.append(placed)
            deadline = time.perf_counter() + 3 * timeout  # enforced late (a paused retry), or never
        else:
            trade_push = next(p for p in _newer(pushes, push_seq)
                              if p.target == "GatewayUserTrade" and _account_of(p.arguments) == account_id)
            out.append((request.mono - trade_push.mono) * 1000)
            if at is not None:
                at.append(trade_push.mono)
        while _size(sim, account_id) > LIMIT:  # back at the limit before the next breach
            if time.perf_counter() > deadline:
                raise TimeoutError("position was not reduced")
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.005)
    return out


def _newer(records: Any, since: int) -> list[Any]:
    """The records with ``seq`` > ``since``, oldest first, read from the newest end only."""
    out = []
    for record in reversed(records):
        if record.seq <= since:
            break
        out.append(record)
    out.reverse()
    return out


def push_payload(arguments: list[Any]) -> dict:
    """A recorded hub push's payload, bare or wrapped in ``{"data": …}`` (the gateway sends both)."""
    payload = arguments[0] if arguments else {}
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        payload = payload["data"]
    return payload if isinstance(payload, dict) else {}


def _account_of(arguments: list[Any]) -> int | None:
    return push_payload(arguments).get("accountId")


def _size(sim: Any, account_id: int) -> int:
    """The account's size at the simulator: in-process, or through its control API."""
    state = getattr(sim, "control", sim).state(only=("positions",))
    return sum(p["size"] for p in state["positions"] if p["accountId"] == account_id)


Breaches = Callable[[int, int], Awaitable[list[float]]]  # (account, n) → ms for each breach


def _in_process(sim: Any) -> Breaches:
    return lambda account_id, n: _breaches(sim, account_id, n)


def _in_simulator_process(proc: SimulatorProcess, timed: list[tuple[float, float]] | None = None) -> Breaches:
    """The breaches, made in the simulator's process; ``timed`` also gets each one's (push time, ms)."""
    async def run(account_id: int, n: int) -> list[float]:
        line = await asyncio.to_thread(proc.ask, f"reaction {account_id} {n}", "reaction ",
                                       n * 3 * ENFORCE_TIMEOUT_S + 30)
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the simulator's breaches failed: {answer['error']}")
        if timed is not None:
            timed.extend(zip(answer["at"], answer["ms"], strict=True))
        return [float(ms) for ms in answer["ms"]]
    return run


async def _cpu_timed(work: Awaitable[list[float]], cpu: list[float] | None) -> list[float]:
    """Await ``work``; add the CPU time this process spent meanwhile (all its threads) to ``cpu``."""
    start = time.process_time()
    try:
        return await work
    finally:
        if cpu is not None:
            cpu.append(time.process_time() - start)


async def _deskguard(sim: Any, n: int, tmp: str, gc_pauses: GcPauses | None = None,
                     breaches: Breaches | None = None, cpu: list[float] | None = None) -> list[float]:
    from ..broker.projectx import ProjectXBroker
    from ..engine.settings import EngineSettings
    from ..guardian import Guardian
    from ..runtime import freeze_startup_objects
    from ..simulator import DEMO_API_KEY, DEMO_USERNAME
    from ..store import Store

    settings = EngineSettings().with_rule("session_block", enabled=False)
    settings = settings.with_rule("max_contracts", limit=LIMIT)
    # Repeated entries would trip the overtrading brake; the point here is the reaction path.
    settings = settings.with_rule("trade_frequency", per_minute=10**6, per_hour=10**6, per_day=10**6)
    # 1,000 round trips' fees (0.74 each) would otherwise trip the $500 daily loss limit and lock.
    settings = settings.with_rule("daily_realized_loss", max_loss=1e6)
    # 1,000 breaches back to back would exceed the gateway's real budget (~200 requests/min), which
    # the SDK's client-side limiter models; both sides of the comparison lift it the same way.
    urls = sim.urls
    broker = ProjectXBroker(DEMO_USERNAME, DEMO_API_KEY, api_url=urls.api_url, user_hub_url=urls.user_hub_url,
                            market_hub_url=urls.market_hub_url, requests_per_minute=100_000)
    os.makedirs(tmp, exist_ok=True)
    store = Store(f"{tmp}/state.db")
    guardian = Guardian(broker, store, settings, accounts=[GUARDED], symbols=["MNQ"])
    await guardian.start()
    freeze_startup_objects()  # as the app and headless mode do after start-up
    try:
        await _wait(lambda: guardian.health.guarding and _size(sim, GUARDED) == LIMIT)
        await asyncio.sleep(0.5)
        run = breaches or _in_process(sim)
        if gc_pauses is None:
            return await _cpu_timed(run(GUARDED, n), cpu)
        gc_pauses.install()
        try:
            return await _cpu_timed(run(GUARDED, n), cpu)
        finally:
            gc_pauses.uninstall()
    finally:
        await guardian.stop()
        store.close()


async def _sdk_floor(sim: Any, n: int, breaches: Breaches | None = None,
                     cpu: list[float] | None = None) -> list[float]:
    from project_x_py import ProjectX
    from project_x_py.realtime import ProjectXRealtimeClient

    from ..simulator import DEMO_API_KEY, DEMO_USERNAME, sdk_config

    async with ProjectX(DEMO_USERNAME, DEMO_API_KEY, config=replace(sdk_config(sim.urls), requests_per_minute=100_000)) as client:
        await client.authenticate()
        rt = ProjectXRealtimeClient(jwt_token=client.session_token, account_id=str(FLOOR), config=client.config)
        tasks: set[asyncio.Task] = set()

        async def on_position(data: Any) -> None:
            pos = data.get("data", data) if isinstance(data, dict) else {}
            if pos.get("accountId") == FLOOR and pos.get("size", 0) > LIMIT:
                body = {"accountId": FLOOR, "contractId": pos["contractId"], "size": pos["size"] - LIMIT}
                task = asyncio.create_task(client._make_request("POST", "/Position/partialCloseContract", data=body))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        await rt.add_callback("position_update", on_position)
        await rt.connect()
        await rt.subscribe_user_updates()
        try:
            await asyncio.sleep(0.5)
            return await _cpu_timed((breaches or _in_process(sim))(FLOOR, n), cpu)
        finally:
            await rt.disconnect()


async def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("not ready")
        await asyncio.sleep(0.02)


async def _run(n: int, load: int = 0) -> dict[str, float]:
    import tempfile

    logging.getLogger("project_x_py").setLevel(logging.ERROR)
    # 1,000 breaches back to back, each closed by DeskGuard and by the raw client: far over the
    # gateway's 200 requests a minute, which this benchmark does not measure. Budget off (the
    # simulator process's default).
    out: dict[str, float] = {}
    with SimulatorProcess(accounts=2, first_account=GUARDED, commands=True) as sim:
        control = sim.control
        control.set_price("MNQ", 21000.0)
        for acct in (GUARDED, FLOOR):
            control.place_order(acct, "MNQ", "buy", LIMIT)
        breaches = _in_simulator_process(sim)
        with tempfile.TemporaryDirectory() as tmp:
            out.update(await _pass("", sim, n, breaches, f"{tmp}/idle"))
            if load > 0:
                with CpuLoad(load) as competitors:
                    await asyncio.sleep(0.5)  # the competitors are running before anything is timed
                    out.update(await _pass("loaded_", sim, n, breaches, f"{tmp}/loaded"))
                    out["reaction_load_processes"] = competitors.n
                    out["reaction_loaded_loadavg_1m"] = round(os.getloadavg()[0], 2)
    return out


#: Each pass measures both sides in this many alternating blocks (floor, guard, floor, guard, …),
#: so a spell of noise on the machine (a VM's neighbours) falls on both, not on one side's run.
BLOCKS = 4


async def _pass(tag: str, sim: Any, n: int, breaches: Breaches, folder: str) -> dict[str, float]:
    """``n`` breaches a side, in ``BLOCKS`` alternating blocks; the guard keeps one state.db
    across its blocks (a restart on the same trading day: its memory comes back)."""
    gc_pauses = GcPauses()
    floor: list[float] = []
    guard: list[float] = []
    floor_cpu: list[float] = []
    guard_cpu: list[float] = []
    sizes = [n // BLOCKS + (1 if i < n % BLOCKS else 0) for i in range(min(BLOCKS, n))]
    for size in sizes:
        floor += await _sdk_floor(sim, size, breaches, floor_cpu)
        guard += await _deskguard(sim, size, folder, gc_pauses, breaches, guard_cpu)
    figures = _figures(tag, guard, floor, gc_pauses)
    # CPU time the measuring process spent per breach, all its threads (the guard's store thread
    # too): on a busy machine a process that needs more CPU between two breaches waits more for it.
    figures[f"reaction_{tag}cpu_ms_per_breach"] = round(1000 * sum(guard_cpu) / max(len(guard), 1), 3)
    figures[f"sdk_floor_{tag}cpu_ms_per_breach"] = round(1000 * sum(floor_cpu) / max(len(floor), 1), 3)
    return figures


def _figures(tag: str, guard: list[float], floor: list[float], gc_pauses: GcPauses) -> dict[str, float]:
    """One pass's figures; ``tag`` is "" for the idle pass, "loaded_" for the one under load."""
    g50, g99 = statistics.median(guard), percentile(guard, 99)
    f50, f99 = statistics.median(floor), percentile(floor, 99)
    figures: dict[str, float] = {
        f"reaction_{tag}p50_ms": round(g50, 3),
        f"reaction_{tag}p99_ms": round(g99, 3),
        f"reaction_{tag}max_ms": round(max(guard), 3),
        f"reaction_{tag}breaches": len(guard),
        f"reaction_{tag}missed": sum(1 for ms in guard if ms >= ENFORCE_TIMEOUT_S * 1000),
        f"sdk_floor_{tag}p50_ms": round(f50, 3),
        f"sdk_floor_{tag}p99_ms": round(f99, 3),
        f"reaction_{tag}gc_max_ms": gc_pauses.summary()["gc_max_ms"],
        f"reaction_{tag}gc_collections": len(gc_pauses.pauses),
    }
    if tag:
        figures[f"reaction_{tag}ratio_p50"] = round(g50 / f50, 2)
        figures[f"reaction_{tag}ratio_p99"] = round(g99 / f99, 2)
    else:  # the idle pass keeps its historical key names
        figures["reaction_over_floor_p50"] = round(g50 / f50, 2)
        figures["reaction_over_floor_p99"] = round(g99 / f99, 2)
    return figures


def bench(n: int = 1000, load: int = 0) -> dict[str, float]:
    """``n`` breaches per side; with ``load`` > 0, again under that many CPU-bound competitors."""
    return asyncio.run(_run(n, load))
if __name__ == "__main__":  # pragma: no cover
    print(bench(200))
