"""The demo end to end: a practice-ticket trade that breaks the daily loss limit, on the real stack.

Real guardian, real project-x-py SDK, the built-in simulator on 127.0.0.1, the real main window
(offscreen). The user clicks Buy in the practice ticket; the market falls; the guard must flatten
the account at the simulator, empty the positions table and show the red lock banner.
"""

from __future__ import annotations

import asyncio

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def _wait_task(qtbot, task: asyncio.Future, timeout: int = 15_000):
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def test_practice_trade_past_daily_loss_limit_flattens_and_locks(qtbot, aio, vm, tmp_path, monkeypatch):
    from deskguard.runtime import prepare_runtime
    from deskguard.ui.main_window import MainWindow

    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path))
    runtime = _wait_task(qtbot, asyncio.ensure_future(prepare_runtime(demo=True, simulator_seed=5)))
    sim = runtime.simulator
    win = MainWindow(vm, demo=True)
    qtbot.addWidget(win)
    try:
        win.ticket.set_desk(runtime.practice)
        vm.attach(runtime.guardian)
        _wait_task(qtbot, asyncio.ensure_future(runtime.guardian.start()))
        win.show()
        qtbot.waitExposed(win)
        account = runtime.guardian.accounts[0]
        qtbot.waitUntil(lambda: win.current_account() == account and runtime.guardian.health.guarding, timeout=10_000)
        sim.pause_walk()
        price = sim.set_price("MNQ", 21000.0)

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
    finally:
        _wait_task(qtbot, asyncio.ensure_future(runtime.stop()))
        vm.detach()
        win.quitting = True
        win.close()
