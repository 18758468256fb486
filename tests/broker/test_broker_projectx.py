"""The ProjectX adapter over the real, unmodified project-x-py SDK against the simulator (127.0.0.1)."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import time
from collections.abc import Callable

import pytest
from broker_harness import API_KEY, USERNAME, Recorder, wait_until

from deskguard.broker.base import AuthenticationError, BrokerError, HubState
from deskguard.broker.projectx import ProjectXBroker
from deskguard.engine.events import AccountUpdated, OrderUpdated, PositionUpdated, QuoteUpdated, Resync, TradeFilled
from deskguard.engine.models import OrderStatus, OrderType, PositionType, Side
from deskguard.simulator import MalformedKind, OrderSide, Simulator
from deskguard.simulator import OrderType as SimOrderType

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.timeout(60)]

MakeBroker = Callable[..., ProjectXBroker]


async def started(
    make_broker: MakeBroker, accounts: list[int] | None = None, symbols: list[str] | None = None, **options: object
) -> tuple[ProjectXBroker, Recorder]:
    broker = make_broker(**options)
    await broker.connect()
    recorder = Recorder()
    await broker.start(accounts or [1001], symbols if symbols is not None else ["MNQ"], recorder.listener())
    return broker, recorder


def sim_position(sim: Simulator, account_id: int, symbol: str) -> dict | None:
    contract_id = sim.contract(symbol).id
    for p in sim.state()["positions"]:
        if p["accountId"] == account_id and p["contractId"] == contract_id:
            return p
    return None


def sim_order(sim: Simulator, order_id: int) -> dict:
    return next(o for o in sim.state()["orders"] if o["id"] == order_id)


# ----------------------------------------------------------------------------- connect


async def test_connect_lists_active_accounts(make_broker: MakeBroker) -> None:
    broker = make_broker()
    accounts = await broker.connect()
    assert [a.id for a in accounts] == [1001, 1002, 1003]
    assert all(a.balance == 50_000.0 and a.can_trade for a in accounts)
    assert accounts[0].name == "50KTC-V2-123456-1001"


async def test_wrong_api_key_is_an_authentication_error_without_the_key(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = Simulator(seed=1, walk_paused=True, credentials=(USERNAME, API_KEY))
    await sim.start()
    wrong_key = "WRONG-key-that-must-never-leak-42"
    broker = ProjectXBroker(USERNAME, wrong_key, api_url=sim.api_url, user_hub_url=sim.user_hub_url,
                            market_hub_url=sim.market_hub_url)  # fmt: skip
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as info:
            await broker.connect()
        assert wrong_key not in str(info.value) and wrong_key not in repr(info.value)
        assert info.value.__cause__ is None and wrong_key not in str(info.value.__context__)
        assert "refused the credentials" in str(info.value)
        assert all(wrong_key not in r.getMessage() for r in caplog.records)
        out = capsys.readouterr()
        assert wrong_key not in out.out and wrong_key not in out.err
        # The right key works on the same simulator.
        good = ProjectXBroker(USERNAME, API_KEY, api_url=sim.api_url, user_hub_url=sim.user_hub_url,
                              market_hub_url=sim.market_hub_url)  # fmt: skip
        assert len(await good.connect()) == 3
        await good.stop()
    finally:
        await broker.stop()
        await sim.stop()


async def test_unreachable_gateway_is_a_broker_error_naming_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    broker = ProjectXBroker(USERNAME, API_KEY, api_url=url, user_hub_url=f"http://127.0.0.1:{port}/hubs/user",
                            market_hub_url=f"http://127.0.0.1:{port}/hubs/market", request_timeout=5.0)  # fmt: skip
    started_at = time.monotonic()
    with pytest.raises(BrokerError) as info:
        await broker.connect()
    assert not isinstance(info.value, AuthenticationError)
    assert f"cannot reach the gateway at {url}" in str(info.value)
    assert API_KEY not in str(info.value)
    assert time.monotonic() - started_at < 12
    await broker.stop()


async def test_environment_variables_point_the_adapter_at_the_gateway(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROJECTX_API_URL", sim.api_url)
    monkeypatch.setenv("PROJECTX_USER_HUB_URL", sim.user_hub_url)
    monkeypatch.setenv("PROJECTX_MARKET_HUB_URL", sim.market_hub_url)
    broker = ProjectXBroker(USERNAME, API_KEY, reconcile_interval=0, market_silence=0)
    try:
        assert broker.api_url == sim.api_url
        recorder = Recorder()
        await broker.connect()
        await broker.start([1001], ["MNQ"], recorder.listener())
        await wait_until(lambda: broker.health.user_hub == HubState.CONNECTED)
        assert sim.hub_connection_count() == 2
    finally:
        await broker.stop()


# ----------------------------------------------------------------------------- events


async def test_a_trade_made_at_the_gateway_arrives_once_as_engine_events(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ", "ES"])
    await wait_until(lambda: rec.resyncs(1001))
    mnq = sim.contract("MNQ").id
    result = sim.place_order(1001, "MNQ", OrderSide.BUY, 2)
    sim.place_order(1002, "MNQ", OrderSide.BUY, 1)  # an account not guarded: never reported
    await wait_until(lambda: rec.of(PositionUpdated, position__size=2))
    await asyncio.sleep(0.5)  # time for any duplicate to show up

    trades = rec.of(TradeFilled)
    assert len(trades) == 1
    trade = trades[0].trade
    assert (trade.account_id, trade.contract_id, trade.side, trade.size, trade.pnl) == (1001, mnq, Side.BUY, 2, None)
    assert trade.order_id == result.order_id and trade.time.tzinfo is not None
    positions = rec.of(PositionUpdated)
    assert len(positions) == 1
    p = positions[0].position
    assert (p.type, p.size, p.average_price) == (PositionType.LONG, 2, trade.price)
    statuses = [e.order.status for e in rec.of(OrderUpdated, order__id=result.order_id)]
    assert statuses == [OrderStatus.OPEN, OrderStatus.FILLED]
    assert all(getattr(e, "account_id", 1001) == 1001 for e in rec.non_quotes())

    # Closing from the gateway side: the position goes to 0, the closing trade carries P&L.
    sim.set_price("MNQ", sim.price("MNQ") + 10)
    sim.close_position(1001, "MNQ")
    await wait_until(lambda: rec.of(PositionUpdated, position__size=0))
    await wait_until(lambda: len(rec.of(TradeFilled)) == 2)
    closing = rec.of(TradeFilled)[1].trade
    assert closing.pnl == pytest.approx(2 * 10 / 0.25 * 0.5)
    await wait_until(lambda: rec.of(AccountUpdated))
    # The gateway charges a half-turn fee on every fill, the opening one included.
    opening = rec.of(TradeFilled)[0].trade
    assert rec.of(AccountUpdated)[-1].account.balance == pytest.approx(50_000 + closing.pnl - opening.fees - closing.fees)
    await asyncio.sleep(0.3)
    assert len(rec.of(TradeFilled)) == 2 and len(rec.of(PositionUpdated, position__size=0)) == 1


async def test_quotes_become_quote_events(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    mnq = sim.contract("MNQ").id
    sim.set_price("MNQ", 21_111.25)
    await wait_until(lambda: any(e.quote.last == 21_111.25 for e in rec.of(QuoteUpdated)))
    quote = rec.of(QuoteUpdated)[-1].quote
    assert quote.contract_id == mnq and quote.bid is not None and quote.time.tzinfo is not None
    # An extra contract on request.
    cl = sim.contract("CL").id
    await broker.watch_contract(cl)
    sim.set_price("CL", 71.23)
    await wait_until(lambda: any(e.quote.contract_id == cl and e.quote.last == 71.23 for e in rec.of(QuoteUpdated)))
    specs = await broker.contract_specs([mnq, cl])
    assert [(s.contract_id, s.tick_size, s.tick_value) for s in specs] == [(mnq, 0.25, 0.5), (cl, 0.01, 10.0)]


async def test_several_accounts_on_one_user_hub(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker, [1001, 1002, 1003], ["MES"])
    assert {r.account_id for r in rec.resyncs()} == {1001, 1002, 1003}
    for account_id in (1001, 1002, 1003):
        sim.place_order(account_id, "MES", OrderSide.SELL, 1)
    await wait_until(lambda: {e.account_id for e in rec.of(TradeFilled)} == {1001, 1002, 1003})
    assert sim.hub_connection_count("user") == 1
    await asyncio.sleep(0.3)
    assert len(rec.of(TradeFilled)) == 3


@pytest.mark.parametrize("form", ["bare", "wrapped"])
async def test_both_payload_forms(sim: Simulator, make_broker: MakeBroker, form: str) -> None:
    sim.set_payload_form(form)  # both hubs
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    sim.place_order(1001, "MNQ", OrderSide.SELL, 3)
    await wait_until(lambda: rec.of(PositionUpdated, position__size=3))
    assert rec.of(PositionUpdated)[0].position.type == PositionType.SHORT
    await wait_until(lambda: len(rec.of(TradeFilled)) == 1)
    sim.set_price("MNQ", 21_050.5)
    await wait_until(lambda: any(e.quote.last == 21_050.5 for e in rec.of(QuoteUpdated)))


# ----------------------------------------------------------------------------- resync


async def test_the_first_resync_carries_the_brokers_picture(sim: Simulator, make_broker: MakeBroker) -> None:
    price = sim.price("MNQ")
    sim.place_order(1001, "MNQ", OrderSide.BUY, 2)
    stop = sim.place_order(1001, "MNQ", OrderSide.SELL, 2, SimOrderType.STOP, stop_price=price - 20)
    sim.place_order(1001, "ES", OrderSide.BUY, 1)
    sim.set_price("ES", sim.price("ES") - 5)
    sim.close_position(1001, "ES")
    sim.place_order(1002, "MNQ", OrderSide.BUY, 1)

    broker, rec = await started(make_broker, [1001, 1002], ["MNQ"])
    resyncs = rec.resyncs(1001)
    assert len(resyncs) == 1 and len(rec.resyncs(1002)) == 1
    r = resyncs[0]
    assert r.account.id == 1001 and r.account.balance < 50_000
    assert [(p.contract_id, p.type, p.size) for p in r.positions] == [(sim.contract("MNQ").id, PositionType.LONG, 2)]
    assert [(o.id, o.type, o.side, o.stop_price, o.status) for o in r.orders] == [
        (stop.order_id, OrderType.STOP, Side.SELL, price - 20, OrderStatus.OPEN)
    ]
    assert len(r.trades) == 3
    assert [t.pnl is None for t in r.trades] == [True, True, False]
    assert r.trades[2].pnl == pytest.approx(-5 / 0.25 * 12.5)
    assert r.trades == tuple(sorted(r.trades, key=lambda t: t.time))
    # The public read gives the same picture and emits nothing.
    before = len(rec.events)
    again = await broker.resync(1001)
    assert again.positions == r.positions and again.orders == r.orders and again.trades == r.trades
    assert len(rec.events) == before
    # Nothing the resync already said is repeated as an event.
    await asyncio.sleep(0.3)
    assert not rec.of(PositionUpdated) and not rec.of(TradeFilled)


async def test_resync_reads_trades_from_the_start_of_the_trading_week(sim: Simulator, make_broker: MakeBroker) -> None:
    """Resync reads ``Trade/search`` from ``week_start()`` (the Sunday reset), not the day's start."""
    from datetime import UTC, datetime

    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await asyncio.sleep(0.01)
    cut = datetime.now(UTC)
    await asyncio.sleep(0.01)
    sim.place_order(1001, "MNQ", OrderSide.SELL, 1)
    broker, rec = await started(make_broker, [1001], ["MNQ"], day_start=lambda: datetime.now(UTC), week_start=lambda: cut)
    trades = rec.resyncs(1001)[0].trades
    assert len(trades) == 1 and trades[0].side == Side.SELL and trades[0].pnl is not None
    (search,) = sim.requests("Trade/search")
    assert datetime.fromisoformat(search.body["startTimestamp"]) == cut


