"""The window shows rule 018's safety-net stop of every position, marks its orders, and says why it
places nothing when there is no budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ui_stubs import StubGuardian

from deskguard.engine.models import SAFETY_NET_TAG, Order, OrderStatus, OrderType, Position, PositionType, Side
from deskguard.engine.rules import Figure
from deskguard.engine.rules.safety_net import NO_BUDGET
from deskguard.engine.schema import Unit
from deskguard.engine.settings import EngineSettings
from deskguard.guardian.snapshot import PositionView

pytestmark = pytest.mark.ui

MNQ, MES = "CON.F.US.MNQ.Z26", "CON.F.US.MES.Z26"


@pytest.fixture
def stub() -> StubGuardian:
    return StubGuardian(settings=EngineSettings().with_rule("safety_net", enabled=True))


def _view(contract: str, symbol: str, net: float | None) -> PositionView:
    pos = Position(1001, contract, PositionType.LONG, 2, 20_000.0)
    return PositionView(pos, symbol, 20_000.0, 0.0, False, False, net)


def test_each_position_row_shows_its_safety_net_stop_price(window, stub, qtbot):
    table = window.positions
    assert table.horizontalHeaderItem(7).text() == "Safety net"
    net = Order(7001, 1001, MNQ, OrderStatus.OPEN, OrderType.STOP, Side.SELL, 2, None, 19_875.5,
                datetime.now(UTC), None, f"{SAFETY_NET_TAG}-abc")
    stub.emit(positions=(_view(MNQ, "MNQ", 19_875.5), _view(MES, "MES", None)), orders=(net,))
    qtbot.waitUntil(lambda: table.rowCount() == 2)
    rows = {r[0]: r for r in table.row_texts()}
    assert rows["MNQ"][6:] == ["NO", "19,875.50"]  # no stop of the trader's own; the app's net at 19,875.50
    assert rows["MES"][7] == "—"
    assert window.orders.row_texts()[0][:2] == ["MNQ", "Stop (safety net)"]


def test_without_a_budget_the_rules_panel_says_why(window, stub, qtbot):
    assert "safety_net" in window.rules.keys
    stub.emit(figures={"safety_net": Figure(0, 0, Unit.USD, NO_BUDGET)})
    qtbot.waitUntil(lambda: "no budget" in window.rules.row_of("safety_net")["now"])
