"""018 safety_net end to end: the real SDK against the simulator, judged by the stop orders the gateway
holds. Prices are hand-computed from the budget arithmetic of rules.md 018:

budget = max_loss + the day's realized net P&L (fees included, open P&L not counted); the closing
fills' fees (the simulator charges micros $0.37 a contract a side) are set aside; the rest is shared
by dollars per point (MNQ $2, MES $5 a point a contract), so each stop sits
``(budget − closing fees) / Σ(size × point value)`` points from its entry, rounded toward the entry.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from guardian_harness import (
    ACCOUNT,
    MES_PRICE,
    MNQ_PRICE,
    ok,
    settings_with,
    sim_realized,
    sim_size,
    sim_working_orders,
    stays,
    wait_for,
)
from headless_harness import Headless, headless_env, make_home

from deskguard.engine.models import SAFETY_NET_TAG
from deskguard.simulator import SimulatorControl

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

QUIET = {"cooldown_after_loss": {"enabled": False}, "trade_frequency": {"enabled": False}}


def net_settings(max_loss: float = 500.0):
    return settings_with(safety_net={"enabled": True}, daily_realized_loss={"max_loss": max_loss}, **QUIET)


def nets(sim, symbol: str | None = None) -> list[dict]:
    """The app's safety-net stops working at the gateway (by their tag)."""
    return [o for o in sim_working_orders(sim) if (o.get("customTag") or "").startswith(SAFETY_NET_TAG)
            and (symbol is None or o["contractId"].split(".")[3] == symbol)]


def net_price(sim, symbol: str) -> float | None:
    found = nets(sim, symbol)
    return found[0]["stopPrice"] if len(found) == 1 else None


async def trade(rig, symbol: str, side: str, size: int) -> None:
    """The trader's market order in the web screen."""
    ok(rig.sim.place_order(ACCOUNT, symbol, side, size))


async def test_one_position_gets_a_tagged_stop_at_the_budget_point_within_two_seconds(sim, make_guardian):
    rig = await make_guardian(net_settings())
    await trade(rig, "MNQ", "buy", 2)
    # Realized -0.74 (the opening fee) → budget 499.26; closing 2 MNQ costs 0.74 → 498.52 left;
    # 2 × $2 = $4 a point → 124.63 pts → 19875.37, rounded up toward the entry → 19875.50.
    await wait_for(lambda: net_price(sim, "MNQ") == 19_875.5, 2.0, "the safety-net stop at the gateway")
    (stop,) = nets(sim, "MNQ")
    assert (stop["type"], stop["side"], stop["size"]) == (4, 1, 2)
    await wait_for(lambda: [p.safety_net for p in rig.snap().positions] == [19_875.5], 2.0, "the window's figure")
    assert [p.has_stop for p in rig.snap().positions] == [False]  # not the trader's own stop
    # Audited: the broker call with its tag, and the plain-English notice.
    await wait_for(lambda: rig.store.audit_entries(account_id=ACCOUNT, rule="safety_net", contains=SAFETY_NET_TAG),
                   2.0, "the tagged Order/place in the audit log")
    placed = rig.store.audit_entries(account_id=ACCOUNT, rule="safety_net", contains="Order/place")
    assert placed and placed[0].result == "ok"
    await wait_for(lambda: rig.store.audit_entries(account_id=ACCOUNT, contains="Placed a safety-net stop on MNQ at 19,875.50"),
                   2.0, "the notice in the audit log")


async def test_two_positions_share_the_budget_by_dollars_per_point(sim, make_guardian):
    rig = await make_guardian(net_settings())
    await trade(rig, "MNQ", "buy", 2)
    await wait_for(lambda: net_price(sim, "MNQ") == 19_875.5, 2.0, "the first stop")
    await trade(rig, "MES", "sell", 1)
    # Realized -1.11 → budget 498.89; closing fees 1.11 → 497.78; 2×$2 + 1×$5 = $9 a point →
    # 55.3089 pts: MNQ long 19944.69 → up to 19944.75 (moved), MES short 6055.31 → down to 6055.25.
    await wait_for(lambda: (net_price(sim, "MNQ"), net_price(sim, "MES")) == (19_944.75, 6_055.25), 2.0,
                   "both stops at their share")
    mes = nets(sim, "MES")[0]
    assert (mes["side"], mes["size"]) == (0, 1)
    # Filled at both stops the day would lose 0.74 + 0.37 + 55.25×4 + 55.25×5 + 1.11 = 499.47 ≤ 500.


