"""The SignalR hubs at the protocol level, with a minimal raw client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from sim_harness import RS, RawHubClient, login, wait_until

from deskguard.simulator import Simulator

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def token(sim: Simulator, http: aiohttp.ClientSession) -> str:
    return await login(http, sim.base_url)


@pytest_asyncio.fixture
async def user_hub(sim: Simulator, http: aiohttp.ClientSession, token: str) -> AsyncIterator[RawHubClient]:
    client = RawHubClient(http, sim.user_hub_url, token)
    await client.connect()
    yield client
    await client.close()


@pytest_asyncio.fixture
async def market_hub(sim: Simulator, http: aiohttp.ClientSession, token: str) -> AsyncIterator[RawHubClient]:
    client = RawHubClient(http, sim.market_hub_url, token)
    await client.connect()
    yield client
    await client.close()


async def test_negotiate_needs_a_valid_token(sim: Simulator, http: aiohttp.ClientSession, token: str) -> None:
    async with http.post(f"{sim.user_hub_url}/negotiate", params={"access_token": "bad"}) as resp:
        assert resp.status == 401
    async with http.post(f"{sim.user_hub_url}/negotiate", params={"access_token": token}) as resp:
        body = await resp.json()
    assert resp.status == 200 and body["connectionId"]
    assert body["availableTransports"][0]["transport"] == "WebSockets"
    ws_url = sim.user_hub_url.replace("http", "ws")
    with pytest.raises(aiohttp.WSServerHandshakeError) as unknown_id:
        await http.ws_connect(ws_url, params={"access_token": token, "id": "never-negotiated"})
    assert unknown_id.value.status == 404


async def test_user_events_reach_only_subscribed_connections(sim: Simulator, user_hub: RawHubClient) -> None:
    await user_hub.invoke("SubscribeAccounts")
    await user_hub.invoke("SubscribeOrders", 1001)
    await user_hub.invoke("SubscribePositions", 1001)
    await user_hub.invoke("SubscribeTrades", 1001)
    await wait_until(lambda: len(sim.hub_events("user", "invoke")) == 4)
    sim.place_order(1002, "MNQ", 0, 1)  # another account: orders, trades, positions not sent
    sim.place_order(1001, "MNQ", 0, 1)
    sim.set_price("MNQ", sim.price("MNQ") + 5)
    sim.close_position(1001, "MNQ")
    await wait_until(lambda: len(user_hub.invocations("GatewayUserAccount")) == 3)
    orders = [args[0] for args in user_hub.invocations("GatewayUserOrder")]
    assert {o["accountId"] for o in orders} == {1001}
    assert [o["status"] for o in orders] == [1, 2, 1, 2]
    trades = [args[0] for args in user_hub.invocations("GatewayUserTrade")]
    assert [t["profitAndLoss"] for t in trades] == [None, 10.0]
    positions = [args[0] for args in user_hub.invocations("GatewayUserPosition")]
    assert [p["size"] for p in positions] == [1, 0]
    assert [t["fees"] for t in trades] == [0.37, 0.37]  # fees on every fill
    other, opened, closed = [args[0] for args in user_hub.invocations("GatewayUserAccount")]
    assert other["id"] == 1002  # SubscribeAccounts: every account's balance, 1002's opening fees too
    assert opened["id"] == 1001 and opened["balance"] == pytest.approx(50_000 - 0.37)
    assert closed["id"] == 1001 and closed["balance"] == pytest.approx(50_000 + 10 - 0.74)
    pushed = sim.pushes("user", "GatewayUserTrade")
    assert len(pushed) == 2 and pushed[0].mono < pushed[1].mono


async def test_unsubscribe_stops_events(sim: Simulator, user_hub: RawHubClient) -> None:
    await user_hub.invoke("SubscribeOrders", 1001)
    await user_hub.invoke("UnsubscribeOrders", 1001)
    await wait_until(lambda: len(sim.hub_events("user", "invoke")) == 2)
    sim.place_order(1001, "MNQ", 0, 1)
    sim.set_account(1001, can_trade=False)  # not subscribed to accounts either
    await user_hub.invoke("Heartbeat")
    await wait_until(lambda: len(sim.hub_events("user", "invoke")) == 3)
    assert user_hub.invocations("GatewayUserOrder") == []
    assert user_hub.invocations("GatewayUserAccount") == []


async def test_market_subscription_gets_a_snapshot_then_updates(sim: Simulator, market_hub: RawHubClient) -> None:
    es = sim.contract("ES")
    await market_hub.invoke("SubscribeContractQuotes", es.id)
    await wait_until(lambda: market_hub.invocations("GatewayQuote"))
    contract_id, snapshot = market_hub.invocations("GatewayQuote")[0]
    assert contract_id == es.id and snapshot["symbol"] == "F.US.EP"
    sim.set_price("ES", 6_100.0)
    await wait_until(lambda: len(market_hub.invocations("GatewayQuote")) == 2)
    assert market_hub.invocations("GatewayQuote")[1][1]["lastPrice"] == 6_100.0
    assert market_hub.invocations("GatewayTrade") == []  # not subscribed to the tape
    await market_hub.invoke("SubscribeContractTrades", es.id)
    await market_hub.invoke("SubscribeContractMarketDepth", es.id)
    await wait_until(lambda: market_hub.invocations("GatewayDepth"))
    sim.set_price("ES", 6_101.0)
    await wait_until(lambda: market_hub.invocations("GatewayTrade"))
    contract_id, prints = market_hub.invocations("GatewayTrade")[0]
    assert contract_id == es.id and prints[0]["symbolId"] == "F.US.EP" and prints[0]["price"] == 6_101.0


async def test_walk_moves_subscribed_contracts(http: aiohttp.ClientSession) -> None:
    async with Simulator(seed=1, walk_interval_s=0.02) as sim:
        client = RawHubClient(http, sim.market_hub_url, await login(http, sim.base_url))
        await client.connect()
        await client.invoke("SubscribeContractQuotes", sim.contract("MNQ").id)
        await wait_until(lambda: len({q[1]["lastPrice"] for q in client.invocations("GatewayQuote")}) >= 3)
        sim.pause_walk()
        await client.close()


async def test_idle_quotes_keep_a_paused_feed_alive(http: aiohttp.ClientSession) -> None:
    async with Simulator(walk_paused=True, walk_interval_s=0.02, idle_quote_interval_s=0.05) as sim:
        client = RawHubClient(http, sim.market_hub_url, await login(http, sim.base_url))
        await client.connect()
        await client.invoke("SubscribeContractQuotes", sim.contract("MNQ").id)
        await wait_until(lambda: len(client.invocations("GatewayQuote")) >= 4)
        assert len({q[1]["lastPrice"] for q in client.invocations("GatewayQuote")}) == 1
        await client.close()


async def test_wrapped_payload_form(sim: Simulator, user_hub: RawHubClient, market_hub: RawHubClient) -> None:
    sim.set_payload_form("wrapped")
    await user_hub.invoke("SubscribeOrders", 1001)
    await market_hub.invoke("SubscribeContractQuotes", sim.contract("MNQ").id)
    await wait_until(lambda: market_hub.invocations("GatewayQuote"))
    sim.place_order(1001, "MNQ", 0, 1)
    await wait_until(lambda: user_hub.invocations("GatewayUserOrder"))
    wrapped = user_hub.invocations("GatewayUserOrder")[0][0]
    assert wrapped["action"] == 1 and wrapped["data"]["accountId"] == 1001
    assert market_hub.invocations("GatewayQuote")[0][1]["data"]["symbol"] == "F.US.MNQ"
    sim.set_payload_form("bare", hub="user")
    sim.place_order(1001, "MNQ", 1, 1)
    await wait_until(lambda: len(user_hub.invocations("GatewayUserOrder")) >= 3)
    assert "data" not in user_hub.invocations("GatewayUserOrder")[-1][0]


async def test_invocation_ids_get_completions(sim: Simulator, user_hub: RawHubClient) -> None:
    await user_hub.invoke("SubscribeAccounts", invocation_id="7")
    await user_hub.invoke("DoSomethingElse", invocation_id="8")
    await wait_until(lambda: len([m for m in user_hub.messages if m.get("type") == 3]) == 2)
    completions = {m["invocationId"]: m for m in user_hub.messages if m.get("type") == 3}
    assert "error" not in completions["7"]
    assert "DoSomethingElse" in completions["8"]["error"]


async def test_pings_are_answered(sim: Simulator, user_hub: RawHubClient) -> None:
    assert user_hub.ws is not None
    await user_hub.ws.send_str(json.dumps({"type": 6}) + RS)
    await wait_until(lambda: {"type": 6} in user_hub.messages)


async def test_silent_hub_pushes_nothing_while_the_other_goes_on(
    sim: Simulator, user_hub: RawHubClient, market_hub: RawHubClient
) -> None:
    await user_hub.invoke("SubscribeOrders", 1001)
    await market_hub.invoke("SubscribeContractQuotes", sim.contract("MNQ").id)
    await wait_until(lambda: market_hub.invocations("GatewayQuote"))
    sim.set_hub_silent("market")
    sim.set_price("MNQ", 21_000.0)
    sim.place_order(1001, "MNQ", 0, 1)
    await wait_until(lambda: len(user_hub.invocations("GatewayUserOrder")) == 2)
    assert len(market_hub.invocations("GatewayQuote")) == 1
    assert not market_hub.closed and sim.hub_connection_count("market") == 1
    sim.set_hub_silent("market", False)
    sim.set_hub_silent("user")
    sim.set_price("MNQ", 21_001.0)
    sim.place_order(1001, "MNQ", 1, 1)
    await wait_until(lambda: len(market_hub.invocations("GatewayQuote")) == 2)
    assert len(user_hub.invocations("GatewayUserOrder")) == 2


@pytest.mark.parametrize("kind", ["invalid_json", "unknown_fields", "missing_fields", "unknown_target"])
async def test_malformed_messages(sim: Simulator, user_hub: RawHubClient, market_hub: RawHubClient, kind: str) -> None:
    assert sim.send_malformed("user", kind) == 1
    assert sim.send_malformed("market", kind) == 1
    await wait_until(lambda: user_hub.raw_frames and market_hub.raw_frames)
    for client in (user_hub, market_hub):
        message = client.messages[-1]
        if kind == "invalid_json":
            assert "invalid" in message
        elif kind == "unknown_fields":
            payload = message["arguments"][-1]
            assert payload["simulatorNovelty"] == {"nested": [1, 2, 3]}
        elif kind == "missing_fields":
            payload = message["arguments"][-1]
            assert "contractId" not in payload and "symbol" not in payload
        else:
            assert message["target"] == "GatewaySimulatorNovelty"


async def test_close_with_error_then_closes(sim: Simulator, user_hub: RawHubClient) -> None:
    sim.send_malformed("user", "close_with_error")
    await wait_until(lambda: user_hub.closed)
    assert user_hub.messages[-1] == {"type": 7, "error": "Simulated server error", "allowReconnect": True}


async def test_drop_and_refuse_reconnects(
    sim: Simulator, http: aiohttp.ClientSession, token: str, user_hub: RawHubClient, market_hub: RawHubClient
) -> None:
    assert sim.hub_connection_count() == 2
    assert sim.drop_hub_connections(refuse_s=0.3) == 2
    await wait_until(lambda: user_hub.closed and market_hub.closed)
    await wait_until(lambda: sim.hub_connection_count() == 0)
    async with http.post(f"{sim.user_hub_url}/negotiate", params={"access_token": token}) as resp:
        assert resp.status == 503
    await wait_until(lambda: not sim.faults.hubs_refused(), timeout=2)
    again = RawHubClient(http, sim.user_hub_url, token)
    await again.connect()
    assert sim.hub_connection_count("user") == 1
    kinds = [e.kind for e in sim.hub_events("user")]
    assert kinds[:2] == ["negotiate", "connect"] and "disconnect" in kinds and "refused" in kinds
    await again.close()


async def test_abrupt_drop_of_one_hub(sim: Simulator, user_hub: RawHubClient, market_hub: RawHubClient) -> None:
    assert sim.drop_hub_connections("market", abrupt=True) == 1
    await wait_until(lambda: market_hub.closed)
    assert not user_hub.closed and sim.hub_connection_count("user") == 1


async def test_reconnect_with_the_same_connection_id_is_accepted(
    sim: Simulator, http: aiohttp.ClientSession, token: str
) -> None:
    """pysignalr reconnects a dropped socket with its old URL (same id) without negotiating."""
    async with http.post(f"{sim.market_hub_url}/negotiate", params={"access_token": token}) as resp:
        connection_id = (await resp.json())["connectionId"]
    ws_url = sim.market_hub_url.replace("http", "ws")
    for _ in range(2):
        ws = await http.ws_connect(ws_url, params={"access_token": token, "id": connection_id})
        await ws.send_str(json.dumps({"protocol": "json", "version": 1}) + RS)
        assert await ws.receive_str(timeout=3) == "{}" + RS
        await ws.close()
    sim.expire_tokens()
    with pytest.raises(aiohttp.WSServerHandshakeError) as expired:
        await http.ws_connect(ws_url, params={"access_token": token, "id": connection_id})
    assert expired.value.status == 401


async def test_user_events_replayed_as_sent_reversed_or_padded(sim: Simulator, user_hub: RawHubClient) -> None:
    await user_hub.invoke("SubscribeOrders", 1001)
    await wait_until(lambda: len(sim.hub_events("user", "invoke")) == 1)
    sim.place_order(1001, "MNQ", 0, 1)  # order open, then filled
    await wait_until(lambda: len(user_hub.invocations("GatewayUserOrder")) == 2)
    assert sim.replay_user_pushes(2) == 2  # duplicates, in the order sent
    assert sim.replay_user_pushes(2, target="GatewayUserOrder", reverse=True, extra_fields=True) == 2
    await wait_until(lambda: len(user_hub.invocations("GatewayUserOrder")) == 6)
    orders = [args[0] for args in user_hub.invocations("GatewayUserOrder")]
    assert [o["status"] for o in orders] == [1, 2, 1, 2, 2, 1]
    assert orders[2] == orders[0] and "simulatorReplay" in orders[4] and "simulatorReplay" not in orders[3]
    assert [p.target for p in sim.pushes("user")][-4:] == ["<replay GatewayUserOrder>"] * 4


async def test_state_sections(sim: Simulator) -> None:
    sim.place_order(1001, "MNQ", 0, 1)
    sim.place_order(1001, "MNQ", 1, 1, 1, limit_price=sim.price("MNQ") + 100)
    slim = sim.state(["positions", "openOrders"])
    assert sorted(slim) == ["openOrders", "positions"]
    assert [(o["type"], o["status"]) for o in slim["openOrders"]] == [(1, 1)]
    assert "openOrders" not in sim.state() and len(sim.state()["orders"]) == 2
    with pytest.raises(ValueError, match="unknown state section"):
        sim.state(["nothing"])
