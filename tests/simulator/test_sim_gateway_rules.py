"""The gateway's documented failure shapes, its request budget, refused closes of one account, and
the control API's token and content-type checks."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sim_harness import PINNED_TODAY, login, wait_until

from deskguard.simulator import Simulator, SimulatorControl, SimulatorControlError, control_token
from deskguard.simulator.budget import GATEWAY_REQUEST_BUDGET, RateLimiter, RequestBudget
from deskguard.simulator.enums import ClosePositionError

pytestmark = pytest.mark.asyncio

KEY = "k" * 16


async def call(
    http: aiohttp.ClientSession, sim: Simulator, endpoint: str, body: Any, token: str | None, *, raw: bool = False
) -> tuple[int, Any, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {"data": body} if raw else {"json": body}
    async with http.post(f"{sim.api_url}/{endpoint}", headers=headers, **kwargs) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None), resp.headers


@pytest_asyncio.fixture
async def token(sim: Simulator, http: aiohttp.ClientSession) -> str:
    return await login(http, sim.base_url)


# ----------------------------------------------------------------------------- documented failures


async def test_failures_take_the_documented_shapes(sim: Simulator, http: aiohttp.ClientSession, token: str) -> None:
    for body, raw in (("[1, 2]", True), ("not json at all", True), ('"text"', True)):
        status, reply, _ = await call(http, sim, "Order/searchOpen", body, token, raw=raw)
        assert status == 200, body
        assert reply["success"] is False and isinstance(reply["errorCode"], int) and reply["errorCode"] != 0
        assert isinstance(reply["errorMessage"], str) and reply["errorMessage"]
    status, reply, _ = await call(http, sim, "Order/place", {"contractId": sim.contract("ES").id}, token)
    assert status == 200 and reply["success"] is False and "accountId" in reply["errorMessage"]
    status, reply, _ = await call(http, sim, "Position/closeContract", {"accountId": 1001, "contractId": "X"}, token)
    assert (status, reply["success"], reply["errorCode"]) == (200, False, ClosePositionError.CONTRACT_NOT_FOUND)
    # Authentication problems: 401 with no body, before the body is even looked at.
    for bad in (None, "not.a.token"):
        status, reply, _ = await call(http, sim, "Order/searchOpen", "[1]", bad, raw=True)
        assert (status, reply) == (401, None)
    # Only an unknown endpoint is a 404.
    assert (await call(http, sim, "Nothing/here", {}, token))[0] == 404


# ----------------------------------------------------------------------------- the request budget


async def test_the_201st_request_in_a_minute_answers_429_with_retry_after(http: aiohttp.ClientSession) -> None:
    async with Simulator(walk_paused=True, idle_quote_interval_s=None, today=PINNED_TODAY) as sim:
        assert sim.state(["requestBudget"])["requestBudget"] == {
            "limit": 200, "windowS": 60.0, "historyLimit": 50, "historyWindowS": 30.0}
        token = await login(http, sim.base_url, user="alice")  # the login counts: 1
        for _ in range(199):
            assert (await call(http, sim, "Account/search", {}, token))[0] == 200
        status, reply, headers = await call(http, sim, "Order/place", {"accountId": 1001, "contractId":
                                            sim.contract("ES").id, "type": 2, "side": 0, "size": 1}, token)
        assert (status, reply) == (429, None)
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert sim.book.orders() == []  # refused before anything was carried out
        # Another user has a budget of their own; logging in again does not reset alice's.
        other = await login(http, sim.base_url, user="bob")
        assert (await call(http, sim, "Account/search", {}, other))[0] == 200
        assert (await call(http, sim, "Auth/loginKey", {"userName": "alice", "apiKey": KEY}, None))[0] == 429
        assert (await call(http, sim, "Auth/validate", {}, token))[0] == 429
        # The request log keeps the 429s, with whose budget each request counted against.
        alice = [r for r in sim.requests() if r.user == "alice"]
        assert len(alice) == 203 and [r.status for r in alice].count(429) == 3
        assert all(r.fault == "rate limited" for r in alice if r.status == 429)
        in_window = [r for r in alice if r.status != 429 and r.mono > time.perf_counter() - 60]
        assert len(in_window) == 200


async def test_history_has_its_own_allowance(http: aiohttp.ClientSession) -> None:
    async with Simulator(walk_paused=True, idle_quote_interval_s=None, today=PINNED_TODAY) as sim:
        token = await login(http, sim.base_url)
        now = time.time()
        bars = {"contractId": sim.contract("ES").id, "live": False, "unit": 2, "unitNumber": 1, "limit": 1,
                "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
                "endTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
        statuses = [(await call(http, sim, "History/retrieveBars", bars, token))[0] for _ in range(51)]
        assert statuses == [200] * 50 + [429]
        assert (await call(http, sim, "Account/search", {}, token))[0] == 200  # the general allowance is apart
        assert sim.limiter.used("tester") == 2 and sim.limiter.used("tester", history=True) == 50


async def test_the_window_slides_and_the_budget_changes_at_run_time(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.set_request_budget(RequestBudget(limit=3, window_s=0.4))
    token = await login(http, sim.base_url)
    assert [(await call(http, sim, "Account/search", {}, token))[0] for _ in range(3)] == [200, 200, 429]
    await asyncio.sleep(0.45)
    assert (await call(http, sim, "Account/search", {}, token))[0] == 200
    # Through the control API, as another process would: off, then on again with other numbers.
    control = SimulatorControl(sim.base_url)
    assert await asyncio.to_thread(control.set_request_budget, enabled=False) is None
    assert all([(await call(http, sim, "Account/search", {}, token))[0] == 200 for _ in range(10)])
    budget = await asyncio.to_thread(control.set_request_budget, 1, 30.0)
    assert budget == {"limit": 1, "windowS": 30.0, "historyLimit": 50, "historyWindowS": 30.0}
    assert sim.state(["requestBudget"])["requestBudget"] == budget
    assert (await call(http, sim, "Account/search", {}, token))[0] == 200
    assert (await call(http, sim, "Account/search", {}, token))[0] == 429


async def test_the_budget_can_be_switched_off_from_the_start(http: aiohttp.ClientSession) -> None:
    async with Simulator(request_budget=None, walk_paused=True, idle_quote_interval_s=None) as sim:
        token = await login(http, sim.base_url)
        for _ in range(210):
            assert (await call(http, sim, "Status/ping", {}, token))[0] == 200
        assert sim.state(["requestBudget"])["requestBudget"] is None


async def test_expired_tokens_count_and_anonymous_requests_do_not(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.set_request_budget(RequestBudget(limit=2, window_s=60.0))
    token = await login(http, sim.base_url)
    sim.expire_tokens()
    assert (await call(http, sim, "Account/search", {}, token))[0] == 401  # counted for "tester": 2
    assert (await call(http, sim, "Account/search", {}, token))[0] == 429
    for _ in range(5):
        assert (await call(http, sim, "Account/search", {}, None))[0] == 401  # no user: not counted
    assert [r.user for r in sim.requests()][-5:] == [None] * 5


async def test_the_limiter_counts_a_sliding_window() -> None:
    now = [0.0]
    limiter = RateLimiter(RequestBudget(limit=2, window_s=10.0), clock=lambda: now[0])
    assert limiter.admit("u", "Order/place") is None
    now[0] = 4.0
    assert limiter.admit("u", "Order/place") is None
    now[0] = 6.0
    assert limiter.admit("u", "Order/place") == pytest.approx(4.0)  # the first leaves the window at 10
    now[0] = 10.0
    assert limiter.admit("u", "Order/place") is None
    assert limiter.admit("u", "history/retrieveBars") is None  # its own allowance
    limiter.budget = RequestBudget(limit=1, window_s=10.0)  # tightened: applies to the window as it is
    assert limiter.admit("u", "Order/place") == pytest.approx(10.0)  # both in it must leave
    assert RequestBudget(200, 60.0, 50, 30.0) == GATEWAY_REQUEST_BUDGET


# ----------------------------------------------------------------------------- refused closes of one account


async def test_refused_closes_hit_one_account_only_until_switched_off(
    sim: Simulator, http: aiohttp.ClientSession, token: str
) -> None:
    mnq = sim.contract("MNQ").id
    for account in (1001, 1002):
        assert sim.place_order(account, "MNQ", "buy", 3).success
    control = SimulatorControl(sim.base_url)
    await asyncio.to_thread(control.refuse_closes, 1001)
    assert sim.state(["faults"])["faults"]["refusedCloses"] == {"1001": ClosePositionError.ORDER_REJECTED}
    for endpoint, body in (("Position/closeContract", {"accountId": 1001, "contractId": mnq}),
                           ("Position/partialCloseContract", {"accountId": 1001, "contractId": mnq, "size": 1})):
        status, reply, _ = await call(http, sim, endpoint, body, token)
        assert status == 200 and reply["success"] is False and reply["errorCode"] == ClosePositionError.ORDER_REJECTED
        assert isinstance(reply["errorMessage"], str)
    assert sim.book.position(1001, mnq) is not None and sim.book.position(1001, mnq).size == 3
    assert (await call(http, sim, "Position/closeContract", {"accountId": 1002, "contractId": mnq}, token))[1][
        "success"
    ]
    assert [r.fault for r in sim.requests("Position/closeContract")] == ["refused close", None]
    # Other calls of the refused account still work; a custom code; then switched off.
    assert (await call(http, sim, "Order/searchOpen", {"accountId": 1001}, token))[1]["success"]
    sim.refuse_closes(1001, error_code=ClosePositionError.ACCOUNT_REJECTED)
    reply = (await call(http, sim, "Position/closeContract", {"accountId": 1001, "contractId": mnq}, token))[1]
    assert reply["errorCode"] == ClosePositionError.ACCOUNT_REJECTED
    await asyncio.to_thread(control.refuse_closes, 1001, False)
    assert (await call(http, sim, "Position/closeContract", {"accountId": 1001, "contractId": mnq}, token))[1][
        "success"
    ]
    assert sim.book.positions() == []


async def test_failures_can_target_one_account(sim: Simulator, http: aiohttp.ClientSession, token: str) -> None:
    mnq = sim.contract("MNQ").id
    for account in (1001, 1002):
        assert sim.place_order(account, "MNQ", "buy", 1).success
    await asyncio.to_thread(SimulatorControl(sim.base_url).fail_next, "Position/closeContract", 1, 503, 1001)
    assert sim.state(["faults"])["faults"]["failures"] == {"position/closecontract@1001": [503]}
    assert (await call(http, sim, "Position/closeContract", {"accountId": 1002, "contractId": mnq}, token))[0] == 200
    assert (await call(http, sim, "Position/closeContract", {"accountId": 1001, "contractId": mnq}, token))[0] == 503
    assert (await call(http, sim, "Position/closeContract", {"accountId": 1001, "contractId": mnq}, token))[0] == 200
    assert sim.book.positions() == []
    sim.refuse_closes(1003)
    sim.clear_faults()
    assert sim.state(["faults"])["faults"]["refusedCloses"] == {}


# ----------------------------------------------------------------------------- the control API's protection


async def test_control_requests_need_the_token_and_posts_json(sim: Simulator, http: aiohttp.ClientSession) -> None:
    url = f"{sim.base_url}/control"
    good = {control_token.HEADER: sim.control_token}
    async with http.get(f"{url}/state") as resp:
        assert resp.status == 403
    async with http.get(f"{url}/state", headers={control_token.HEADER: "guess"}) as resp:
        assert resp.status == 403
    async with http.post(f"{url}/price", json={"contract": "MNQ", "price": 1.0}) as resp:
        assert resp.status == 403
    # A form post (what a web page can send without asking first) and an undeclared body.
    async with http.post(f"{url}/price", data={"contract": "MNQ", "price": "1"}, headers=good) as resp:
        assert resp.status == 415
    async with http.post(f"{url}/price", data=b'{"contract": "MNQ", "price": 1}',
                         headers={**good, "Content-Type": "text/plain"}) as resp:
        assert resp.status == 415
    assert sim.market.known_prices() == {}  # nothing refused was carried out
    async with http.post(f"{url}/price", json={"contract": "MNQ", "price": 21_000.0}, headers=good) as resp:
        assert resp.status == 200 and (await resp.json())["price"] == 21_000.0
    async with http.get(f"{url}/state", params={"only": "prices"}, headers=good) as resp:
        assert resp.status == 200
    # A browser's preflight is never granted.
    async with http.options(f"{url}/price", headers={"Origin": "http://evil.example",
                                                     "Access-Control-Request-Method": "POST"}) as resp:
        assert resp.status != 200 and "Access-Control-Allow-Origin" not in resp.headers


async def test_the_token_is_per_run_and_the_client_finds_or_takes_it(sim: Simulator) -> None:
    async with Simulator(walk_paused=True, idle_quote_interval_s=None) as other:
        assert other.control_token != sim.control_token and len(sim.control_token) >= 32
    with pytest.raises(SimulatorControlError, match="X-Control-Token"):
        await asyncio.to_thread(SimulatorControl(sim.base_url, token="wrong").state)
    explicit = SimulatorControl(sim.base_url, token=sim.control_token)
    assert (await asyncio.to_thread(explicit.state, ["walkPaused"])) == {"walkPaused": True}
    # In another process nothing is registered: the client reads what the simulator published.
    path = Path(control_token.token_path(sim.port))
    assert sim.control_token_path == str(path) and path.read_text() == sim.control_token
    if hasattr(os, "getuid"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    control_token.unregister(sim.base_url, sim.control_token)
    try:
        assert (await asyncio.to_thread(SimulatorControl(sim.base_url).state, ["walkPaused"]))["walkPaused"]
    finally:
        control_token.register(sim.base_url, sim.control_token)
    port = sim.port
    await sim.stop()
    assert not control_token.token_path(port).exists()  # withdrawn with the run


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_a_simulator_process_prints_its_token_and_a_working_curl_line(tmp_path: Path) -> None:
    """``python -m deskguard.simulator`` (as the soak and the reliability tests start it): the
    token and a curl line in its log, and ``SimulatorControl(base_url)`` working from here."""
    env = {**os.environ, control_token.ENV_DIR: str(tmp_path / "tokens")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskguard.simulator", "--port", "0", "--walk-paused",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, env=env,
    )
    try:
        assert proc.stdout is not None
        log = ""
        while "curl " not in log:
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            assert line, log
            log += line.decode()
        base_url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log).group(1)  # type: ignore[union-attr]
        token = re.search(r"TOKEN=(\S+)", log).group(1)  # type: ignore[union-attr]
        curl = re.search(r"(curl -s -XPOST .*)", log).group(1)  # type: ignore[union-attr]
        assert f"{control_token.HEADER}: $TOKEN" in curl and "Content-Type: application/json" in curl
        old = os.environ.get(control_token.ENV_DIR)
        os.environ[control_token.ENV_DIR] = env[control_token.ENV_DIR]
        try:
            state = await asyncio.to_thread(SimulatorControl(base_url).state, ["accounts"])
        finally:
            if old is None:
                del os.environ[control_token.ENV_DIR]
            else:
                os.environ[control_token.ENV_DIR] = old
        assert len(state["accounts"]) == 3
        if shutil.which("sh") and shutil.which("curl"):
            # The printed line as a user pastes it; loopback only, never through a proxy.
            no_proxy = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
            done = await asyncio.to_thread(
                subprocess.run, ["sh", "-c", curl], env={**no_proxy, "NO_PROXY": "*", "TOKEN": token},
                capture_output=True, text=True, timeout=20,
            )
            assert json.loads(done.stdout) == {"price": 20_000.0}
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)


async def test_instructions_name_the_token_and_the_header(sim: Simulator) -> None:
    text = sim.control_instructions()
    assert f"TOKEN={sim.control_token}" in text
    assert f"-H \"X-Control-Token: $TOKEN\" {sim.base_url}/control/price" in text


@pytest_asyncio.fixture
async def quiet_sim() -> AsyncIterator[Simulator]:
    async with Simulator(walk_paused=True, idle_quote_interval_s=None, publish_control_token=False) as simulator:
        yield simulator


async def test_publishing_can_be_switched_off(quiet_sim: Simulator) -> None:
    assert quiet_sim.control_token_path is None and not control_token.token_path(quiet_sim.port).exists()
    await wait_until(lambda: True)
    assert (await asyncio.to_thread(SimulatorControl(quiet_sim.base_url).state, ["walkPaused"]))["walkPaused"]


async def test_the_command_line_budget_option() -> None:
    from deskguard.simulator.__main__ import parse_budget

    assert parse_budget("200/60") == GATEWAY_REQUEST_BUDGET
    assert parse_budget("2400/60") == RequestBudget(2400, 60.0, 50, 30.0)
    assert parse_budget("off") is None
    with pytest.raises(ValueError, match="N/SECONDS"):
        parse_budget("lots")
