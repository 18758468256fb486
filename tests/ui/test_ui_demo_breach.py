"""The demo end to end: a practice-ticket trade that breaks the daily loss limit, on the real stack.

Real guardian, real project-x-py SDK, the built-in simulator on 127.0.0.1, the real main window
(offscreen). The user clicks Buy in the practice ticket; the market falls; the guard must flatten
the account at the simulator, empty the positions table and show the red lock banner.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def test_practice_trade_past_daily_loss_limit_flattens_and_locks(qtbot, vm, demo):
    win, sim, account = demo
    price = 21000.0

    win.ticket.symbol.setCurrentText("MNQ")
    win.ticket.quantity.setValue(3)
    qtbot.waitUntil(win.ticket.buy.isEnabled, timeout=5_000)
    win.ticket.buy.click()
    qtbot.waitUntil(lambda: win.positions.rowCount() == 1, timeout=10_000)
    assert not win.lock_banner.isVisible()

    sim.set_price("MNQ", price - 100.0)  # 3 MNQ × 100 points × $2 = −$600: past the $500 limit

    def flat_and_locked() -> bool:
        at_gateway = [p for p in sim.state()["positions"] if p["accountId"] == account]
        return not at_gateway and win.positions.rowCount() == 0 and win.lock_banner.isVisible()

    qtbot.waitUntil(flat_and_locked, timeout=10_000)
    assert "RESET" in win.lock_banner.headline.text().upper()
    snap = vm.latest(account)
    assert snap.lock is not None and snap.lock.rule in {"daily_realized_loss", "cooldown_after_loss"}
    assert any(lock.rule == "daily_realized_loss" for lock in snap.locks)
    assert snap.realized_day <= -500

    # While locked, a new position from the ticket is closed on sight.
    closes_before = len(sim.requests("Position/closeContract"))
    filled_before = len([t for t in sim.state()["trades"] if t["accountId"] == account])
    win.ticket.buy.click()
    qtbot.waitUntil(lambda: len([t for t in sim.state()["trades"] if t["accountId"] == account]) >= filled_before + 2
                    and len(sim.requests("Position/closeContract")) > closes_before
                    and not [p for p in sim.state()["positions"] if p["accountId"] == account], timeout=10_000)