# ----------------------------------------------------------------------------- actions


async def test_actions_reach_the_gateway(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ", "ES"])
    mnq, es = sim.contract("MNQ").id, sim.contract("ES").id
    sim.place_order(1001, "MNQ", OrderSide.BUY, 3)
    sim.place_order(1001, "ES", OrderSide.SELL, 1)
    await wait_until(lambda: len(rec.of(PositionUpdated)) == 2)

    positions = await broker.open_positions(1001)
    assert {(p.contract_id, p.signed_size) for p in positions} == {(mnq, 3), (es, -1)}

    await broker.partial_close(1001, mnq, 1)
    assert sim_position(sim, 1001, "MNQ")["size"] == 2
    await wait_until(lambda: rec.of(PositionUpdated, position__size=2))

    price = sim.price("MNQ")
    order_id = await broker.place_stop(1001, mnq, Side.SELL, 2, price - 12.5)
    order = sim_order(sim, order_id)
    assert (order["type"], order["side"], order["size"], order["stopPrice"], order["status"]) == (4, 1, 2, price - 12.5, 1)
    await wait_until(lambda: rec.of(OrderUpdated, order__id=order_id))
    assert [o.id for o in await broker.open_orders(1001)] == [order_id]

    await broker.modify_stop(1001, order_id, price - 7.75)
    assert sim_order(sim, order_id)["stopPrice"] == price - 7.75
    await wait_until(lambda: any(e.order.stop_price == price - 7.75 for e in rec.of(OrderUpdated, order__id=order_id)))

    await broker.cancel_order(1001, order_id)
    assert sim_order(sim, order_id)["status"] == 3
    await wait_until(lambda: rec.of(OrderUpdated, order__id=order_id, order__status=OrderStatus.CANCELLED))

    await broker.close_position(1001, mnq)
    await broker.close_position(1001, es)
    assert sim_position(sim, 1001, "MNQ") is None and sim_position(sim, 1001, "ES") is None
    assert await broker.open_positions(1001) == []
    await wait_until(lambda: len(rec.of(PositionUpdated, position__size=0)) == 2)


async def test_refused_actions_raise_broker_errors(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, _ = await started(make_broker, [1001], ["MNQ"])
    mnq = sim.contract("MNQ").id
    with pytest.raises(BrokerError, match=r"Order/cancel account 1001 order 424242: refused by the gateway \(errorCode \d+"):
        await broker.cancel_order(1001, 424242)
    with pytest.raises(BrokerError, match="Position/closeContract account 1001 contract CON.F.US.MNQ"):
        await broker.close_position(1001, mnq)  # nothing to close
    with pytest.raises(BrokerError, match="not positive"):
        await broker.partial_close(1001, mnq, 0)


@pytest.mark.parametrize("status", [500, 503, 200])
async def test_a_failing_close_raises_at_once_and_leaves_the_position(
    sim: Simulator, make_broker: MakeBroker, status: int
) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: rec.of(PositionUpdated, position__size=1))
    sim.fail_next("Position/closeContract", status=status)
    began = time.monotonic()
    with pytest.raises(BrokerError) as info:
        await broker.close_position(1001, sim.contract("MNQ").id)
    assert time.monotonic() - began < 2.0
    text = str(info.value)
    assert "Position/closeContract account 1001 contract CON.F.US.MNQ" in text
    assert ("outcome unknown" in text) if status >= 500 else ("errorCode 9" in text)
    assert API_KEY not in text
    assert sim_position(sim, 1001, "MNQ")["size"] == 1
    assert len(sim.requests("Position/closeContract")) == 1  # no retry
    await broker.close_position(1001, sim.contract("MNQ").id)  # the guardian's retry works
    assert sim_position(sim, 1001, "MNQ") is None


async def test_a_slow_gateway_cannot_hang_an_action(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ"], request_timeout=0.5)
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: rec.of(PositionUpdated, position__size=1))
    sim.delay_next("Position/closeContract", seconds=3.0)
    began = time.monotonic()
    with pytest.raises(BrokerError, match="no answer within 0.5s"):
        await broker.close_position(1001, sim.contract("MNQ").id)
    assert time.monotonic() - began < 1.5


# ----------------------------------------------------------------------------- hub faults


@pytest.mark.parametrize("kind", [MalformedKind.MISSING_FIELDS, MalformedKind.UNKNOWN_FIELDS, MalformedKind.UNKNOWN_TARGET])
@pytest.mark.parametrize("hub", ["user", "market"])
async def test_malformed_hub_messages_are_skipped(
    sim: Simulator, make_broker: MakeBroker, kind: MalformedKind, hub: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    sim.set_price("MNQ", 21_000.0)
    await wait_until(lambda: rec.of(QuoteUpdated))
    with caplog.at_level(logging.WARNING, logger="deskguard.broker"):
        assert sim.send_malformed(hub, kind) == 1
        await asyncio.sleep(0.3)
    if kind is MalformedKind.MISSING_FIELDS and hub == "user":
        assert any("skipped a malformed position update" in r.getMessage() for r in caplog.records)
    # Nothing broke: later events still arrive, and the hubs stayed up.
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: rec.of(TradeFilled))
    sim.set_price("MNQ", 21_001.0)
    await wait_until(lambda: any(e.quote.last == 21_001.0 for e in rec.of(QuoteUpdated)))
    assert broker.health.reconnects == 0
    assert len(rec.resyncs(1001)) == 1


@pytest.mark.parametrize("kind", [MalformedKind.INVALID_JSON, MalformedKind.CLOSE_WITH_ERROR])
async def test_a_message_that_kills_the_hub_connection_is_recovered(
    sim: Simulator, make_broker: MakeBroker, kind: MalformedKind
) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    mark = len(rec.healths)
    sim.send_malformed("user", kind)
    await wait_until(lambda: rec.saw_user_hub(HubState.DISCONNECTED, mark), what="user hub seen down")
    await wait_until(lambda: len(rec.resyncs(1001)) == 2, timeout=8, what="a fresh Resync")
    assert broker.health.user_hub == HubState.CONNECTED and broker.health.reconnects >= 1
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: rec.of(TradeFilled))


