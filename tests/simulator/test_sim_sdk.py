"""The real, unmodified project-x-py SDK against the simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import project_x_py.trading_suite as trading_suite_module
import pytest
import pytest_asyncio
from project_x_py import EventBus, EventType, ProjectX, TradingSuite
from project_x_py.position_manager import PositionManager
from project_x_py.realtime import ProjectXRealtimeClient
from sim_harness import wait_until

from deskguard.simulator import DEMO_API_KEY, DEMO_USERNAME, Simulator, projectx_class_for, sdk_config
from deskguard.simulator.budget import RequestBudget

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

RAW_EVENTS = ("position_update", "order_update", "trade_execution", "account_update", "quote_update")


@dataclass
class SdkSession:
    """The SDK's pieces built by hand, as DeskGuard's broker adapter may build them."""

    client: ProjectX
    realtime: ProjectXRealtimeClient
    positions: PositionManager
    events: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def latest(self, kind: str) -> dict[str, Any]:
        return self.events[kind][-1]


def unwrap(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["data"] if "action" in payload and "data" in payload else payload


async def open_session(sim: Simulator) -> AsyncIterator[SdkSession]:
    client = ProjectX(DEMO_USERNAME, DEMO_API_KEY, config=sdk_config(sim))
    async with client:
        await client.authenticate()
        assert client.account_info is not None
        realtime = ProjectXRealtimeClient(
            jwt_token=client.session_token, account_id=str(client.account_info.id), config=client.config
        )
        positions = PositionManager(client, EventBus())
        session = SdkSession(client, realtime, positions)
        for kind in RAW_EVENTS:

            async def record(data: dict[str, Any], kind: str = kind) -> None:
                session.events[kind].append(copy.deepcopy(data))  # the SDK mutates its dicts later

            await realtime.add_callback(kind, record)
        assert await asyncio.wait_for(realtime.connect(), 10)
        await realtime.subscribe_user_updates()
        await positions.initialize(realtime_client=realtime)
        try:
            yield session
        finally:
            await realtime.cleanup()


@pytest_asyncio.fixture
async def sdk(sim: Simulator) -> AsyncIterator[SdkSession]:
    async for session in open_session(sim):
        yield session


async def test_sdk_trades_through_the_simulator(sim: Simulator, sdk: SdkSession) -> None:
    client, realtime = sdk.client, sdk.realtime
    assert client.account_info is not None and client.account_info.name == "50KTC-V2-123456-1001"
    assert [a.id for a in await client.list_accounts()] == [1001, 1002, 1003]
    mnq = await client.get_instrument("MNQ")
    assert (mnq.id, mnq.name, mnq.symbolId, mnq.tickSize, mnq.tickValue) == (
        "CON.F.US.MNQ.Z26",
        "MNQZ6",
        "F.US.MNQ",
        0.25,
        0.5,
    )
    assert (await client.get_instrument("NQ")).id == "CON.F.US.ENQ.Z26"
    assert await realtime.subscribe_market_data([mnq.id])
    assert realtime.is_connected()

    # A quote: the snapshot on subscribe, then a price set exactly by the control API.
    await wait_until(lambda: sdk.events["quote_update"])
    sim.set_price("MNQ", 21_000.0)
    await wait_until(lambda: sdk.latest("quote_update")["data"]["lastPrice"] == 21_000.0)
    quote = sdk.latest("quote_update")
    assert quote["contract_id"] == mnq.id and quote["data"]["symbol"] == "F.US.MNQ"

    # A position opened "in the web screen" (the control API): order, trade and position arrive.
    assert sim.place_order(1001, "MNQ", 0, 2).success
    await wait_until(lambda: sdk.events["position_update"] and sdk.events["trade_execution"])
    await wait_until(lambda: any(unwrap(o)["status"] == 2 for o in sdk.events["order_update"]))
    opened = unwrap(sdk.latest("position_update"))
    assert (opened["contractId"], opened["type"], opened["size"], opened["averagePrice"]) == (mnq.id, 1, 2, 21_000.0)
    opening = unwrap(sdk.latest("trade_execution"))
    assert opening["profitAndLoss"] is None and opening["fees"] == pytest.approx(0.74)  # 2 half-turns
    await wait_until(lambda: sdk.positions.tracked_positions.get(mnq.id) is not None)

    # The SDK flattens it with Position/closeContract: a trade with P&L and an account update.
    sim.set_price("MNQ", 21_012.5)
    result = await sdk.positions.close_position_direct(mnq.id)
    assert result["success"] is True
    (close_request,) = sim.requests("Position/closeContract")
    assert close_request.body == {"accountId": 1001, "contractId": mnq.id}
    assert sim.book.positions(1001) == []
    await wait_until(lambda: unwrap(sdk.latest("trade_execution"))["profitAndLoss"] is not None)
    closing = unwrap(sdk.latest("trade_execution"))
    assert closing["profitAndLoss"] == pytest.approx(12.5 * 2 * 2.0) and closing["fees"] == pytest.approx(0.74)
    await wait_until(lambda: unwrap(sdk.latest("account_update"))["balance"] != pytest.approx(50_000 - 0.74))
    await wait_until(lambda: unwrap(sdk.latest("position_update"))["size"] == 0)
    account = unwrap(sdk.latest("account_update"))
    assert account["id"] == 1001 and account["balance"] == pytest.approx(50_000 + 50.0 - 1.48)

    # The REST views agree: realized P&L from trades (every trade's fees) equals the balance change.
    trades = await client.search_trades()
    assert [(t.profitAndLoss is None, t.fees) for t in trades] == [(True, 0.74), (False, 0.74)]
    realized = sum((t.profitAndLoss or 0.0) - t.fees for t in trades)
    (account_now,) = [a for a in await client.list_accounts() if a.id == 1001]
    assert realized == pytest.approx(account_now.balance - 50_000)
    assert await client.search_open_positions() == []


async def test_sdk_sees_stops_placed_in_the_web_screen(sim: Simulator, sdk: SdkSession) -> None:
    sim.set_price("ES", 6_000.0)
    assert sim.place_order(1001, "ES", 1, 1).success
    stop = sim.place_order(1001, "ES", "buy", 1, "stop", stop_price=6_010.0)
    assert stop.success and stop.order_id is not None
    await wait_until(lambda: any(unwrap(o)["id"] == stop.order_id for o in sdk.events["order_update"]))
    working = [unwrap(o) for o in sdk.events["order_update"] if unwrap(o)["id"] == stop.order_id]
    assert working[-1]["status"] == 1 and working[-1]["type"] == 4 and working[-1]["stopPrice"] == 6_010.0
    assert sim.modify_order(1001, stop.order_id, stop_price=6_005.0).success
    await wait_until(lambda: unwrap(sdk.latest("order_update"))["stopPrice"] == 6_005.0)
    sim.set_price("ES", 6_005.0)  # the stop fills: the short is closed at a loss
    await wait_until(lambda: unwrap(sdk.latest("position_update"))["size"] == 0)
    await wait_until(lambda: sdk.events["account_update"])
    assert unwrap(sdk.latest("trade_execution"))["profitAndLoss"] == pytest.approx(-250.0)


async def test_wrapped_user_payloads_reach_the_sdk(sim: Simulator, sdk: SdkSession) -> None:
    sim.set_payload_form("wrapped", hub="user")
    assert sim.place_order(1001, "MES", 0, 3).success
    await wait_until(lambda: sdk.events["position_update"])
    raw = sdk.latest("position_update")
    assert raw["action"] == 1 and raw["data"]["size"] == 3
    mes = sim.contract("MES").id
    await wait_until(lambda: sdk.positions.tracked_positions.get(mes) is not None)
    assert sdk.positions.tracked_positions[mes].size == 3


async def test_sdk_close_that_fails_leaves_the_position_open(sim: Simulator, sdk: SdkSession) -> None:
    assert sim.place_order(1001, "MNQ", 0, 1).success
    sim.fail_next("Position/closeContract")
    result = await sdk.positions.close_position_direct(sim.contract("MNQ").id)
    assert not result.get("success")
    assert len(sim.book.positions(1001)) == 1
    assert sim.requests("Position/closeContract")[0].status == 500


async def test_sdk_reads_a_refused_close_of_one_account_as_before(sim: Simulator, sdk: SdkSession) -> None:
    """HTTP 200 ``success: false`` with an errorCode (the documented failure): no exception, the
    position stays; the same close succeeds once the refusal is switched off."""
    mnq = sim.contract("MNQ").id
    assert sim.place_order(1001, "MNQ", 0, 1).success
    sim.refuse_closes(1001)
    result = await sdk.positions.close_position_direct(mnq)
    assert result.get("success") is False
    assert len(sim.book.positions(1001)) == 1
    (refused,) = sim.requests("Position/closeContract")
    assert (refused.status, refused.fault) == (200, "refused close")
    sim.refuse_closes(1001, False)
    assert (await sdk.positions.close_position_direct(mnq)).get("success") is True
    assert sim.book.positions(1001) == []


async def test_sdk_reads_bad_requests_and_the_budget_as_the_gateway_answers_them(
    sim: Simulator, sdk: SdkSession
) -> None:
    client = sdk.client
    # A documented failure (200, success false) where the SDK expects a contract: no contract.
    assert await client.search_instruments("XYZZY") == []
    # Bars come newest first; the SDK sorts them oldest first as before.
    bars = await client.get_bars("MNQ", days=1, interval=60, unit=2)
    assert len(bars) > 2 and bars["timestamp"].is_sorted()
    # Past the budget a close comes back "not successful" at once and nothing was carried out;
    # a read is held: project-x-py 4.4.1 sleeps 60 s on a 429 (its fallback: it ignores
    # Retry-After) before trying once more.
    sim.set_request_budget(RequestBudget(limit=1, window_s=60.0))
    mnq = sim.contract("MNQ").id
    assert sim.place_order(1001, "MNQ", 0, 1).success
    sim.limiter.clear()
    await client.search_open_positions()  # the one request the window allows
    result = await sdk.positions.close_position_direct(mnq)
    assert not result.get("success")
    assert len(sim.book.positions(1001)) == 1
    assert [r.status for r in sim.requests("Position/closeContract")] == [429]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.search_open_positions(), 0.5)
    assert sim.requests("Position/searchOpen")[-1].status == 429


async def test_sdk_reconnects_after_a_drop_and_resubscribes(sim: Simulator, sdk: SdkSession) -> None:
    mnq = sim.contract("MNQ")
    assert await sdk.realtime.subscribe_market_data([mnq.id])
    await wait_until(lambda: sim.hub_connection_count() == 2)
    mark = sim.recorder.hub_events[-1].seq
    assert sim.drop_hub_connections() == 2
    await wait_until(lambda: len(sim.hub_events(kind="connect", since=mark)) == 2, timeout=5)
    await wait_until(lambda: len(sim.hub_events("market", "invoke", since=mark)) >= 1, timeout=5)
    await wait_until(lambda: len(sim.hub_events("user", "invoke", since=mark)) >= 4, timeout=5)
    sdk.events.clear()
    assert sim.place_order(1001, "MNQ", 0, 1).success
    sim.set_price("MNQ", 21_100.0)
    await wait_until(lambda: sdk.events["position_update"] and sdk.events["quote_update"], timeout=5)


async def test_invalid_json_kills_the_sdk_hub_while_it_still_looks_connected(sim: Simulator, sdk: SdkSession) -> None:
    """A trap the broker's watchdog must cover (docs/projectx.md): the flag stays True."""
    assert sim.send_malformed("user", "invalid_json") == 1
    await wait_until(lambda: sim.hub_connection_count("user") == 0)
    await asyncio.sleep(0.2)
    assert sdk.realtime.user_connected is True
    sim.place_order(1001, "MNQ", 0, 1)
    await asyncio.sleep(0.2)
    assert sdk.events["order_update"] == []


