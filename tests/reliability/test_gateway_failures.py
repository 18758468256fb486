"""``Order/cancel``, ``Position/closeContract`` and ``Trade/search`` failing in every way the gateway
can fail: HTTP 5xx, no answer (time-outs) and slow answers. Enforcement retries with a bounded
back-off, audits every try, reconciles an uncertain outcome by reading (never by blind repetition)
and raises the alert while the account is still not flat; a re-sync whose Trade/search fails keeps
the account shown as not guarded until it succeeds, and neither loses nor double counts a trade.

(``Position/closeContract`` failing 3× then working, and for good, are in tests/guardian.)
"""

from __future__ import annotations

import time

import pytest
from guardian_harness import (
    ACCOUNT,
    MES_PRICE,
    MNQ_PRICE,
    ok,
    settings_with,
    sim_flat,
    sim_order,
    sim_realized,
    sim_size,
    sim_trade_ids,
    stays,
    wait_for,
)

from deskguard.engine.state import AccountStatus
from deskguard.guardian import NoticeLevel
from deskguard.guardian.enforcer import CALL_BACKOFF

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

DAILY_LOSS_100 = {"daily_realized_loss": {"max_loss": 100.0}, "cooldown_after_loss": {"enabled": False},
                  "daily_unrealized_loss": {"enabled": False}}


async def hold(rig, symbol: str, side: str = "buy", size: int = 1) -> None:
    ok(rig.sim.place_order(ACCOUNT, symbol, side, size))
    await wait_for(lambda: any(p.symbol == symbol for p in rig.snap().positions), 3, f"guardian sees {symbol}")


async def working_order(rig, symbol: str = "MES") -> int:
    order = ok(rig.sim.place_order(ACCOUNT, symbol, "buy", 1, "limit", limit_price=MES_PRICE - 400)).order_id
    await wait_for(lambda: order in {o.id for o in rig.snap().orders}, 3, "guardian sees the working order")
    return order


def lose_120(sim) -> None:
    """The trader closes 1 MNQ 60 points down: −$120.74, over the daily limit of 100."""
    sim.set_price("MNQ", MNQ_PRICE - 60)
    ok(sim.close_position(ACCOUNT, "MNQ"))
    sim.set_price("MNQ", MNQ_PRICE)


def tries(rig, call: str) -> list:
    return [r for r in rig.store.audit_entries(account_id=ACCOUNT, contains=call) if r.broker_call == call]


# ----- Order/cancel -------------------------------------------------------------------------------

async def test_cancel_failing_three_times_is_retried_with_backoff_and_every_try_is_audited(sim, make_guardian):
    rig = await make_guardian(settings_with(**DAILY_LOSS_100))
    await hold(rig, "MNQ")
    order = await working_order(rig)
    sim.fail_next("Order/cancel", count=3, status=503)

    lose_120(sim)
    await wait_for(lambda: sim_order(sim, order)["status"] == 3, 6, "the order cancelled after the retries")
    await wait_for(lambda: sim_flat(sim), 3, "flat")
    calls = sim.requests("Order/cancel")
    assert [c.status for c in calls] == [503, 503, 503, 200]
    gaps = [b.mono - a.mono for a, b in zip(calls, calls[1:], strict=False)]
    assert all(gap >= wait - 0.01 for gap, wait in zip(gaps, CALL_BACKOFF, strict=False)), gaps  # backing off
    assert gaps == sorted(gaps)

    rows = await wait_for(lambda: (r := tries(rig, "Order/cancel")) and len(r) == 4 and r, 3, "every try audited")
    assert [r.result for r in rows] == ["failed", "failed", "failed", "ok"]
    assert [f"(try {n})" in r.detail for n, r in enumerate(rows, 1)] == [True] * 4
    assert "outcome unknown" in rows[0].detail and rows[0].rule == "daily_realized_loss"
    await wait_for(lambda: rig.snap().status == AccountStatus.LOCKED, 3, "locked")
    assert rig.snap().not_flat_alert is None and not rig.watcher.of(NoticeLevel.ALERT, ACCOUNT)


async def test_cancel_failing_for_good_raises_the_alert_and_keeps_trying_until_flat(sim, make_guardian):
    rig = await make_guardian(settings_with(**DAILY_LOSS_100), backoff=(0.05, 0.1), rounds=2)
    await hold(rig, "MNQ")
    order = await working_order(rig)
    sim.fail_next("Order/cancel", count=100_000, status=500)

    lose_120(sim)
    alert = await wait_for(lambda: rig.watcher.of(NoticeLevel.ALERT, ACCOUNT), 8, "an ALERT notice")
    assert "ENFORCEMENT FAILED" in alert[0].text and "working order" in alert[0].text, alert[0].text
    snap = await wait_for(lambda: (s := rig.snap()).not_flat_alert and s, 3, "the not-flat alert on the snapshot")
    assert snap.status == AccountStatus.LOCKED and "working order" in snap.not_flat_alert
    assert sim_order(sim, order)["status"] == 1  # really still working
    bounded = len(sim.requests("Order/cancel"))
    assert bounded >= 3  # each round's call: 1 try + len(backoff) retries

    sim.clear_faults()  # the gateway recovers: the guardian is still at it
    await wait_for(lambda: sim_order(sim, order)["status"] == 3, 8, "cancelled once cancels work again")
    await wait_for(lambda: rig.snap().not_flat_alert is None, 3, "the alert clears when flat")
    assert rig.store.audit_entries(account_id=ACCOUNT, contains="ENFORCEMENT FAILED")