@pytest.mark.parametrize("abrupt", [False, True])
async def test_dropped_hubs_go_down_come_back_and_resync(sim: Simulator, make_broker: MakeBroker, abrupt: bool) -> None:
    broker, rec = await started(make_broker, [1001, 1002], ["MNQ"])
    assert broker.health.user_hub == HubState.CONNECTED
    mark = len(rec.healths)
    sim.drop_hub_connections(refuse_s=1.5, abrupt=abrupt)
    # While the hubs are down a trade happens; the Resync after the reconnect must carry it.
    sim.place_order(1001, "MNQ", OrderSide.BUY, 2)
    await wait_until(lambda: rec.saw_user_hub(HubState.DISCONNECTED, mark), timeout=5, what="health disconnected")
    assert not rec.healths[-1].guarding or rec.saw_user_hub(HubState.DISCONNECTED, mark)
    await wait_until(lambda: len(rec.resyncs(1001)) >= 2 and len(rec.resyncs(1002)) >= 2, timeout=10, what="Resync")
    down_at = next(i for i, h in enumerate(rec.healths) if i >= mark and h.user_hub == HubState.DISCONNECTED)
    assert any(h.user_hub == HubState.CONNECTED for h in rec.healths[down_at:])
    assert broker.health.user_hub == HubState.CONNECTED and broker.health.market_hub == HubState.CONNECTED
    assert broker.health.reconnects >= 1
    last = rec.resyncs(1001)[-1]
    assert [(p.size, p.type) for p in last.positions] == [(2, PositionType.LONG)]
    # Events flow again after the reconnect, once each.
    n = len(rec.of(TradeFilled))
    sim.place_order(1002, "MNQ", OrderSide.SELL, 1)
    await wait_until(lambda: rec.of(TradeFilled, trade__account_id=1002))
    await asyncio.sleep(0.3)
    assert len(rec.of(TradeFilled)) == n + 1
    assert sim.hub_connection_count() == 2