async def test_a_loss_moves_the_stop_tighter_and_nothing_moves_it_looser(sim, make_guardian):
    rig = await make_guardian(net_settings())
    await trade(rig, "MNQ", "buy", 1)
    await trade(rig, "MES", "buy", 1)
    # Realized -0.74 → 499.26, less 0.74 closing fees → 498.52 / $7 a point = 71.217 pts → 19929.00.
    await wait_for(lambda: net_price(sim, "MNQ") == 19_929.0, 2.0, "MNQ's stop")
    mnq_id = nets(sim, "MNQ")[0]["id"]
    sim.set_price("MES", MES_PRICE - 20)  # -$100 on MES, its stop (5929.00) not reached
    await trade(rig, "MES", "sell", 2)  # closes the long at -100 and turns short 1 at 5980
    # Realized -0.74 - 100.37 - 0.37 = -101.48 → 398.52, less 0.74 → 397.78 / $7 = 56.826 pts → 19943.25.
    await wait_for(lambda: net_price(sim, "MNQ") == 19_943.25, 2.0, "MNQ's stop moved tighter")
    assert nets(sim, "MNQ")[0]["id"] == mnq_id  # modified, not a second order
    await wait_for(lambda: net_price(sim, "MES") == 6_036.75, 2.0, "the new short's stop (5980 + 56.826 → 6036.75)")
    await trade(rig, "MES", "buy", 1)  # flat on MES: the budget per point grows (199 pts), the stop stays
    await wait_for(lambda: nets(sim, "MES") == [], 2.0, "the MES stop, protecting nothing, cancelled")
    await stays(lambda: net_price(sim, "MNQ") == 19_943.25, 1.0, "never looser")
    assert sim_size(sim, "MNQ") == 1 and sim.price("MNQ") == MNQ_PRICE


async def test_cancelled_in_the_web_screen_it_is_placed_again(sim, make_guardian):
    rig = await make_guardian(net_settings())
    await trade(rig, "MNQ", "buy", 1)
    await wait_for(lambda: net_price(sim, "MNQ") is not None, 2.0, "the stop")
    first = nets(sim, "MNQ")[0]["id"]
    ok(sim.cancel_order(ACCOUNT, first))
    await wait_for(lambda: nets(sim, "MNQ") and nets(sim, "MNQ")[0]["id"] != first, 2.0, "placed again")
    assert net_price(sim, "MNQ") == 19_750.5  # 500 - 0.37 - 0.37 = 499.26 / $2 = 249.63 pts → 19750.37 → 19750.50


async def test_its_stop_filling_closes_the_position_and_no_second_stop_is_placed(sim, make_guardian):
    """The gateway pushes the stop's fill before the position's close: the guard must not place a
    new stop for the position in between (it would be cancelled at once, two wasted requests)."""
    rig = await make_guardian(net_settings())
    await trade(rig, "MNQ", "buy", 1)
    await wait_for(lambda: net_price(sim, "MNQ") == 19_750.5, 2.0, "the stop")
    sim.set_price("MNQ", 19_700.0)  # through the stop: the gateway fills it
    await wait_for(lambda: sim_size(sim, "MNQ") == 0, 2.0, "the position closed by the gateway's stop")
    await stays(lambda: nets(sim) == [], 1.0, "no new safety-net stop")
    placed = rig.store.audit_entries(account_id=ACCOUNT, rule="safety_net", contains="Order/place")
    assert len(placed) == 1, [e.detail for e in placed]
    assert not rig.store.audit_entries(account_id=ACCOUNT, rule="safety_net", contains="Order/cancel")


async def test_a_flatten_cancels_it_with_the_rest(sim, make_guardian):
    rig = await make_guardian(net_settings(max_loss=100.0))
    await trade(rig, "MNQ", "buy", 1)
    await wait_for(lambda: net_price(sim, "MNQ") is not None, 2.0, "the stop")
    await trade(rig, "MES", "buy", 1)
    sim.set_price("MES", MES_PRICE - 25)  # MES -125 once closed: over the daily limit of 100
    ok(sim.close_position(ACCOUNT, "MES"))
    await wait_for(lambda: sim_size(sim, "MNQ") == 0 and not sim_working_orders(sim), 5.0, "flat, no stop left")
    await stays(lambda: not sim_working_orders(sim), 0.5, "the locked account gets no new safety net")


# ----- the guard killed: the gateway keeps the loss within the budget --------------------------------

CONFIG = """\
# written by the test: one account, a daily loss limit of 100, the safety net on
[connection]
accounts = ["50KTC-V2-123456-1001"]
instruments = ["MNQ"]

[rules.session_block]
enabled = false

[rules.daily_realized_loss]
max_loss = 100

[rules.cooldown_after_loss]
enabled = false

[rules.safety_net]
enabled = true
"""


async def test_guard_killed_the_gateway_stop_fills_and_the_loss_stays_within_the_budget(sim, tmp_path: Path, processes):
    env = headless_env(sim, make_home(tmp_path, CONFIG), "headless-API-key-0123456789", "headless-tester")
    guard = await Headless.start(env)
    processes.append(guard)
    await guard.wait_line("guarding…")
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 2))
    # 100 - 0.74 = 99.26, less 0.74 closing fees = 98.52 / $4 a point = 24.63 pts → 19975.37 → 19975.50
    await wait_for(lambda: net_price(sim, "MNQ") == 19_975.5, 5.0, "the safety-net stop at the gateway")

    guard.proc.send_signal(signal.SIGKILL)
    assert await guard.exit_code() == -signal.SIGKILL

    control = SimulatorControl(sim.base_url)

    def fall() -> None:  # the market walks down tick by tick, through the stop, with nobody guarding
        price = MNQ_PRICE - 20
        while price >= MNQ_PRICE - 30:
            control.set_price("MNQ", price)
            price -= 0.25

    await asyncio.to_thread(fall)
    assert sim_size(sim, "MNQ") == 0  # the gateway's own stop closed the position
    assert sim_working_orders(sim) == []
    # -0.74 - 24.5 pts × $4 - 0.74 = -99.48: within the daily budget of 100 (without the net: -121.48)
    assert sim_realized(sim) == -99.48
