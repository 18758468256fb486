"""Demo mode: practice-ticket trades that break the daily loss limit end flat and locked.

On the real stack (the ``demo`` fixture: runtime, guardian, the unmodified SDK, the built-in
simulator on 127.0.0.1, the main window offscreen): the ticket's clicks trade at the simulator,
the open-loss stop (004) closes each losing position there, the day's loss passes the warning and
then the limit (003), which flattens and locks until the reset. The demo's rules, with the
cooldown after a loss (007) off: its five-minute cooldown after the first loser would lock the
account before the daily limit could be reached.
"""

from __future__ import annotations

import pytest

from deskguard.engine.state import AccountStatus
from deskguard.ui.display import RED

pytestmark = [pytest.mark.ui, pytest.mark.integration]


@pytest.fixture
def practice_rules(tmp_path):
    """The demo's config.toml, written before the ``demo`` fixture starts (it keeps an existing one)."""
    from deskguard.config import demo_config, save_config

    save_config(demo_config().with_rule("cooldown_after_loss", enabled=False), tmp_path / "demo" / "config.toml")


def test_losing_practice_trades_warn_then_flatten_and_show_the_red_lock(practice_rules, demo, qtbot, vm):
    win, sim, account = demo
    ticket = win.ticket

    def at_gateway() -> list[dict]:
        return [p for p in sim.state()["positions"] if p["accountId"] == account and p["size"] > 0]

    assert win.demo_badge.isVisible()
    ticket.symbol.setCurrentText("MNQ")
    ticket.quantity.setValue(3)
    qtbot.waitUntil(ticket.buy.isEnabled, timeout=5_000)
    ticket.buy.click()
    qtbot.waitUntil(lambda: win.positions.rowCount() == 1, timeout=10_000)
    assert win.positions.row_texts()[0][:3] == ["MNQ", "Long", "3"]
    assert [(p["type"], p["size"]) for p in at_gateway()] == [(1, 3)]  # long 3 at the simulator

    sim.set_price("MNQ", 21000.0 - 70.0)  # 3 × 70 points × $2 = −$420 open: the $300 open-loss stop
    qtbot.waitUntil(lambda: not at_gateway() and win.positions.rowCount() == 0, timeout=10_000)
    # Closed at about −$420: past the warning (80 % of $500), not yet the limit.
    qtbot.waitUntil(lambda: win.summary.state.text().strip() == "WARNING", timeout=10_000)
    assert vm.latest(account).realized_day <= -420
    assert not win.lock_banner.isVisible()

    qtbot.waitUntil(lambda: ticket.sell.isEnabled(), timeout=5_000)
    ticket.sell.click()
    qtbot.waitUntil(lambda: win.positions.rowCount() == 1, timeout=10_000)
    sim.set_price("MNQ", 21000.0 - 70.0 + 60.0)  # short 3, up 60 points: −$360 open, closed; the day past −$500
    qtbot.waitUntil(win.lock_banner.isVisible, timeout=10_000)
    qtbot.waitUntil(lambda: not at_gateway() and win.positions.rowCount() == 0, timeout=10_000)
    assert win.lock_banner.colour == RED
    assert win.lock_banner.headline.text() == "LOCKED UNTIL THE RESET"
    assert win.summary.state.text().strip() == "LOCKED"
    snap = vm.latest(account)
    assert snap.status == AccountStatus.LOCKED
    assert any(lock.rule == "daily_realized_loss" for lock in snap.locks)
    assert snap.realized_day <= -500
    assert win.rules.row_of("daily_realized_loss")["state"] == "LOCKED"

    # A new order while locked is closed on sight at the gateway (the ticket trades as the web screen would).
    trades_before = len([t for t in sim.state()["trades"] if t["accountId"] == account])
    qtbot.waitUntil(lambda: ticket.buy.isEnabled(), timeout=5_000)
    ticket.buy.click()
    qtbot.waitUntil(lambda: len([t for t in sim.state()["trades"] if t["accountId"] == account]) >= trades_before + 2
                    and not at_gateway(), timeout=10_000)
    assert win.lock_banner.isVisible() and win.positions.rowCount() == 0
