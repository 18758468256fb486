"""Resting stop orders at the gateway: placed with a custom tag through REST (as the guard places its
safety-net stops, rule 018) and triggered by a price pushed through the control API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from sim_harness import login

from deskguard.simulator import Simulator, SimulatorControl

pytestmark = pytest.mark.asyncio

ACCOUNT = 1001


async def _call(http: aiohttp.ClientSession, sim: Simulator, endpoint: str, body: dict[str, Any], token: str) -> Any:
    async with http.post(f"{sim.api_url}/{endpoint}", json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
        return json.loads(await resp.text())


async def test_a_tagged_resting_stop_is_listed_with_its_tag_and_fills_when_the_price_gaps_through_it(
    sim: Simulator, http: aiohttp.ClientSession,
) -> None:
    control = SimulatorControl(sim.base_url)
    token = await login(http, sim.base_url)
    contract = sim.contract("MNQ")
    await asyncio.to_thread(control.set_price, "MNQ", 21_000.0)
    await asyncio.to_thread(control.place_order, ACCOUNT, "MNQ", "buy", 2)
    placed = await _call(http, sim, "Order/place", {
        "accountId": ACCOUNT, "contractId": contract.id, "type": 4, "side": 1, "size": 2,
        "stopPrice": 20_990.0, "customTag": "deskguard-safety-net-test",
    }, token)
    assert placed["success"], placed
    listed = await _call(http, sim, "Order/searchOpen", {"accountId": ACCOUNT}, token)
    stop = next(o for o in listed["orders"] if o["id"] == placed["orderId"])
    assert (stop["status"], stop["type"], stop["stopPrice"], stop["customTag"]) == (1, 4, 20_990.0, "deskguard-safety-net-test")

    # Not reached yet: the stop rests.
    await asyncio.to_thread(control.set_price, "MNQ", 20_990.25)
    assert sim.book.order(placed["orderId"]).working  # type: ignore[union-attr]
    # A gap through the stop: it fills at the price that crossed it (no better), as a market would.
    await asyncio.to_thread(control.set_price, "MNQ", 20_985.0)
    state = await asyncio.to_thread(control.state)
    assert state["positions"] == []
    order = next(o for o in state["orders"] if o["id"] == placed["orderId"])
    assert (order["status"], order["filledPrice"], order["fillVolume"]) == (2, 20_985.0, 2)
    closing = [t for t in state["trades"] if t["orderId"] == placed["orderId"]]
    assert [(t["price"], t["size"], t["profitAndLoss"]) for t in closing] == [(20_985.0, 2, -60.0)]  # 15 pts × $2 × 2


async def test_a_resting_short_stop_fills_on_a_rise_through_it(sim: Simulator) -> None:
    control = SimulatorControl(sim.base_url)

    def session() -> dict[str, Any]:
        control.set_price("MNQ", 21_000.0)
        control.place_order(ACCOUNT, "MNQ", "sell", 1)
        stop = control.place_order(ACCOUNT, "MNQ", "buy", 1, "stop", stop_price=21_005.0, custom_tag="t")
        assert stop["success"], stop
        control.set_price("MNQ", 21_004.75)
        assert control.state(("positions",))["positions"], "the stop fired early"
        control.set_price("MNQ", 21_005.0)  # reaching the stop is enough
        return control.state()

    state = await asyncio.to_thread(session)
    assert state["positions"] == []
    assert [t["profitAndLoss"] for t in state["trades"] if t["profitAndLoss"] is not None] == [-10.0]