# ----- slow answers and no answers ----------------------------------------------------------------

@pytest.mark.parametrize(("delay", "expected_tries"), [(0.3, 1), (1.5, 2)], ids=["slow", "no-answer"])
async def test_a_slow_or_silent_gateway_is_bounded_and_reconciled_by_reading(sim, make_guardian, delay, expected_tries):
    rig = await make_guardian(settings_with(**DAILY_LOSS_100), request_timeout=0.6)
    await hold(rig, "MES")
    await hold(rig, "MNQ")
    order = await working_order(rig)
    sim.delay_next("Position/closeContract", count=1, seconds=delay)
    sim.delay_next("Order/cancel", count=1, seconds=delay)

    began = time.monotonic()
    lose_120(sim)
    await wait_for(lambda: sim_flat(sim), 5, "flat")
    took = time.monotonic() - began
    assert took < 2.5  # never waits for the replies that do not come (1.5 s each, cancel then close)
    assert sim_order(sim, order)["status"] == 3

    rows = await wait_for(lambda: (r := tries(rig, "Position/closeContract")) and r[-1].result == "ok" and r, 3,
                          "the close audited")
    assert len(rows) == expected_tries
    if expected_tries == 2:
        assert rows[0].result == "failed" and "no answer within 0.6s" in rows[0].detail
        assert "outcome unknown" in rows[0].detail
    await stays(lambda: sim_size(sim, "MES") == 0, max(0.2, delay - (time.monotonic() - began) + 0.3),
                "the late first close changes nothing")
    mes_closes = [t for t in sim.state()["trades"] if "MES" in t["contractId"] and t["profitAndLoss"] is not None]
    assert len(mes_closes) == 1  # closed exactly once
    await wait_for(lambda: rig.snap().realized_day == pytest.approx(sim_realized(sim)), 3, "in step")


# ----- Trade/search failing during the re-sync ---------------------------------------------------

@pytest.mark.parametrize("fault", ["5xx", "no-answer"])
async def test_trade_search_failing_during_the_resync_loses_and_doubles_nothing(sim, make_guardian, fault):
    rig = await make_guardian(settings_with(**DAILY_LOSS_100), request_timeout=0.8)
    await hold(rig, "MES")
    await hold(rig, "MNQ")
    if fault == "5xx":
        sim.fail_next("Trade/search", count=3, status=502)
    else:
        sim.delay_next("Trade/search", count=2, seconds=1.2)

    sim.drop_hub_connections(refuse_s=1.0)
    await wait_for(lambda: not rig.guardian.health.guarding, 3, "not guarding")
    lose_120(sim)  # during the outage: only the re-sync can tell
    await wait_for(lambda: rig.guardian.health.guarding, 8, "hubs back")

    # Hubs up, but the day's trades not read yet: the account is shown as not guarded meanwhile.
    assert rig.snap().status == AccountStatus.NOT_GUARDING
    # A trade while the re-sync keeps failing arrives on the hub (and again in the re-sync).
    sim.set_price("MES", MES_PRICE + 2)
    ok(sim.close_position(ACCOUNT, "MES"))  # +$9.26

    await wait_for(lambda: "daily_realized_loss" in rig.locks(), 10, "locked once the re-sync succeeds")
    await wait_for(lambda: sim_flat(sim), 3, "flat")
    failed = [r for r in sim.requests("Trade/search") if r.status != 200 or r.fault]
    assert len(failed) >= 2  # it did fail, and was tried again until it worked
    await wait_for(lambda: rig.snap().realized_day == pytest.approx(sim_realized(sim)), 3, "realized in step")
    await stays(lambda: rig.snap().realized_day == pytest.approx(sim_realized(sim)), 1.0, "not counted twice")
    assert rig.snap().realized_day == pytest.approx(-120.74 + 9.26, abs=0.01)
    assert set(rig.guardian.engine.state(ACCOUNT).trades_today) == sim_trade_ids(sim)
    assert rig.snap().status == AccountStatus.LOCKED


async def test_a_position_opened_while_a_flatten_finishes_is_still_closed(sim, make_guardian):
    """A flatten absorbs the close decisions that arrive while it runs. One that arrives after its
    last read of positions (here: while the read of working orders is slow) must not be lost."""
    rig = await make_guardian(settings_with(**DAILY_LOSS_100))
    await hold(rig, "MES")
    await hold(rig, "MNQ")
    reads = len(sim.requests("Order/searchOpen"))
    sim.delay_next("Order/searchOpen", count=1, seconds=1.0)

    lose_120(sim)  # flatten: close MES, read positions (flat), read orders (slow) ...
    await wait_for(lambda: len(sim.requests("Order/searchOpen")) > reads, 3, "the flatten's last read under way")
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # ... and the trader buys again meanwhile
    await wait_for(lambda: sim_size(sim, "MNQ") == 1, 1, "the new position open")
    await wait_for(lambda: sim_flat(sim), 5, "the new position closed too")
    assert rig.snap().status == AccountStatus.LOCKED