async def test_hubs_refused_at_start_still_resync_and_recover(sim: Simulator, make_broker: MakeBroker) -> None:
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    sim.refuse_hub_connections(1.5)
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    assert len(rec.resyncs(1001)) == 1  # REST works: the guardian knows the position at once
    assert broker.health.user_hub != HubState.CONNECTED and not broker.health.guarding
    await wait_until(lambda: broker.health.user_hub == HubState.CONNECTED, timeout=10, what="hubs up")
    await wait_until(lambda: len(rec.resyncs(1001)) == 2, timeout=5, what="Resync after connecting")
    sim.close_position(1001, "MNQ")
    await wait_until(lambda: rec.of(PositionUpdated, position__size=0))


async def test_a_silent_user_hub_is_found_by_reconciling(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ"], reconcile_interval=0.5, reconcile_confirm=0.3)
    sim.set_hub_silent("user")
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: len(rec.resyncs(1001)) == 2, timeout=8, what="Resync after reconcile")
    assert [p.size for p in rec.resyncs(1001)[-1].positions] == [1]
    assert broker.health.reconnects >= 1
    n = len(rec.resyncs(1001))
    await asyncio.sleep(1.5)  # the baseline now matches: no churn although the hub stays silent
    assert len(rec.resyncs(1001)) == n
    sim.set_hub_silent("user", False)
    sim.close_position(1001, "MNQ")
    await wait_until(lambda: rec.of(PositionUpdated, position__size=0))


