"""An account's status is decided in one place and every change is one event and one audit row:
a breach (OK → ENFORCING → LOCKED → OK at the lock's end), a warning (OK → WARNING), a hub drop
(→ NOT GUARDING → back). Judged on the real guardian over the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from guardian_harness import ACCOUNT, MNQ_PRICE, ok, settings_with, stays, wait_for

from deskguard.engine.rules.cooldown_after_loss import Tier
from deskguard.engine.state import AccountStatus
from deskguard.guardian.snapshot import StatusChanged

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

OK, WARNING, ENFORCING, LOCKED, NOT_GUARDING = (
    AccountStatus.OK, AccountStatus.WARNING, AccountStatus.ENFORCING, AccountStatus.LOCKED, AccountStatus.NOT_GUARDING)


@dataclass
class StatusWatcher:
    """An observer with the optional on_status_changed: every status event, in order."""

    events: list[StatusChanged] = field(default_factory=list)
    snapshot_statuses: list[AccountStatus] = field(default_factory=list)

    def on_status_changed(self, event: StatusChanged) -> None:
        self.events.append(event)

    def on_snapshot(self, snapshot) -> None:
        if snapshot.account_id == ACCOUNT:
            self.snapshot_statuses.append(snapshot.status)

    def on_notice(self, notice) -> None:
        pass

    def on_health(self, health) -> None:
        pass

    def path(self, account_id: int = ACCOUNT) -> list[tuple[AccountStatus, AccountStatus]]:
        return [(e.old, e.new) for e in self.events if e.account_id == account_id]


def status_rows(rig, account_id: int = ACCOUNT) -> list[str]:
    return [r.detail for r in rig.store.audit_entries(account_id=account_id) if r.event == "status"]


async def watched(make_guardian, settings) -> tuple[object, StatusWatcher]:
    """A guardian guarding ACCOUNT alone, whose status events are recorded from OK on."""
    rig = await make_guardian(settings, accounts=[ACCOUNT])
    watcher = StatusWatcher()
    rig.guardian.add_observer(watcher)
    await wait_for(lambda: rig.snap().status == OK, 3, "the account OK")
    watcher.events.clear()
    await wait_for(lambda: len(status_rows(rig)) == 1, 3, "the start's NOT GUARDING → OK row")
    assert "NOT GUARDING → OK" in status_rows(rig)[0]
    return rig, watcher


async def lose(rig, points: float) -> None:
    """The trader buys 1 MNQ, the market falls ``points``, the trader closes (−$2 a point, plus fees)."""
    sim = rig.sim
    sim.set_price("MNQ", MNQ_PRICE)
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: rig.snap().positions, 3, "guardian sees the position")
    sim.set_price("MNQ", MNQ_PRICE - points)
    ok(sim.close_position(ACCOUNT, "MNQ"))
    sim.set_price("MNQ", MNQ_PRICE)


async def test_a_breach_goes_ok_enforcing_locked_and_ok_again_when_the_lock_ends(sim, make_guardian):
    rig, watcher = await watched(make_guardian, settings_with(
        cooldown_after_loss={"tiers": (Tier(50.0, timedelta(seconds=3)),)}))
    await lose(rig, 30.0)  # a $60 loss: 3 seconds of cooldown, flatten and lock

    await wait_for(lambda: watcher.path()[-1:] == [(ENFORCING, LOCKED)], 5, "LOCKED announced")
    assert watcher.path() == [(OK, ENFORCING), (ENFORCING, LOCKED)]
    locked = watcher.events[-1]
    assert locked.rule == "cooldown_after_loss" and locked.lock is not None and locked.lock.rule == "cooldown_after_loss"
    assert "007 Cooldown after a loss" in locked.why and "losing trade" in locked.why
    assert "cooldown_after_loss" in {lock.rule for lock in rig.store.active_locks(ACCOUNT)}  # stored before announced
    assert rig.snap().status == LOCKED

    await wait_for(lambda: watcher.path()[-1:] == [(LOCKED, OK)], 6, "OK again at the lock's end")
    assert watcher.path() == [(OK, ENFORCING), (ENFORCING, LOCKED), (LOCKED, OK)]
    await wait_for(lambda: len(status_rows(rig)) == 4, 3, "one audit row per change")
    rows = status_rows(rig)[1:]
    assert [r.split(" — ")[0].split(": ", 1)[1] for r in rows] == ["OK → ENFORCING", "ENFORCING → LOCKED", "LOCKED → OK"]
    assert "LOCKED → OK — trading allowed" in rows[2]
    await stays(lambda: len(watcher.events) == 3 and len(status_rows(rig)) == 4, 0.5, "no further change")
    # Every snapshot shows a status that was announced, in the announced order.
    seen = [s for i, s in enumerate(watcher.snapshot_statuses) if i == 0 or watcher.snapshot_statuses[i - 1] != s]
    assert set(seen) <= {OK, ENFORCING, LOCKED} and seen[-1] == OK


async def test_a_warning_is_one_change_to_warning(sim, make_guardian):
    rig, watcher = await watched(make_guardian, settings_with(
        daily_realized_loss={"max_loss": 100.0}, cooldown_after_loss={"enabled": False}))
    await lose(rig, 45.0)  # about −$90: past 80% of the daily loss limit, not past it

    await wait_for(lambda: watcher.path() == [(OK, WARNING)], 5, "WARNING announced")
    event = watcher.events[0]
    assert event.rule == "daily_realized_loss" and "003 Daily loss limit" in event.why
    await wait_for(lambda: len(status_rows(rig)) == 2, 3, "its audit row")
    assert "OK → WARNING — past the warning level of 003 Daily loss limit" in status_rows(rig)[1]
    await stays(lambda: watcher.path() == [(OK, WARNING)] and len(status_rows(rig)) == 2, 1.0, "nothing else")
    assert rig.snap().status == WARNING


async def test_a_hub_drop_is_one_change_to_not_guarding_and_one_back(sim, make_guardian):
    rig, watcher = await watched(make_guardian, settings_with())
    sim.drop_hub_connections(refuse_s=1.0)

    await wait_for(lambda: watcher.path()[:1] == [(OK, NOT_GUARDING)], 5, "NOT GUARDING announced")
    assert "rules not enforced" in watcher.events[0].why
    await wait_for(lambda: watcher.path()[-1:] == [(NOT_GUARDING, OK)], 15, "back to OK after the re-sync")
    assert watcher.path() == [(OK, NOT_GUARDING), (NOT_GUARDING, OK)]
    await wait_for(lambda: len(status_rows(rig)) == 3, 3, "one audit row per change")
    assert "OK → NOT GUARDING" in status_rows(rig)[1] and "NOT GUARDING → OK" in status_rows(rig)[2]
    await stays(lambda: len(watcher.events) == 2 and len(status_rows(rig)) == 3, 1.0, "no further change")
