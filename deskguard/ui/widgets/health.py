"""The status bar's connection line: user hub, market hub, and how old the last event is."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from ...guardian import ConnectionHealth, HubState
from ..display import AMBER, PROFIT_COLOR, RED

_HUB_COLOUR = {HubState.CONNECTED: PROFIT_COLOR, HubState.CONNECTING: AMBER, HubState.DISCONNECTED: RED}


def event_age(health: ConnectionHealth, now: float) -> float | None:
    times = [t for t in (health.last_user_event, health.last_market_event) if t is not None]
    return now - max(times) if times else None


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "no event yet"
    if seconds < 1:
        return "last event just now"
    if seconds < 120:
        return f"last event {seconds:.0f} s ago"
    if seconds < 7200:
        return f"last event {seconds / 60:.0f} min ago"
    return f"last event {seconds / 3600:.1f} h ago"


class HealthIndicator(QWidget):
    def __init__(self, parent: QWidget | None = None, *, monotonic: Callable[[], float] = time.monotonic,
                 live: Callable[[], ConnectionHealth | None] | None = None) -> None:
        super().__init__(parent)
        self.monotonic = monotonic
        self.live = live  # read every second for the age of the last event
        self.user_hub = QLabel()
        self.market_hub = QLabel()
        self.age = QLabel()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(18)
        for label in (self.user_hub, self.market_hub, self.age):
            lay.addWidget(label)
        self.health: ConnectionHealth | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._refresh_age)
        self._timer.start()
        self.show_health(None)

    def show_health(self, health: ConnectionHealth | None) -> None:
        self.health = health
        for label, name, state in (
            (self.user_hub, "User hub", health.user_hub if health else None),
            (self.market_hub, "Market hub", health.market_hub if health else None),
        ):
            colour = _HUB_COLOUR.get(state, RED) if state else "#8a8a8a"
            label.setText(f"<span style='color:{colour}'>●</span> {name}: {state.value if state else 'not started'}")
        self._refresh_age()

    def _refresh_age(self) -> None:
        health = (self.live() if self.live is not None else None) or self.health
        if health is None:
            self.age.setText("")
            return
        text = age_text(event_age(health, self.monotonic()))
        if health.reconnects:
            text += f" · {health.reconnects} reconnect{'s' if health.reconnects != 1 else ''}"
        self.age.setText(text)
