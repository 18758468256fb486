"""Distance to breach above the chart, per account: the figures a firm profile's rules give, amber at
the warning level and red at the limit; the tray tooltip's nearest limit; the MLL floor on the chart
for an account whose profile alone switches 014 on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ui_stubs import ACCOUNT, StubGuardian, make_snapshot

from deskguard.config import loads_config
from deskguard.engine.clock import FakeClock
from deskguard.engine.engine import RiskEngine
from deskguard.engine.events import AccountUpdated, PositionUpdated, TradeFilled
from deskguard.engine.models import Account, Position, PositionType, Side, Trade
from deskguard.ui.display import AMBER, RED

pytestmark = pytest.mark.ui

NAME = f"50KTC-{ACCOUNT}"  # the stub's account name
CONFIG = f'[accounts."{NAME}"]\nprofile = "topstep_combine_50k"\n'
TUESDAY_9_CT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
MNQ = "CON.F.US.MNQ.Z26"


def engine_for(balance: float) -> RiskEngine:
    engine = RiskEngine(loads_config(CONFIG).engine_settings(), FakeClock(TUESDAY_9_CT))
    engine.process(AccountUpdated(Account(ACCOUNT, NAME, balance, True)))
    return engine


@pytest.fixture
def profiled(qtbot, aio, vm):
    """The main window on a stub guardian whose settings give the account the 50K Combine profile."""
    from deskguard.ui.main_window import MainWindow

    stub = StubGuardian(settings=loads_config(CONFIG).engine_settings())
    win = MainWindow(vm)
    qtbot.addWidget(win)
    vm.attach(stub)
    win.show()
    qtbot.waitExposed(win)
    yield win, stub
    win.quitting = True
    win.close()


def test_the_panel_shows_each_firm_limit_and_turns_amber_then_red(qtbot, profiled):
    win, stub = profiled
    engine = engine_for(51_000.0)  # 1,000 made before today
    stub.emit(make_snapshot(balance=51_000.0, distances=tuple(engine.distances(ACCOUNT))))
    qtbot.waitUntil(lambda: bool(win.distances.cards))
    shown = win.distances.shown()
    assert shown == {
        "drawdown": ("Drawdown left", "$1,800.00 · floor $49,000.00", "ok"),
        "loss_today": ("Loss left today", "$500.00 of $500.00", "ok"),
        "contracts": ("Contracts allowed now", "5 more (limit 5)", "ok"),
        "session": ("Flat by", "15:10 CST (in 6h 10m)", "ok"),
        "consistency": ("Today may make", "$1,000.00 more (cap $1,000.00)", "ok"),
    }
    assert win.distances.isVisible()
    assert all(card.colour is None for card in win.distances.cards.values())

    engine.process(TradeFilled(Trade(1, ACCOUNT, MNQ, TUESDAY_9_CT, 21000.0, 850.0, 0.0, Side.SELL, 1)))
    engine.process(PositionUpdated(Position(ACCOUNT, MNQ, PositionType.LONG, 60, 21000.0, TUESDAY_9_CT)))
    stub.emit(make_snapshot(balance=51_000.0, distances=tuple(engine.distances(ACCOUNT))))
    qtbot.waitUntil(lambda: win.distances.shown()["consistency"][2] == "warning")
    cards = win.distances.cards
    assert win.distances.shown()["consistency"][1] == "$150.00 more (cap $1,000.00)"
    assert cards["consistency"].colour == AMBER  # 85 % of the cap: past warn_at
    assert win.distances.shown()["contracts"] == ("Contracts allowed now", "1 over (limit 5)", "breach")
    assert cards["contracts"].colour == RED  # 60 MNQ = 6 contracts: past the limit
    assert cards["contracts"].value.styleSheet() == f"QLabel {{ color: {RED}; }}"
    assert cards["loss_today"].colour is None


def test_the_tray_tooltip_names_the_nearest_limit(qtbot, profiled):
    from deskguard.ui.tray import tooltip_text

    _win, stub = profiled
    engine = engine_for(49_500.0)  # mark 50,000 (the starting balance), stop at 48,200: 1,300 left
    snap = make_snapshot(balance=49_500.0, distances=tuple(engine.distances(ACCOUNT)))
    text = tooltip_text([snap], stub.health, datetime.now(UTC))
    assert f"{NAME}: today" in text
    assert "  nearest limit: Drawdown left: $1,300.00 · floor $48,000.00" in text.splitlines()


def test_the_chart_draws_the_mll_floor_of_an_account_whose_profile_switches_014_on(qtbot, profiled):
    from deskguard.ui.widgets.pnl_chart import limit_levels

    win, stub = profiled
    settings = stub.settings
    assert not settings.rules["trailing_drawdown"].enabled  # off in the shared rules
    snap = make_snapshot(balance=50_400.0, realized_day=400.0, trailing_floor=48_000.0)
    assert limit_levels(settings, snap).trailing_floor == -2_000.0  # the day began at 50,000
    other = make_snapshot(account_id=ACCOUNT + 1, balance=50_400.0, realized_day=400.0, trailing_floor=48_000.0)
    assert limit_levels(settings, other).trailing_floor is None  # no profile there: 014 is off
    stub.emit(snap)
    qtbot.waitUntil(lambda: win.chart_built)
    qtbot.waitUntil(lambda: win.chart.line_values()["trailing_floor"] == -2_000.0)
    assert "017  Consistency" in [win.rules.row_of(k)["rule"] for k in win.rules.keys]  # the account's own rules


def test_the_rules_panel_shows_the_accounts_own_pending_change(qtbot, profiled):
    from ui_stubs import PendingStub

    win, stub = profiled
    at = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    stub.pending = [PendingStub(f"accounts.{NAME}.daily_realized_loss.max_loss", "400", "600", at),
                    PendingStub("accounts.SOMEONE-ELSE.daily_realized_loss.max_loss", "100", "900", at)]
    stub.emit(make_snapshot(balance=50_000.0))
    win.vm.refresh_settings()
    win.rules.set_settings(stub.settings, win.vm.pending_changes())
    qtbot.waitUntil(lambda: bool(win.rules.keys))
    pending = win.rules.row_of("daily_realized_loss")["pending"]
    assert "$400" in pending and "$600" in pending and "$900" not in pending
