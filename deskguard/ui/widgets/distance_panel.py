"""Distance to breach, above the chart: one card per firm limit of the selected account (drawdown
left and the floor, loss left today, contracts allowed now, time to the session's flat, what today
may still make), amber at the warning level and red at the limit."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...engine.distance import BREACH, WARNING, Distance
from ...guardian.snapshot import AccountSnapshot
from ..display import AMBER, RED

#: The card's border and value colour per level (ok keeps the palette's text colour).
LEVEL_COLOUR = {WARNING: AMBER, BREACH: RED}


class DistanceCard(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.caption = QLabel("")
        self.value = QLabel("")
        font = QFont(self.value.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.value.setFont(font)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.setSpacing(0)
        lay.addWidget(self.caption)
        lay.addWidget(self.value)
        self.level = ""
        self.colour: str | None = None

    def show_distance(self, distance: Distance) -> None:
        self.caption.setText(distance.label)
        self.value.setText(distance.text)
        self.setToolTip(f"{distance.sentence} ({distance.rule})")
        if distance.level == self.level:
            return
        self.level = distance.level
        self.colour = LEVEL_COLOUR.get(distance.level)
        if self.colour is None:
            self.value.setStyleSheet("")
            self.setStyleSheet("")
        else:
            self.value.setStyleSheet(f"QLabel {{ color: {self.colour}; }}")
            self.setStyleSheet(f"DistanceCard {{ border: 2px solid {self.colour}; border-radius: 4px; }}")


class DistancePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lay = QHBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self.cards: dict[str, DistanceCard] = {}
        self.setVisible(False)

    def show_snapshot(self, snap: AccountSnapshot | None) -> None:
        distances = list(snap.distances) if snap is not None else []
        keys = [d.key for d in distances]
        if keys != list(self.cards):
            for card in self.cards.values():
                self._lay.removeWidget(card)
                card.deleteLater()
            self.cards = {}
            for key in keys:
                card = DistanceCard(self)
                self._lay.addWidget(card, 1)
                self.cards[key] = card
        for distance in distances:
            self.cards[distance.key].show_distance(distance)
        self.setVisible(bool(distances))

    def shown(self) -> dict[str, tuple[str, str, str]]:
        """What each card says: (caption, text, level) by key (for tests and screen readers)."""
        return {k: (c.caption.text(), c.value.text(), c.level) for k, c in self.cards.items()}
