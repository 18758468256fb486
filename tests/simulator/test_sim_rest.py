"""The REST API over real HTTP: auth, endpoint shapes, the request log and REST faults."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sim_harness import PINNED_TODAY, login

from deskguard.simulator import Account, Simulator, default_accounts
from deskguard.simulator.enums import OrderStatus

pytestmark = pytest.mark.asyncio


async def call(
    session: aiohttp.ClientSession, sim: Simulator, endpoint: str, body: dict[str, Any], token: str | None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.post(f"{sim.api_url}/{endpoint}", json=body, headers=headers) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None)


async def test_login_issues_a_jwt_with_an_exp_claim(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await login(http, sim.base_url)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["exp"] > time.time() + 3600
    status, body = await call(http, sim, "Auth/loginKey", {"userName": "x", "apiKey": "short"}, None)
    assert status == 200 and body["success"] is False and body["errorCode"] != 0


async def test_configured_credentials_reject_others(http: aiohttp.ClientSession) -> None:
    async with Simulator(credentials=("alice", "alice-key-123456"), today=PINNED_TODAY) as sim:
        status, body = await call(http, sim, "Auth/loginKey", {"userName": "alice", "apiKey": "wrong-key-123456"}, None)
        assert status == 200 and body["success"] is False and body["errorCode"] == 3 and body["token"] is None
        status, body = await call(http, sim, "Auth/loginKey", {"userName": "alice", "apiKey": "alice-key-123456"}, None)
        assert body["success"] is True and body["token"]


async def test_api_requires_a_valid_bearer_token(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, _ = await call(http, sim, "Account/search", {"onlyActiveAccounts": True}, None)
    assert status == 401
    status, _ = await call(http, sim, "Account/search", {"onlyActiveAccounts": True}, "not.a.token")
    assert status == 401
    token = await login(http, sim.base_url)
    status, body = await call(http, sim, "Account/search", {"onlyActiveAccounts": True}, token)
    assert status == 200
    assert [(a["id"], a["name"], a["balance"], a["canTrade"]) for a in body["accounts"]] == [
        (1001, "50KTC-V2-123456-1001", 50_000.0, True),
        (1002, "50KTC-V2-123456-1002", 50_000.0, True),
        (1003, "50KTC-V2-123456-1003", 50_000.0, True),
    ]
    status, body = await call(http, sim, "Auth/validate", {}, token)
    assert body["success"] and body["newToken"] != token
    sim.expire_tokens()
    status, _ = await call(http, sim, "Account/search", {}, token)
    assert status == 401
    status, _ = await call(http, sim, "Account/search", {}, body["newToken"])
    assert status == 401


async def test_short_token_lifetime_expires_tokens(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.set_token_lifetime(0.3)
    token = await login(http, sim.base_url)
    assert (await call(http, sim, "Account/search", {}, token))[0] == 200
    await asyncio.sleep(0.35)
    assert (await call(http, sim, "Account/search", {}, token))[0] == 401


async def test_trading_round_trip_over_rest(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await login(http, sim.base_url)
    _, found = await call(http, sim, "Contract/search", {"searchText": "MNQ", "live": False}, token)
    mnq = found["contracts"][0]
    assert mnq["id"] == "CON.F.US.MNQ.Z26" and mnq["symbolId"] == "F.US.MNQ"
    _, by_id = await call(http, sim, "Contract/searchById", {"contractId": mnq["id"]}, token)
    assert by_id["contract"] == mnq
    _, missing = await call(http, sim, "Contract/searchById", {"contractId": "CON.F.US.MNQ.H20"}, token)
    assert missing["success"] is False and missing["contract"] is None

    sim.set_price("MNQ", 21_000.0)
    _, placed = await call(
        http, sim, "Order/place", {"accountId": 1001, "contractId": mnq["id"], "type": 2, "side": 0, "size": 2}, token
    )
    assert placed["success"] and isinstance(placed["orderId"], int)
    _, limit = await call(
        http,
        sim,
        "Order/place",
        {"accountId": 1001, "contractId": mnq["id"], "type": 1, "side": 1, "size": 1, "limitPrice": 21_050.0},
        token,
    )
    _, open_orders = await call(http, sim, "Order/searchOpen", {"accountId": 1001}, token)
    assert [o["id"] for o in open_orders["orders"]] == [limit["orderId"]]
    _, modified = await call(
        http, sim, "Order/modify", {"accountId": 1001, "orderId": limit["orderId"], "limitPrice": 21_060.0}, token
    )
    assert modified == {"success": True, "errorCode": 0, "errorMessage": None}
    _, cancelled = await call(http, sim, "Order/cancel", {"accountId": 1001, "orderId": limit["orderId"]}, token)
    assert cancelled["success"]
    _, positions = await call(http, sim, "Position/searchOpen", {"accountId": 1001}, token)
    (position,) = positions["positions"]
    assert (position["contractId"], position["type"], position["size"], position["averagePrice"]) == (
        mnq["id"],
        1,
        2,
        21_000.0,
    )

    sim.set_price("MNQ", 21_010.0)
    _, partial = await call(
        http, sim, "Position/partialCloseContract", {"accountId": 1001, "contractId": mnq["id"], "size": 1}, token
    )
    assert partial["success"]
    _, closed = await call(http, sim, "Position/closeContract", {"accountId": 1001, "contractId": mnq["id"]}, token)
    assert closed["success"]
    _, again = await call(http, sim, "Position/closeContract", {"accountId": 1001, "contractId": mnq["id"]}, token)
    assert again["success"] is False and again["errorCode"] == 2

    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    _, trades = await call(http, sim, "Trade/search", {"accountId": 1001, "startTimestamp": start}, token)
    pnl = [(t["size"], t["profitAndLoss"], t["fees"]) for t in trades["trades"]]
    assert pnl == [(2, None, 0.74), (1, 20.0, 0.37), (1, 20.0, 0.37)]  # fees on every fill
    _, accounts = await call(http, sim, "Account/search", {}, token)
    assert accounts["accounts"][0]["balance"] == pytest.approx(50_000 + 40 - 1.48)
    _, orders = await call(http, sim, "Order/search", {"accountId": 1001, "startTimestamp": start}, token)
    assert [o["status"] for o in orders["orders"]] == [
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.FILLED,
        OrderStatus.FILLED,
    ]


async def test_trade_search_filters_by_time(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await login(http, sim.base_url)
    sim.place_order(1001, "ES", 0, 1)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.01)
    sim.place_order(1001, "ES", 1, 1)
    before = (middle - timedelta(hours=1)).isoformat()
    _, all_trades = await call(http, sim, "Trade/search", {"accountId": 1001, "startTimestamp": before}, token)
    _, early = await call(
        http,
        sim,
        "Trade/search",
        {"accountId": 1001, "startTimestamp": before, "endTimestamp": middle.isoformat()},
        token,
    )
    _, late = await call(
        http, sim, "Trade/search", {"accountId": 1001, "startTimestamp": middle.isoformat().replace("+00:00", "Z")}, token
    )
    assert len(all_trades["trades"]) == 2
    assert [t["profitAndLoss"] for t in early["trades"]] == [None]
    assert [t["profitAndLoss"] for t in late["trades"]] == [0.0]
    _, other = await call(http, sim, "Trade/search", {"accountId": 1002, "startTimestamp": before}, token)
    assert other["trades"] == []


async def test_retrieve_bars(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await login(http, sim.base_url)
    now = datetime.now(UTC)
    _, body = await call(
        http,
        sim,
        "History/retrieveBars",
        {
            "contractId": sim.contract("ES").id,
            "live": False,
            "startTime": (now - timedelta(hours=1)).isoformat(),
            "endTime": now.isoformat(),
            "unit": 2,
            "unitNumber": 1,
            "limit": 30,
            "includePartialBar": False,
        },
        token,
    )
    assert body["success"] and len(body["bars"]) == 30
    assert set(body["bars"][0]) == {"t", "o", "h", "l", "c", "v"}
    times = [datetime.fromisoformat(b["t"]) for b in body["bars"]]
    assert times == sorted(times, reverse=True)  # newest first, as the gateway answers
    assert body["bars"][0]["c"] == sim.price("ES")


async def test_bad_requests_answer_success_false(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await login(http, sim.base_url)
    _, body = await call(http, sim, "Order/place", {"accountId": "x", "contractId": "CON.F.US.EP.Z26"}, token)
    assert body["success"] is False and body["errorCode"] == 2
    _, body = await call(
        http, sim, "Order/place", {"accountId": 1001, "contractId": "CON.F.US.XX.Z26", "type": 2, "side": 0, "size": 1}, token
    )
    assert body["success"] is False and body["errorCode"] == 8
    _, body = await call(http, sim, "Order/cancel", {"accountId": 1001, "orderId": 42}, token)
    assert body["success"] is False and body["errorCode"] == 2
    status, _ = await call(http, sim, "Nothing/here", {}, token)
    assert status == 404


async def test_request_log_records_every_call_with_both_clocks(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await login(http, sim.base_url)
    sim.place_order(1001, "MNQ", 0, 1)
    before = time.perf_counter()
    await call(http, sim, "Position/closeContract", {"accountId": 1001, "contractId": "CON.F.US.MNQ.Z26"}, token)
    after = time.perf_counter()
    (record,) = sim.requests("Position/closeContract")
    assert record.body == {"accountId": 1001, "contractId": "CON.F.US.MNQ.Z26"}
    assert before <= record.mono <= after and abs(record.wall - time.time()) < 5
    assert record.status == 200 and record.method == "POST"
    assert [r.endpoint for r in sim.requests()] == ["Auth/loginKey", "Position/closeContract"]
    assert sim.requests("/api/position/closecontract") == [record]
    assert sim.requests(since=record.seq) == []


async def test_injected_failures_are_not_carried_out(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await login(http, sim.base_url)
    sim.place_order(1001, "MNQ", 0, 1)
    close = {"accountId": 1001, "contractId": "CON.F.US.MNQ.Z26"}
    sim.fail_next("Position/closeContract", count=2)
    sim.fail_next("Position/closeContract", status=200)
    assert (await call(http, sim, "Position/closeContract", close, token))[0] == 500
    assert (await call(http, sim, "Position/closeContract", close, token))[0] == 500
    status, body = await call(http, sim, "Position/closeContract", close, token)
    assert status == 200 and body["success"] is False
    assert len(sim.book.positions(1001)) == 1
    assert (await call(http, sim, "Position/closeContract", close, token))[1]["success"] is True
    assert [r.fault for r in sim.requests("Position/closeContract")] == ["failed 500", "failed 500", "failed 200", None]

    sim.fail_next("*", status=503)
    assert (await call(http, sim, "Account/search", {}, token))[0] == 503
    assert (await call(http, sim, "Account/search", {}, token))[0] == 200


async def test_injected_delays_hold_the_reply(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = await login(http, sim.base_url)
    sim.delay_next("Account/search", seconds=0.3)
    started = time.perf_counter()
    assert (await call(http, sim, "Account/search", {}, token))[0] == 200
    slow = time.perf_counter() - started
    started = time.perf_counter()
    await call(http, sim, "Account/search", {}, token)
    fast = time.perf_counter() - started
    assert slow >= 0.3 > fast
    assert sim.requests("Account/search")[0].fault == "delayed 0.3s"


async def test_accounts_are_configurable(http: aiohttp.ClientSession) -> None:
    accounts = [*default_accounts(count=2, first_id=2001, balance=150_000.0), Account(7, "EXPRESS-7", 10_000.0, False)]
    async with Simulator(accounts=accounts, today=PINNED_TODAY) as sim:
        token = await login(http, sim.base_url)
        _, body = await call(http, sim, "Account/search", {"onlyActiveAccounts": True}, token)
        assert [(a["id"], a["name"], a["balance"], a["canTrade"]) for a in body["accounts"]] == [
            (2001, "50KTC-V2-123456-2001", 150_000.0, True),
            (2002, "50KTC-V2-123456-2002", 150_000.0, True),
            (7, "EXPRESS-7", 10_000.0, False),
        ]
