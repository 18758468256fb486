"""The simulator's seeded past: Trade/search over past days and one-minute History/retrieveBars,
deterministic per seed, ending where the live week begins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sim_harness import login

from deskguard.simulator import Simulator
from deskguard.simulator.history import CT, trading_day_of


def _all(sim: Simulator) -> list[dict]:
    return sim.history.trades([1001, 1002], datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC))


def test_the_past_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    a, b, c = Simulator(seed=5, history_days=4), Simulator(seed=5, history_days=4), Simulator(seed=6, history_days=4)
    assert _all(a) == _all(b) and len(_all(a)) >= 4 * 2 * 8  # two accounts, at least 4 round trips a day
    assert _all(a) != _all(c)
    day = a.history.days()[0]
    mnq = a.contract("MNQ")
    start = datetime.combine(day, datetime.min.time(), CT)
    end = start + timedelta(hours=2)
    assert a.history.bars(mnq, start, end, 500) == b.history.bars(mnq, start, end, 500)
    # Any sub-range gives the same bars as the whole: bars do not depend on the request's shape.
    whole = a.history.bars(mnq, start, end, 500)
    part = a.history.bars(mnq, start + timedelta(minutes=30), start + timedelta(minutes=40), 500)
    assert part == [bar for bar in whole if part[-1]["t"] <= bar["t"] <= part[0]["t"]] and len(part) == 10


def test_past_trades_lie_on_weekdays_before_the_live_week_inside_their_bars() -> None:
    sim = Simulator(seed=5, history_days=6)
    cutoff = sim.history.cutoff()
    trades = _all(sim)
    days = set(sim.history.days())
    assert len(days) == 6 and all(d.weekday() < 5 for d in days)
    for t in trades:
        when = datetime.fromisoformat(t["creationTimestamp"])
        assert when < cutoff and trading_day_of(when) in days
        contract = sim.catalog.by_id(t["contractId"])
        assert contract is not None
        minute = when.replace(second=0, microsecond=0)
        [bar] = sim.history.bars(contract, minute, minute + timedelta(minutes=1), 5)
        assert bar["l"] <= t["price"] <= bar["h"]
    # Round trips: every opening fill is followed by its closing fill, P&L on the close only.
    assert [t["profitAndLoss"] is None for t in trades if t["accountId"] == 1001][:2] == [True, False]
    assert len({t["id"] for t in trades}) == len(trades)


@pytest.mark.asyncio
async def test_trade_search_and_retrieve_bars_serve_the_past_over_rest() -> None:
    sim = Simulator(seed=5, history_days=3, walk_paused=True, idle_quote_interval_s=None)
    await sim.start()
    try:
        async with aiohttp.ClientSession() as http:
            token = await login(http, sim.base_url)
            headers = {"Authorization": f"Bearer {token}"}
            day = sim.history.days()[-1]
            start = datetime.combine(day - timedelta(days=1), datetime.min.time(), CT).replace(hour=17)
            end = start + timedelta(days=1)
            async with http.post(f"{sim.api_url}/Trade/search", headers=headers, json={
                    "accountId": 1001, "startTimestamp": start.isoformat(), "endTimestamp": end.isoformat()}) as r:
                body = await r.json()
            assert body["success"] and body["trades"] == sim.history.trades([1001], start, end)
            assert body["trades"]
            mnq = sim.contract("MNQ")
            async with http.post(f"{sim.api_url}/History/retrieveBars", headers=headers, json={
                    "contractId": mnq.id, "live": False, "startTime": start.isoformat(), "endTime": end.isoformat(),
                    "unit": 2, "unitNumber": 1, "limit": 20000, "includePartialBar": False}) as r:
                bars = await r.json()
            assert bars["success"] and len(bars["bars"]) == 23 * 60
            assert bars["bars"] == sim.history.bars(mnq, start, end, 20000)
            # The live week has no seeded trades: the guard's week read sees only live trading.
            async with http.post(f"{sim.api_url}/Trade/search", headers=headers, json={
                    "accountId": 1001, "startTimestamp": sim.history.cutoff().isoformat()}) as r:
                assert (await r.json())["trades"] == []
    finally:
        await sim.stop()
