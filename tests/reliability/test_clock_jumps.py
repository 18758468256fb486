"""The PC asleep across the trading-day reset and across a lock's end: the wall clock jumps, the hub
connections are dead on wake. Within a second of waking the guardian's state is right — the day
rolled (realized P&L back to 0, until_reset locks ended), a cooldown that ran out is over, one that
did not is still there — and the re-sync after the reconnect does not bring yesterday back.

The guardian's clock is a FakeClock (Guardian(clock=…)); the simulator's clock follows it (its
trade and quote timestamps), as the gateway's own clock moved on while the PC slept. The heartbeat
runs on the event loop's monotonic clock, which a suspended PC does not advance: on wake it fires
within half a second and reads the wall clock — exactly what these jumps reproduce.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from guardian_harness import ACCOUNT, MNQ_PRICE, ok, settings_with, sim_size, stays, wait_for

import deskguard.simulator.book
import deskguard.simulator.market
import deskguard.simulator.rest
from deskguard.engine.clock import FakeClock
from deskguard.engine.decisions import LockKind
from deskguard.engine.rules.cooldown_after_loss import Tier
from deskguard.engine.state import AccountStatus
from deskguard.guardian import NoticeLevel

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

WAKE_WITHIN_S = 1.0
QUIET = {"daily_unrealized_loss": {"enabled": False}, "trade_frequency": {"enabled": False}}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """One wall clock for the guardian and the simulator, starting now."""
    fake = FakeClock(datetime.now(UTC))
    for module in (deskguard.simulator.book, deskguard.simulator.market, deskguard.simulator.rest):
        monkeypatch.setattr(module, "utc_now", fake.now)
    return fake


async def lose(rig, points: float = 30.0) -> None:
    """Buy 1 MNQ, the market falls ``points``, close: −$60.74 with 30 points."""
    sim = rig.sim
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: rig.snap().positions, 3, "guardian sees the position")
    sim.set_price("MNQ", MNQ_PRICE - points)
    ok(sim.close_position(ACCOUNT, "MNQ"))
    sim.set_price("MNQ", MNQ_PRICE)


async def sleep_until(rig, moment: datetime) -> float:
    """The PC sleeps until ``moment``: on wake the hub connections are dead and the clock jumped.
    Returns the monotonic time of the wake."""
    rig.sim.drop_hub_connections(abrupt=True, refuse_s=0.5)
    rig.clock.set(moment)
    return time.monotonic()


async def woken(rig, woke: float, condition, what: str) -> None:
    await wait_for(condition, WAKE_WITHIN_S, f"{what} within {WAKE_WITHIN_S}s of waking")
    assert time.monotonic() - woke < WAKE_WITHIN_S


async def new_position_is(rig, allowed: bool) -> None:
    sim = rig.sim
    await wait_for(lambda: rig.guardian.health.guarding and rig.snap().status != AccountStatus.NOT_GUARDING, 8,
                   "guarding again after the wake")
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    if allowed:
        await wait_for(lambda: rig.snap().positions, 3, "guardian sees the new position")
        await stays(lambda: sim_size(sim, "MNQ") == 1, 0.6, "the new position left alone")
        ok(sim.close_position(ACCOUNT, "MNQ"))
    else:
        await wait_for(lambda: sim_size(sim, "MNQ") == 0, 5, "the new position closed on sight")


async def test_asleep_across_the_reset(sim, make_guardian, clock):
    settings = settings_with(daily_realized_loss={"max_loss": 50.0}, cooldown_after_loss={"enabled": False}, **QUIET)
    rig = await make_guardian(settings, clock=clock)
    await lose(rig)
    lock = await wait_for(lambda: rig.locks().get("daily_realized_loss"), 5, "locked until the reset")
    assert lock.kind == LockKind.UNTIL_RESET and lock.until == settings.calendar.next_reset(clock.now())
    await wait_for(lambda: "daily_realized_loss" in rig.stored_locks(), 3, "the lock committed")
    assert rig.snap().realized_day == pytest.approx(-60.74)
    day_before = rig.snap().day_start

    woke = await sleep_until(rig, lock.until + timedelta(hours=7))  # slept through the evening's reset
    await woken(rig, woke, lambda: not rig.snap().locks and rig.snap().realized_day == 0.0, "the day rolled")
    snap = rig.snap()
    assert snap.day_start == lock.until and snap.day_start > day_before
    assert snap.next_reset == settings.calendar.next_reset(clock.now())
    await wait_for(lambda: not rig.stored_locks(), 1, "the stored lock ended")
    assert any(n.rule == "daily_realized_loss" for n in rig.watcher.of(NoticeLevel.LOCK_ENDED))

    # The re-sync after the reconnect reads the new day's trades only: yesterday stays yesterday.
    await new_position_is(rig, allowed=True)
    await wait_for(lambda: rig.snap().realized_day == pytest.approx(-0.74), 3, "today's first trade counted")
    assert rig.snap().status == AccountStatus.OK


async def test_asleep_across_a_cooldowns_end_and_not_quite(sim, make_guardian, clock):
    settings = settings_with(daily_realized_loss={"max_loss": 5000.0},
                             cooldown_after_loss={"tiers": (Tier(loss=10.0, cooldown=timedelta(minutes=30)),)},
                             **QUIET)
    rig = await make_guardian(settings, clock=clock)
    await lose(rig)
    lock = await wait_for(lambda: rig.locks().get("cooldown_after_loss"), 5, "in a cooldown")
    assert lock.kind == LockKind.COOLDOWN and lock.until == lock.since + timedelta(minutes=30)
    await wait_for(lambda: "cooldown_after_loss" in rig.stored_locks(), 3, "the lock committed")

    # Asleep for 10 minutes: the cooldown is not over, and still closes what is opened.
    woke = await sleep_until(rig, clock.now() + timedelta(minutes=10))
    await stays(lambda: "cooldown_after_loss" in rig.locks(), WAKE_WITHIN_S, "still in the cooldown")
    assert time.monotonic() - woke >= WAKE_WITHIN_S
    await new_position_is(rig, allowed=False)

    # Asleep past its end: over within a second of waking, and trading is allowed again.
    woke = await sleep_until(rig, lock.until + timedelta(seconds=1))
    await woken(rig, woke, lambda: "cooldown_after_loss" not in rig.locks(), "the cooldown over")
    await wait_for(lambda: not rig.stored_locks(), 1, "the stored lock ended")
    assert rig.snap().realized_day == pytest.approx(-60.74 - 0.74)  # same day: nothing reset
    await new_position_is(rig, allowed=True)
