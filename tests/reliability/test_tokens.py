"""Session tokens that run out during a long session, or are revoked under the guard: it keeps
refreshing, keeps its hubs, and keeps enforcing. (Refresh and revocation at the broker level are in
tests/broker; these run the whole guard across several token lifetimes.)"""

from __future__ import annotations

import asyncio
import time

import pytest
from guardian_harness import ACCOUNT, MNQ_PRICE, in_step, ok, settings_with, sim_flat, wait_for

from deskguard.engine.state import AccountStatus

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TOKEN_LIFETIME_S = 3.0
RULES = settings_with(daily_realized_loss={"max_loss": 100.0}, cooldown_after_loss={"enabled": False},
                      daily_unrealized_loss={"enabled": False}, trade_frequency={"enabled": False})


def token_grants(sim) -> int:
    """Tokens the gateway handed out: logins and validations that answered."""
    return sum(1 for r in sim.requests("Auth/loginKey") + sim.requests("Auth/validate") if r.status == 200)


async def test_tokens_expiring_every_few_seconds_never_stop_the_guard(sim, make_guardian):
    sim.set_token_lifetime(TOKEN_LIFETIME_S)
    rig = await make_guardian(RULES)
    grants_at_start = token_grants(sim)
    began = time.monotonic()
    not_guarding = 0.0

    # Three token lifetimes of trading: round trips every second, each counted.
    while time.monotonic() - began < 3 * TOKEN_LIFETIME_S:
        ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
        await asyncio.sleep(0.5)
        ok(sim.close_position(ACCOUNT, "MNQ"))
        for _ in range(5):
            await asyncio.sleep(0.1)
            if rig.snap().status == AccountStatus.NOT_GUARDING:
                not_guarding += 0.1
    assert token_grants(sim) - grants_at_start >= 2  # refreshed again and again
    assert rig.broker.health.reconnects >= 2  # the hubs moved to each new token
    assert not_guarding < 0.25 * (time.monotonic() - began)  # brief moves, not an outage
    await in_step(rig, timeout=5)

    # And after all that, a breach is enforced as on the first minute.
    await wait_for(lambda: rig.guardian.health.guarding, 5, "guarding")
    ok(sim.place_order(ACCOUNT, "MES", "buy", 1))
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: len(rig.snap().positions) == 2, 5, "guardian sees both positions")
    sim.set_price("MNQ", MNQ_PRICE - 60)
    ok(sim.close_position(ACCOUNT, "MNQ"))
    sim.set_price("MNQ", MNQ_PRICE)
    await wait_for(lambda: sim_flat(sim), 8, "flattened with a fresh token")
    await wait_for(lambda: "daily_realized_loss" in rig.stored_locks(), 3, "locked")
    # The gateway is flat and the lock stored before the flatten's own fill (MES at an unchanged
    # price: profitAndLoss 0, fees $0.37) has come back over the hub: wait for it, don't race it.
    await in_step(rig, timeout=5)


async def test_a_fill_the_user_hub_never_pushed_is_counted_after_the_next_token_move(sim, make_guardian):
    """A token move is a reconnect: its re-read of the week's trades repairs a missed hub event."""
    sim.set_token_lifetime(TOKEN_LIFETIME_S)
    rig = await make_guardian(RULES)
    await in_step(rig)
    sim.set_hub_silent("user")  # the connection stays up and answers pings, but pushes nothing
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))  # an opening fill: profitAndLoss null, fees $0.37
    # The hub stays silent, no reconcile runs (interval 0): only a token move's re-read brings it.
    await in_step(rig, timeout=3 * TOKEN_LIFETIME_S)
    assert rig.snap().realized_day == pytest.approx(-0.37)


async def test_a_token_revoked_under_the_guard_does_not_stop_an_enforcement(sim, make_guardian):
    rig = await make_guardian(RULES)
    ok(sim.place_order(ACCOUNT, "MES", "buy", 1))
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: len(rig.snap().positions) == 2, 3, "guardian sees both positions")
    logins = len(sim.requests("Auth/loginKey"))

    sim.expire_tokens()  # every token issued so far is refused from now on (REST 401)
    sim.set_price("MNQ", MNQ_PRICE - 60)
    ok(sim.close_position(ACCOUNT, "MNQ"))  # the hub still pushes: −$120.74, over the limit
    sim.set_price("MNQ", MNQ_PRICE)

    await wait_for(lambda: sim_flat(sim), 8, "flat: signed in again and closed")
    assert len(sim.requests("Auth/loginKey")) > logins
    statuses = [r.status for r in sim.requests("Position/closeContract")]
    assert statuses[0] == 401 and statuses[-1] == 200, statuses
    await wait_for(lambda: "daily_realized_loss" in rig.stored_locks(), 3, "locked")
