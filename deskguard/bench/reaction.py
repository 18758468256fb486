"""Reaction time: the simulator's push of a breaching trade → the first enforcement request it receives.

Both ends are stamped by the simulator itself (``time.perf_counter``), through the real SDK over
loopback HTTP and SignalR. The breach: account holds 2 MNQ with ``max_contracts`` limit 2; the
trader buys 1 more from the "web screen"; the guard must send ``Position/partialCloseContract``.
The clock starts at the fill's ``GatewayUserTrade`` push (the position push that actually carries
the breach comes after it, so the figure is slightly pessimistic).

The SDK floor is a minimal client measured in the same run on another account: the SDK's realtime
client with a raw ``position_update`` callback that fires the same REST call at once — no engine,
no queue, no DeskGuard. ``reaction / floor`` is DeskGuard's own overhead.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from dataclasses import replace
from typing import Any

ENFORCEMENT = ("Position/partialCloseContract", "Position/closeContract", "Order/cancel")
GUARDED, FLOOR = 1001, 1002
LIMIT = 2


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def _breaches(sim: Any, account_id: int, n: int, timeout: float = 3.0) -> list[float]:
    """Make ``n`` breaches one after another; return push → first enforcement request, in ms."""
    out: list[float] = []
    for _ in range(n):
        push_seq = sim.pushes()[-1].seq if sim.pushes() else 0
        req_seq = sim.requests()[-1].seq if sim.requests() else 0
        sim.place_order(account_id, "MNQ", "buy", 1)
        deadline = time.perf_counter() + timeout
        request = None
        while request is None:
            request = next((r for r in sim.requests(since=req_seq) if r.endpoint in ENFORCEMENT
                            and isinstance(r.body, dict) and r.body.get("accountId") == account_id), None)
            if request is None:
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"no enforcement request for account {account_id}")
                await asyncio.sleep(0.0005)
        trade_push = next(p for p in sim.pushes(target="GatewayUserTrade", since=push_seq)
                          if _account_of(p.arguments) == account_id)
        out.append((request.mono - trade_push.mono) * 1000)
        while _size(sim, account_id) > LIMIT:  # back at the limit before the next breach
            if time.perf_counter() > deadline:
                raise TimeoutError("position was not reduced")
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.005)
    return out


def _account_of(arguments: list[Any]) -> int | None:
    payload = arguments[0] if arguments else {}
    if isinstance(payload, dict) and "data" in payload and isinstance(payload["data"], dict):
        payload = payload["data"]
    return payload.get("accountId") if isinstance(payload, dict) else None


def _size(sim: Any, account_id: int) -> int:
    return sum(p["size"] for p in sim.state()["positions"] if p["accountId"] == account_id)


async def _deskguard(sim: Any, n: int, tmp: str) -> list[float]:
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
    broker = ProjectXBroker(DEMO_USERNAME, DEMO_API_KEY, api_url=sim.api_url, user_hub_url=sim.user_hub_url,
                            market_hub_url=sim.market_hub_url, requests_per_minute=100_000)
    store = Store(f"{tmp}/state.db")
    guardian = Guardian(broker, store, settings, accounts=[GUARDED], symbols=["MNQ"])
    await guardian.start()
    freeze_startup_objects()  # as the app and headless mode do after start-up
    try:
        await _wait(lambda: guardian.health.guarding and _size(sim, GUARDED) == LIMIT)
        await asyncio.sleep(0.5)
        return await _breaches(sim, GUARDED, n)
    finally:
        await guardian.stop()
        store.close()


async def _sdk_floor(sim: Any, n: int) -> list[float]:
    from project_x_py import ProjectX
    from project_x_py.realtime import ProjectXRealtimeClient

    from ..simulator import DEMO_API_KEY, DEMO_USERNAME, sdk_config

    async with ProjectX(DEMO_USERNAME, DEMO_API_KEY, config=replace(sdk_config(sim), requests_per_minute=100_000)) as client:
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
            return await _breaches(sim, FLOOR, n)
        finally:
            await rt.disconnect()


async def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("not ready")
        await asyncio.sleep(0.02)


async def _run(n: int) -> dict[str, float]:
    import tempfile

    from ..simulator import Simulator

    logging.getLogger("project_x_py").setLevel(logging.ERROR)
    # 1,000 breaches back to back, each closed by DeskGuard and by the raw client: far over the
    # gateway's 200 requests a minute, which this benchmark does not measure. Budget off.
    sim = Simulator(seed=1, walk_paused=True, request_budget=None)
    await sim.start()
    try:
        sim.set_price("MNQ", 21000.0)
        for acct in (GUARDED, FLOOR):
            sim.place_order(acct, "MNQ", "buy", LIMIT)
        with tempfile.TemporaryDirectory() as tmp:
            floor = await _sdk_floor(sim, n)
            guard = await _deskguard(sim, n, tmp)
    finally:
        await sim.stop()
    return {
        "reaction_p50_ms": round(statistics.median(guard), 3),
        "reaction_p99_ms": round(percentile(guard, 99), 3),
        "reaction_max_ms": round(max(guard), 3),
        "reaction_breaches": len(guard),
        "sdk_floor_p50_ms": round(statistics.median(floor), 3),
        "sdk_floor_p99_ms": round(percentile(floor, 99), 3),
        "reaction_over_floor_p50": round(statistics.median(guard) / statistics.median(floor), 2),
    }


def bench(n: int = 1000) -> dict[str, float]:
    return asyncio.run(_run(n))


if __name__ == "__main__":  # pragma: no cover
    print(bench(200))
