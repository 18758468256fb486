"""The practice ticket's market controls, on the real stack: the guided first step ("buy 3 MNQ, then
press Drop 100 pts") moves the simulator's price and the real guardian flattens and locks; "move to
an open loss of $X" sets the price from the position's average price, size and tick value.

Real guardian, real project-x-py SDK, the built-in simulator on 127.0.0.1, the real main window
(offscreen); the market controls talk to the simulator's control API over HTTP, in a thread."""

from __future__ import annotations

import pytest

from deskguard.ui.practice_market import OpenPosition, loss_of_move, price_for_open_loss

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def _buy_3_mnq(win, sim, account, qtbot) -> dict:
    ticket = win.ticket
    ticket.symbol.setCurrentText("MNQ")
    assert ticket.quantity.value() == 3  # the guided first step needs no typing
    qtbot.waitUntil(ticket.buy.isEnabled, timeout=5_000)
    ticket.buy.click()
    qtbot.waitUntil(lambda: win.positions.rowCount() == 1, timeout=10_000)
    return next(p for p in sim.state()["positions"] if p["accountId"] == account)


def _flat_and_locked(win, sim, account) -> bool:
    at_gateway = [p for p in sim.state()["positions"] if p["accountId"] == account]
    return not at_gateway and win.positions.rowCount() == 0 and win.lock_banner.isVisible()


def test_the_guided_first_step_drop_100_points_flattens_and_locks(demo, qtbot):
    win, sim, account = demo
    ticket = win.ticket
    assert "buy 3 MNQ, then press Drop 100 pts" in ticket.guide.text()
    assert ticket.drop.text() == "Drop 100 pts"
    _buy_3_mnq(win, sim, account, qtbot)
    assert not win.lock_banner.isVisible()

    qtbot.waitUntil(ticket.drop.isEnabled, timeout=5_000)
    ticket.drop.click()  # 3 MNQ × 100 points × $2 = $600 lost, past the $500 daily limit
    qtbot.waitUntil(lambda: _flat_and_locked(win, sim, account), timeout=10_000)
    assert sim.price("MNQ") == 20900.0
    assert "MNQ now 20,900.00" in ticket.message.text()
    assert "RESET" in win.lock_banner.headline.text().upper()
    snap = win.vm.latest(account)
    assert any(lock.rule == "daily_realized_loss" for lock in snap.locks)
    assert snap.realized_day <= -500
    assert win.rules.row_of("daily_realized_loss")["state"] == "LOCKED"


def test_move_to_an_open_loss_sets_the_price_from_the_position(demo, qtbot):
    win, sim, account = demo
    ticket = win.ticket
    held = _buy_3_mnq(win, sim, account, qtbot)
    ticket.loss.setValue(550)
    contract = sim.contract("MNQ")
    pos = OpenPosition(held["contractId"], held["type"] == 1, held["size"], held["averagePrice"],
                       contract.tick_size, contract.tick_value)
    expected = price_for_open_loss(pos, 550.0)

    qtbot.waitUntil(ticket.to_loss.isEnabled, timeout=5_000)
    ticket.to_loss.click()
    qtbot.waitUntil(lambda: _flat_and_locked(win, sim, account), timeout=10_000)
    assert sim.price("MNQ") == expected
    assert win.vm.latest(account).realized_day <= -550


def test_raise_moves_the_price_up_without_a_position(demo, qtbot):
    win, sim, _account = demo
    ticket = win.ticket
    ticket.points.setValue(12)
    assert ticket.raise_.text() == "Raise 12 pts"
    qtbot.waitUntil(ticket.raise_.isEnabled, timeout=5_000)
    ticket.raise_.click()
    qtbot.waitUntil(lambda: sim.price("MNQ") == 21012.0, timeout=5_000)
    # The price moves before the ticket's call returns; its buttons come back once it has.
    qtbot.waitUntil(ticket.to_loss.isEnabled, timeout=5_000)
    ticket.loss.setValue(100)
    ticket.to_loss.click()  # no position: the ticket says so, nothing moves
    qtbot.waitUntil(lambda: "failed" in ticket.message.text(), timeout=5_000)
    assert "no open MNQ position" in ticket.message.text()
    assert sim.price("MNQ") == 21012.0


def test_the_price_for_a_loss_is_on_the_tick_grid_and_never_short_of_the_loss():
    mnq_long = OpenPosition("CON.F.US.MNQ.H26", True, 3, 21000.0, 0.25, 0.50)
    assert mnq_long.point_value == 2.0
    assert price_for_open_loss(mnq_long, 600.0) == 20900.0
    assert price_for_open_loss(mnq_long, 550.0) == 20908.25  # 91.67 points → 91.75 (367 ticks)
    assert -loss_of_move(mnq_long, 20908.25 - 21000.0) >= 550.0
    mnq_short = OpenPosition("CON.F.US.MNQ.H26", False, 3, 21000.0, 0.25, 0.50)
    assert price_for_open_loss(mnq_short, 550.0) == 21091.75
    es = OpenPosition("CON.F.US.EP.H26", True, 1, 5000.0, 0.25, 12.50)
    assert price_for_open_loss(es, 500.0) == 4990.0
