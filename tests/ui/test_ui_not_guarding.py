"""NOT GUARDING is impossible to miss: a full-width red banner, the state pill, the status bar."""

from __future__ import annotations

import pytest

from deskguard.broker.base import HubState
from deskguard.engine.state import AccountStatus
from deskguard.ui.display import RED

pytestmark = pytest.mark.ui


def test_banner_shows_when_the_user_hub_disconnects_and_goes_when_it_is_back(window, stub, qtbot):
    banner = window.not_guarding_banner
    assert not banner.isVisible()
    stub.set_health(HubState.DISCONNECTED, detail="connection lost 3 s ago")
    stub.emit(status=AccountStatus.NOT_GUARDING)
    qtbot.waitUntil(banner.isVisible)
    assert banner.title.text() == "NOT GUARDING"
    assert "User hub disconnected" in banner.detail.text() and "connection lost 3 s ago" in banner.detail.text()
    assert banner.colour == RED
    assert banner.width() >= window.centralWidget().width() - 40  # full width
    assert window.summary.state.text().strip() == "NOT GUARDING"
    assert "User hub: disconnected" in window.health_indicator.user_hub.text()
    assert "Market hub: connected" in window.health_indicator.market_hub.text()

    stub.set_health(HubState.CONNECTED)
    stub.emit(status=AccountStatus.OK)
    qtbot.waitUntil(lambda: not banner.isVisible())


def test_quotes_down_alone_is_still_guarding(window, stub, qtbot):
    stub.set_health(HubState.CONNECTED, HubState.DISCONNECTED)
    qtbot.waitUntil(lambda: "Market hub: disconnected" in window.health_indicator.market_hub.text())
    assert not window.not_guarding_banner.isVisible()


def test_before_the_guardian_starts_and_after_bad_credentials(qtbot, aio, vm):
    from deskguard.ui.main_window import MainWindow

    win = MainWindow(vm)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.not_guarding_banner.isVisible()
    assert "Starting" in win.not_guarding_banner.detail.text()
    win.show_startup_error("The gateway refused the credentials: invalid API key")
    assert "refused the credentials" in win.not_guarding_banner.detail.text()
    win.quitting = True


def test_still_not_flat_alert(window, stub, qtbot):
    stub.emit(not_flat_alert="MNQ still open after 5 close attempts")
    qtbot.waitUntil(window.not_flat_banner.isVisible)
    assert "MNQ still open" in window.not_flat_banner.detail.text()


def test_status_bar_says_how_old_the_last_event_is(window, stub, qtbot):
    stub.health.last_user_event -= 42
    stub.health.last_market_event -= 42
    qtbot.waitUntil(lambda: "last event 4" in window.health_indicator.age.text(), timeout=2500)
