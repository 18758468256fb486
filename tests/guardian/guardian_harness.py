"""Helpers for the guardian's end-to-end tests: bounded waits, a recording observer, and readers
of the simulator's own state (the tests judge enforcement by what the gateway holds, not by mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from deskguard.broker.base import ConnectionHealth
from deskguard.engine.settings import EngineSettings
from deskguard.guardian import AccountSnapshot, Notice, NoticeLevel
from deskguard.simulator import Simulator

ACCOUNT = 1001
OTHER = 1002
THIRD = 1003
USERNAME = "guardian-tester"
API_KEY = "guardian-API-key-0123456789"
MNQ_PRICE = 20_000.0  # MNQ: tick 0.25, $0.50 a tick, $2 a point
MES_PRICE = 6_000.0  # MES: tick 0.25, $1.25 a tick, $5 a point

WORKING = (1, 6)  # order status open, pending

# Fast broker timings (the watchdog's knobs), so reconnects and rebuilds happen within a test.
FAST_BROKER: dict[str, Any] = {
    "request_timeout": 5.0,
    "hub_connect_timeout": 5.0,
    "watchdog_interval": 0.1,
    "reconnect_grace": 1.0,
    "market_silence": 0.0,
    "reconcile_interval": 0.0,
    "max_rebuild_backoff": 1.0,
}


def base_settings() -> EngineSettings:
    """The default rules, less session_block (so the suite passes at any hour)."""
    return EngineSettings().with_rule("session_block", enabled=False)


def settings_with(**rules: dict[str, Any]) -> EngineSettings:
    """``settings_with(daily_realized_loss={"max_loss": 100})`` on top of base_settings()."""
    s = base_settings()
    for key, changes in rules.items():
        s = s.with_rule(key, **changes)
    return s


async def wait_for(predicate: Callable[[], object], timeout: float = 5.0, what: str = "", interval: float = 0.02) -> Any:
    """Poll ``predicate`` on the event loop until truthy (returned); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what or getattr(predicate, '__name__', 'condition')}")
        await asyncio.sleep(interval)


async def stays(predicate: Callable[[], object], duration: float, what: str = "", interval: float = 0.05) -> None:
    """Fail if ``predicate`` turns false at any point within ``duration`` seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert predicate(), f"no longer true: {what}"
        await asyncio.sleep(interval)


@dataclass
class Watcher:
    """A GuardianObserver that keeps everything the guardian publishes."""

    notices: list[Notice] = field(default_factory=list)
    snapshots: list[AccountSnapshot] = field(default_factory=list)
    healths: list[ConnectionHealth] = field(default_factory=list)

    def on_snapshot(self, snapshot: AccountSnapshot) -> None:
        self.snapshots.append(snapshot)

    def on_notice(self, notice: Notice) -> None:
        self.notices.append(notice)

    def on_health(self, health: ConnectionHealth) -> None:
        self.healths.append(health)

    def of(self, level: NoticeLevel, account_id: int | None = None, rule: str | None = None) -> list[Notice]:
        return [n for n in self.notices if n.level == level and (account_id is None or n.account_id == account_id)
                and (rule is None or n.rule == rule)]


# ----- the simulator's own state ------------------------------------------------------------------

def sim_positions(sim: Simulator, account_id: int = ACCOUNT) -> dict[str, dict[str, Any]]:
    """Open positions by symbol (``"MNQ"``) as the gateway holds them."""
    out = {}
    for p in sim.state()["positions"]:
        if p["accountId"] == account_id and p["size"] > 0:
            out[p["contractId"].split(".")[3]] = p
    return out


def sim_size(sim: Simulator, symbol: str, account_id: int = ACCOUNT) -> int:
    p = sim_positions(sim, account_id).get(symbol)
    return int(p["size"]) if p else 0


def sim_working_orders(sim: Simulator, account_id: int = ACCOUNT) -> list[dict[str, Any]]:
    return [o for o in sim.state()["orders"] if o["accountId"] == account_id and o["status"] in WORKING]


def sim_order(sim: Simulator, order_id: int) -> dict[str, Any]:
    return next(o for o in sim.state()["orders"] if o["id"] == order_id)


def sim_flat(sim: Simulator, account_id: int = ACCOUNT) -> bool:
    return not sim_positions(sim, account_id) and not sim_working_orders(sim, account_id)


def sim_realized(sim: Simulator, account_id: int = ACCOUNT) -> float:
    """The day's realized P&L from the gateway's trades, as rules.md defines it: closing trades'
    profitAndLoss minus the fees of every fill."""
    return round(sum((t["profitAndLoss"] or 0.0) - t["fees"] for t in sim.state()["trades"]
                     if t["accountId"] == account_id and not t["voided"]), 2)


async def in_step(rig: Any, account_id: int = ACCOUNT, timeout: float = 3.0) -> float:
    """Wait until the guardian's realized P&L of the day equals the gateway's (every trade seen once)."""
    await wait_for(lambda: abs(rig.snap(account_id).realized_day - sim_realized(rig.sim, account_id)) < 0.005, timeout,
                   f"realized P&L of {account_id} equal to the simulator's")
    return rig.snap(account_id).realized_day


def sim_trade_ids(sim: Simulator, account_id: int = ACCOUNT) -> set[int]:
    return {t["id"] for t in sim.state()["trades"] if t["accountId"] == account_id}


def requests_count(sim: Simulator, endpoint: str) -> int:
    return len(sim.requests(endpoint))


def lock_rules(snapshot: AccountSnapshot) -> set[str]:
    return {lock.rule for lock in snapshot.locks}


def ok(result: Any) -> Any:
    """A control call's ActionResult must have succeeded."""
    assert result.success, result
    return result


def contract_id(sim: Simulator, symbol: str) -> str:
    return sim.contract(symbol).id


def by_symbol(items: Iterable[Any]) -> dict[str, Any]:
    return {i.contract_id.split(".")[3]: i for i in items}


@contextlib.asynccontextmanager
async def started_simulator(seed: int):
    """A started simulator, walk paused (prices move only when a test moves them), known prices.
    Idle quotes every second keep the guardian's prices fresh (stale prices trigger no rule)."""
    from deskguard.simulator import Simulator

    simulator = Simulator(seed=seed, walk_paused=True, idle_quote_interval_s=1.0)
    await simulator.start()
    simulator.set_price("MNQ", MNQ_PRICE)
    simulator.set_price("MES", MES_PRICE)
    try:
        yield simulator
    finally:
        await simulator.stop()
