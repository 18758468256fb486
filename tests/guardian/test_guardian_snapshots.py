"""What observers (the window, the headless log) are told: open P&L follows the market even when a
quote decides nothing — the window must not show a frozen figure between trades."""

from __future__ import annotations

import pytest
from guardian_harness import ACCOUNT, MNQ_PRICE, ok, settings_with, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_a_quote_that_decides_nothing_still_updates_the_published_open_pnl(sim, make_guardian):
    rig = await make_guardian(settings_with())
    sim.set_price("MNQ", MNQ_PRICE)
    ok(sim.place_order(ACCOUNT, "MNQ", "buy", 1))
    await wait_for(lambda: any(s.positions for s in rig.watcher.snapshots if s.account_id == ACCOUNT), 5,
                   "a snapshot with the position")
    published = len(rig.watcher.snapshots)

    sim.set_price("MNQ", MNQ_PRICE + 10)  # +$20 open: far from every limit, no decision

    def shows_the_new_price() -> bool:
        fresh = [s for s in rig.watcher.snapshots[published:] if s.account_id == ACCOUNT and s.positions]
        return any(abs(s.open_pnl - 20.0) < 0.01 for s in fresh)

    await wait_for(shows_the_new_price, 3, "a published snapshot with the new open P&L")