async def test_a_silent_market_hub_is_rebuilt_with_backoff(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ"], market_silence=0.6)
    sim.resume_walk()
    await wait_until(lambda: len(rec.of(QuoteUpdated)) >= 2)
    sim.set_hub_silent("market")
    await wait_until(lambda: broker.health.reconnects >= 1, timeout=5, what="market hub rebuilt")
    # Still silent: the next rebuild waits twice as long, then four times ...
    await asyncio.sleep(2.0)
    assert broker.health.reconnects <= 3
    sim.set_hub_silent("market", False)
    n = len(rec.of(QuoteUpdated))
    await wait_until(lambda: len(rec.of(QuoteUpdated)) > n + 3, timeout=8, what="quotes again")


async def test_a_quiet_market_causes_no_churn(sim: Simulator, make_broker: MakeBroker) -> None:
    # The walk is paused and no idle quotes are sent: nothing arrives on the market hub. With the
    # SDK's own 30 s stale-feed reconnect neutralised and market_silence off, nothing reconnects.
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    await asyncio.sleep(1.5)
    assert broker.health.reconnects == 0 and len(rec.resyncs(1001)) == 1
    assert len(sim.hub_events(kind="negotiate")) == 2


async def test_the_session_token_is_refreshed_before_it_expires(sim: Simulator, make_broker: MakeBroker) -> None:
    sim.set_token_lifetime(4.0)
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    await wait_until(lambda: sim.requests("Auth/validate"), timeout=6, what="a token refresh")
    await wait_until(lambda: len(rec.resyncs(1001)) >= 2, timeout=6, what="Resync after the hubs moved")
    await wait_until(lambda: broker.health.user_hub == HubState.CONNECTED, timeout=5)
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: rec.of(TradeFilled), what="events with the new token")
    assert (await broker.open_positions(1001))[0].size == 1