async def test_trading_suite_with_the_substituted_client(sim: Simulator) -> None:
    """TradingSuite.create() ignores configured URLs; substituting its ProjectX class works."""
    config = sdk_config(sim)
    with mock.patch.object(trading_suite_module, "ProjectX", projectx_class_for(config)):
        suite = await asyncio.wait_for(
            TradingSuite.create(
                ["MNQ"], username=DEMO_USERNAME, api_key=DEMO_API_KEY, timeframes=["1min"], initial_days=1
            ),
            15,
        )
    try:
        opened: list[Any] = []
        closed: list[Any] = []

        async def on_opened(event: Any) -> None:
            opened.append(event)

        async def on_closed(event: Any) -> None:
            closed.append(event)

        await suite.on(EventType.POSITION_OPENED, on_opened)
        await suite.on(EventType.POSITION_CLOSED, on_closed)
        mnq = sim.contract("MNQ").id
        assert sim.place_order(1001, "MNQ", 1, 2).success
        await wait_until(lambda: opened)
        result = await suite["MNQ"].positions.close_position_direct(mnq)
        assert result["success"] is True
        await wait_until(lambda: closed)
        assert sim.book.positions() == []
        assert {r.endpoint for r in sim.requests()} >= {
            "Auth/loginKey",
            "Account/search",
            "Contract/search",
            "History/retrieveBars",
            "Position/searchOpen",
            "Position/closeContract",
        }
    finally:
        await suite.disconnect()


@pytest.mark.parametrize(("market_form", "expect_quotes"), [("bare", True), ("wrapped", False)])
async def test_sdk_quote_events_need_bare_market_payloads(market_form: str, expect_quotes: bool) -> None:
    """project-x-py 4.4.1's quote parser does not unwrap ``{"action", "data"}``: wrapped quotes
    reach raw callbacks but never become QUOTE_UPDATE events. Hence the bare default."""
    async with Simulator(seed=2, walk_interval_s=0.02, market_payload_form=market_form) as sim:
        with mock.patch.object(trading_suite_module, "ProjectX", projectx_class_for(sdk_config(sim))):
            suite = await asyncio.wait_for(
                TradingSuite.create(["MES"], username=DEMO_USERNAME, api_key=DEMO_API_KEY, initial_days=1), 15
            )
        try:
            quotes: list[Any] = []

            async def on_quote(event: Any) -> None:
                quotes.append(event)

            await suite.on(EventType.QUOTE_UPDATE, on_quote)
            await wait_until(lambda: len(sim.pushes("market", "GatewayQuote")) >= 10)
            await asyncio.sleep(0.1)
            assert bool(quotes) is expect_quotes
        finally:
            await suite.disconnect()
