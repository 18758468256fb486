"""The HTTP control API through ``SimulatorControl`` (as another process would use it), and ``serve``."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest
from sim_harness import wait_until

from deskguard.simulator import Simulator, SimulatorControl, SimulatorControlError, serve

pytestmark = pytest.mark.asyncio


async def test_control_client_acts_as_the_trader(sim: Simulator) -> None:
    control = SimulatorControl(sim.base_url)

    def session() -> dict[str, Any]:
        assert control.contract("mnq")["id"] == "CON.F.US.MNQ.Z26"
        assert control.set_price("MNQ", 21_000.1) == 21_000.0
        bought = control.place_order(1001, "MNQ", "buy", 2)
        assert bought["success"] and bought["orderId"]
        stop = control.place_order(1001, "MNQ", "sell", 1, "stop", stop_price=20_990.0)
        assert stop["success"]
        assert control.modify_order(1001, stop["orderId"], stop_price=20_995.0)["success"]
        limit = control.place_order(1001, "MNQ", 1, 1, 1, limit_price=21_050.0)
        assert control.cancel_order(1001, limit["orderId"])["success"]
        assert control.partial_close_position(1001, "MNQ", 1)["success"]
        refused = control.place_order(1001, "MNQ", "buy", 1, "stop", stop_price=20_000.0)
        assert refused["success"] is False and refused["errorCode"] == 2
        control.set_price("MNQ", 20_995.0)  # the stop fills the remaining contract
        control.set_account(1002, can_trade=False, balance=48_000)
        assert control.place_order(1002, "ES", "sell", 1)["success"] is False
        return control.state()

    state = await asyncio.to_thread(session)
    assert state["positions"] == []
    orders = {o["id"]: o for o in state["orders"]}
    assert sorted(o["status"] for o in orders.values()) == [2, 2, 2, 3, 5, 5]
    accounts = {a["id"]: a for a in state["accounts"]}
    assert accounts[1002] == {**accounts[1002], "canTrade": False, "balance": 48_000.0}
    assert accounts[1001]["balance"] == pytest.approx(50_000 - 0.74 - (5 * 2.0 + 0.74))
    assert state["prices"]["CON.F.US.MNQ.Z26"] == 20_995.0


async def test_control_client_reads_logs_and_sets_faults(sim: Simulator) -> None:
    control = SimulatorControl(sim.base_url)

    def session() -> None:
        control.pause_walk()
        control.fail_next("Position/closeContract", count=2, status=502)
        control.delay_next("Order/place", seconds=0.5)
        control.set_hub_silent("market")
        control.set_token_lifetime(120)
        control.set_payload_form("wrapped", hub="user")
        control.refuse_hub_connections(30)
        assert control.drop_hub_connections("user") == 0
        assert control.send_malformed("market", "invalid_json") == 0
        assert control.requests() == [] and control.pushes() == [] and control.hub_events() == []

    await asyncio.to_thread(session)
    state = sim.state()
    assert state["walkPaused"] is True and state["tokenLifetimeS"] == 120
    assert state["payloadForms"] == {"user": "wrapped", "market": "bare"}
    faults = state["faults"]
    assert faults["failures"] == {"position/closecontract": [502, 502]}
    assert faults["delays"] == {"order/place": [0.5]}
    assert faults["silentHubs"] == ["market"] and faults["hubsRefusedForS"] > 25
    await asyncio.to_thread(control.clear_faults)
    assert sim.state()["faults"] == {
        "failures": {}, "delays": {}, "refusedCloses": {}, "hubsRefusedForS": 0.0, "silentHubs": []
    }


async def test_control_errors_are_raised(sim: Simulator) -> None:
    control = SimulatorControl(sim.base_url)
    with pytest.raises(SimulatorControlError, match="XYZ"):
        await asyncio.to_thread(control.set_price, "XYZ", 1.0)
    with pytest.raises(SimulatorControlError, match="side"):
        await asyncio.to_thread(control.place_order, 1001, "ES", "sideways")
    with pytest.raises(SimulatorControlError, match="9999"):
        await asyncio.to_thread(control.set_account, 9999, can_trade=True)


async def test_start_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        await Simulator().start(host="0.0.0.0")


async def test_serve_logs_where_it_listens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="deskguard.simulator")
    task = asyncio.create_task(serve(port=0, seed=3))
    try:
        await wait_until(lambda: "listening on" in caplog.text)
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", caplog.text)
        assert match is not None
        state = await asyncio.to_thread(SimulatorControl(match.group(1)).state)
        assert len(state["accounts"]) == 3
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