@pytest.mark.parametrize("read_first", [True, False])
async def test_revoked_tokens_are_replaced(sim: Simulator, make_broker: MakeBroker, read_first: bool) -> None:
    broker, rec = await started(make_broker, [1001], ["MNQ"])
    sim.expire_tokens()
    if read_first:
        assert await broker.open_positions(1001) == []  # REST 401 -> logs in again, reads once more
    logins = len(sim.requests("Auth/loginKey"))
    sim.drop_hub_connections()  # the hubs' reconnect with the old token is refused (401)
    await wait_until(lambda: len(rec.resyncs(1001)) >= 2, timeout=10, what="Resync after reconnect")
    await wait_until(lambda: broker.health.user_hub == HubState.CONNECTED, timeout=5)
    assert len(sim.requests("Auth/loginKey")) >= logins + (0 if read_first else 1)
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: rec.of(TradeFilled))


# ----------------------------------------------------------------------------- lifecycle


async def test_stop_leaves_nothing_running(
    sim: Simulator, make_broker: MakeBroker, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG):
        broker, rec = await started(make_broker, [1001, 1002], ["MNQ", "ES"])
        sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
        await wait_until(lambda: rec.of(TradeFilled))
        sim.drop_hub_connections()
        await wait_until(lambda: len(rec.resyncs(1001)) >= 2, timeout=10)
        await broker.stop()
        await broker.stop()  # twice is fine
        await asyncio.sleep(0.2)
        gc.collect()
        await asyncio.sleep(0)
    ours = [t for t in asyncio.all_tasks() if t.get_name().startswith(("deskguard-broker", "hub:", "http:"))]
    assert ours == []
    assert rec.healths[-1].user_hub == HubState.DISCONNECTED
    assert await _wait_for_no_hub_connections(sim)
    messages = [r.getMessage() for r in caplog.records]
    assert not any("Task was destroyed" in m or "never retrieved" in m for m in messages)
    assert all(API_KEY not in m for m in messages)
    out = capsys.readouterr()
    assert API_KEY not in out.out + out.err
    assert '"logger": "project_x_py' not in out.out  # the SDK's JSON lines are gone from stdout


