"""Flatten: a daily-loss breach (003) → the account flat at the gateway AND the guard has verified it.

The simulator models a network: ``network_delay_s`` one way (10 ms by default), so every REST call
takes a round trip of 20 ms and every hub push arrives 10 ms after its event. Each breach is on a
fresh account holding 3 positions (MNQ, MES, YM) and 3 working limit orders, all seen by the guard:
the trader buys 1 NQ, the price falls 30 points and the trader sells it, realizing −$600 against
the $500 limit. The clock starts just before that sell (the fill happens inside the simulator's
control call) and stops at the guardian's enforcement outcome for the flatten (``flat after N round(s)``),
at which point the simulator's book is checked flat. The enforcer cancels the orders, then closes
the positions, then verifies with two parallel reads: with the push's one-way trip that is 3½ round
trips at best, plus processing.

``flatten_requests_floor_p50_ms`` / ``_p99_ms``: the same three phases of requests sent by a bare
httpx client (no SDK, no guard, no push) against the same simulator, from the first cancel leaving
to the last read's answer: the part of the figure that is the gateway's, the network model's and an
HTTP client's on this machine. The guard's figure minus this floor minus the push's one-way trip is
what the guard itself adds.

Through the real SDK and the real guardian. The simulator runs in a process of its own
(:mod:`.simulator_process`), as a real gateway runs on another machine: its HTTP serving and hub
pushes are not charged to the guard's event loop. The benchmark drives it as the trader's other
screens would, through its control API (orders, prices, and the book read back at the end: the
account is flat at the gateway). The SDK's client-side request limiter and the simulator's budget
are lifted, as in the reaction benchmark: hundreds of flattens back to back exceed the gateway's real
200 requests a minute.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import tempfile
import time
from typing import Any

from ..simulator import SimulatorControl
from .reaction import percentile
from .simulator_process import SimulatorProcess

FIRST_ACCOUNT = 5001
ACCOUNTS_PER_GUARD = 40  # each breach locks its account for the day: a fresh account per breach
#: The positions each account holds, at prices the benchmark sets (the walk stands still); each
#: also has a working buy limit 20 % below, which never fills.
POSITIONS = {"MNQ": 21000.0, "MES": 5800.0, "YM": 43000.0}
BREACH_SYMBOL = "NQ"
BREACH_POINTS = 30.0  # NQ at $20 a point: −$600 realized, past the default $500 limit
TIMEOUT_S = 10.0
#: Rounds of the bare client's requests (``flatten_requests_floor_*``), at most.
FLOOR_ROUNDS = 50


def _settings() -> Any:
    from datetime import timedelta

    from ..engine.rules.cooldown_after_loss import Tier
    from ..engine.settings import EngineSettings

    wide = 1e6
    s = EngineSettings().with_rule("session_block", enabled=False)  # any hour
    # The setup itself must not trip anything: 4 entries in seconds, an open loss on the way.
    s = s.with_rule("trade_frequency", per_minute=10**6, per_hour=10**6, per_day=10**6)
    s = s.with_rule("daily_unrealized_loss", max_loss=wide)
    s = s.with_rule("cooldown_after_loss", tiers=(Tier(wide, timedelta(minutes=5)),))
    return s  # 003 daily_realized_loss at its default: $500


async def _until(predicate: Any, what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)


def _book_flat(sim: SimulatorControl, acct: int) -> bool:
    state = sim.state(only=("positions", "openOrders"))
    return not any(p["accountId"] == acct for p in state["positions"]) and \
        not any(o["accountId"] == acct for o in state["openOrders"])


async def _guard_slice(sim: SimulatorProcess, accounts: list[int], tmp: str) -> list[float]:
    from ..broker.projectx import ProjectXBroker
    from ..engine.decisions import Action
    from ..guardian import Guardian
    from ..runtime import freeze_startup_objects
    from ..simulator import DEMO_API_KEY, DEMO_USERNAME
    from ..store import Store

    urls = sim.urls
    broker = ProjectXBroker(DEMO_USERNAME, DEMO_API_KEY, api_url=urls.api_url,
                            user_hub_url=urls.user_hub_url, market_hub_url=urls.market_hub_url,
                            requests_per_minute=100_000)
    control = sim.control
    store = Store(f"{tmp}/state-{accounts[0]}.db")
    guardian = Guardian(broker, store, _settings(), accounts=accounts,
                        symbols=[*POSITIONS, BREACH_SYMBOL])
    for symbol, price in POSITIONS.items():
        control.set_price(symbol, price)
    flattened: dict[int, float] = {}
    outcome = guardian.enforcer.listener.on_outcome

    def record(account_id: int, d: Any, ok: bool, detail: str) -> None:
        if d.action == Action.FLATTEN and ok and account_id not in flattened:
            flattened[account_id] = time.perf_counter()
        outcome(account_id, d, ok, detail)

    guardian.enforcer.listener.on_outcome = record
    out: list[float] = []
    await guardian.start()
    # As the app and headless mode do after start-up: without it a full collection walks every
    # object of the SDK's and the simulator's start-up, 20-70 ms, and one landing inside a flatten
    # was the p99.
    freeze_startup_objects()
    try:
        await _until(lambda: guardian.health.guarding, "guard not guarding")
        for acct in accounts:
            state = guardian.engine.state(acct)
            for symbol, price in POSITIONS.items():
                control.place_order(acct, symbol, "buy", 1)
                control.place_order(acct, symbol, "buy", 1, "limit", limit_price=round(price * 0.8))
            price = control.set_price(BREACH_SYMBOL, 21000.0)
            control.place_order(acct, BREACH_SYMBOL, "buy", 1)
            await _until(lambda s=state: len(s.positions) == 4 and len(s.orders) == 3,
                         f"guard did not see account {acct}'s setup")
            control.set_price(BREACH_SYMBOL, price - BREACH_POINTS)
            await asyncio.sleep(0.05)  # the price push has arrived; nothing else is in flight
            started = time.perf_counter()
            # Blocking, as the in-process call was: the fill's push reaches the guard only
            # network_delay_s after the simulator made it, so the guard has nothing to do meanwhile.
            control.place_order(acct, BREACH_SYMBOL, "sell", 1)  # realizes −$600: breaches 003
            await _until(lambda a=acct: a in flattened, f"account {acct} not verified flat")
            if not _book_flat(control, acct):
                raise AssertionError(f"the guard verified account {acct} flat, the simulator's book is not")
            out.append((flattened[acct] - started) * 1000)
            await asyncio.sleep(0.05)  # let the guard's re-evaluation after the flatten settle
    finally:
        await guardian.stop()
        store.close()
    return out


async def _requests_floor(sim: SimulatorProcess, acct: int, rounds: int) -> list[float]:
    """The flatten's requests alone, ``rounds`` times, from a bare httpx client on an account no
    guard watches: the 3 cancels together, then the 3 closes together, then the 2 reads together
    (ms from the first cancel leaving to the last read's answer). What the gateway, the network
    model and an HTTP client cost on this machine, with nothing of the guard (nor the push's
    one-way trip, nor the SDK) around them."""
    import httpx

    from ..simulator import DEMO_API_KEY, DEMO_USERNAME

    control = sim.control
    contracts = {symbol: control.contract(symbol)["id"] for symbol in POSITIONS}
    out: list[float] = []
    async with httpx.AsyncClient(base_url=f"{sim.base_url}/api", timeout=TIMEOUT_S) as http:
        login = await http.post("/Auth/loginKey", json={"userName": DEMO_USERNAME, "apiKey": DEMO_API_KEY})
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"

        async def post(endpoint: str, body: dict[str, Any]) -> None:
            reply = await http.post(endpoint, json=body)
            if not reply.json().get("success"):
                raise AssertionError(f"{endpoint} {body}: {reply.text}")

        for _ in range(rounds):
            orders = []
            for symbol, price in POSITIONS.items():
                control.place_order(acct, symbol, "buy", 1)
                orders.append(control.place_order(acct, symbol, "buy", 1, "limit", limit_price=round(price * 0.8))["orderId"])
            await asyncio.sleep(0.05)  # the setup's pushes (to no one) and replies are done
            started = time.perf_counter()
            await asyncio.gather(*(post("/Order/cancel", {"accountId": acct, "orderId": o}) for o in orders))
            await asyncio.gather(*(post("/Position/closeContract", {"accountId": acct, "contractId": c})
                                   for c in contracts.values()))
            await asyncio.gather(post("/Position/searchOpen", {"accountId": acct}),
                                 post("/Order/searchOpen", {"accountId": acct}))
            out.append((time.perf_counter() - started) * 1000)
            if not _book_flat(control, acct):
                raise AssertionError(f"the bare client's flatten left account {acct} not flat")
    return out


async def _run(breaches: int, network_delay_s: float) -> dict[str, float]:
    logging.getLogger("project_x_py").setLevel(logging.ERROR)
    times: list[float] = []
    floor_account = FIRST_ACCOUNT + breaches
    with SimulatorProcess(symbols=(*POSITIONS, BREACH_SYMBOL), accounts=breaches + 1, first_account=FIRST_ACCOUNT,
                          network_delay_s=network_delay_s) as sim:
        ids = [FIRST_ACCOUNT + i for i in range(breaches)]
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(0, breaches, ACCOUNTS_PER_GUARD):
                times += await _guard_slice(sim, ids[i:i + ACCOUNTS_PER_GUARD], tmp)
        floor = await _requests_floor(sim, floor_account, min(breaches, FLOOR_ROUNDS))
    rtt_ms = 2 * network_delay_s * 1000
    p99 = percentile(times, 99)
    return {
        "flatten_p50_ms": round(statistics.median(times), 3),
        "flatten_p99_ms": round(p99, 3),
        "flatten_max_ms": round(max(times), 3),
        "flatten_rtt_ms": round(rtt_ms, 3),
        "flatten_round_trips_p50": round(statistics.median(times) / rtt_ms, 2),
        "flatten_round_trips_p99": round(p99 / rtt_ms, 2),
        "flatten_breaches": len(times),
        "flatten_requests_floor_p50_ms": round(statistics.median(floor), 3),
        "flatten_requests_floor_p99_ms": round(percentile(floor, 99), 3),
    }


def bench(breaches: int = 200, network_delay_s: float = 0.010) -> dict[str, float]:
    return asyncio.run(_run(breaches, network_delay_s))


if __name__ == "__main__":  # pragma: no cover
    print(bench(20))