async def _wait_for_no_hub_connections(sim: Simulator) -> bool:
    deadline = time.monotonic() + 3
    while sim.hub_connection_count() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return sim.hub_connection_count() == 0


async def test_start_rejects_accounts_that_are_not_active(make_broker: MakeBroker) -> None:
    broker = make_broker()
    await broker.connect()
    with pytest.raises(BrokerError, match="not among the active accounts"):
        await broker.start([999], ["MNQ"], Recorder().listener())


async def test_a_listener_that_raises_does_not_break_the_feed(sim: Simulator, make_broker: MakeBroker) -> None:
    seen: list[object] = []

    def bad(event: object) -> None:
        seen.append(event)
        raise RuntimeError("listener bug")

    from deskguard.broker.base import BrokerListener

    broker = make_broker()
    await broker.connect()
    await broker.start([1001], ["MNQ"], BrokerListener(on_event=bad))
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    sim.place_order(1001, "MNQ", OrderSide.BUY, 1)
    await wait_until(lambda: len([e for e in seen if isinstance(e, TradeFilled)]) == 2)
    assert isinstance(next(e for e in seen if not isinstance(e, QuoteUpdated)), Resync)


async def test_account_updates_are_reported(sim: Simulator, make_broker: MakeBroker) -> None:
    broker, rec = await started(make_broker, [1001], [])
    sim.set_account(1001, can_trade=False)
    await wait_until(lambda: rec.of(AccountUpdated))
    assert rec.of(AccountUpdated)[-1].account.can_trade is False
    sim.set_account(1002, can_trade=False)  # not guarded
    await asyncio.sleep(0.3)
    assert all(e.account.id == 1001 for e in rec.of(AccountUpdated))
