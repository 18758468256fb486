"""The app's SVG icons, read from package data (they ship inside the wheel) and rendered per size."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from ..engine.state import AccountStatus

_SIZES = (16, 20, 22, 24, 32, 48, 64, 128, 256)


def icon_file_name(status: AccountStatus | None) -> str:
    """``tray-ok.svg`` … ``tray-not_guarding.svg``; ``app.svg`` for None."""
    return "app.svg" if status is None else f"tray-{status.value}.svg"


def svg_bytes(name: str) -> bytes:
    return files("deskguard.ui").joinpath("icons", name).read_bytes()


@cache
def load_icon(name: str) -> QIcon:
    """An icon rendered from the SVG at every usual size (crisp on high-DPI screens and trays,
    with no dependency on Qt's SVG icon-engine plugin being present in a frozen build)."""
    renderer = QSvgRenderer(QByteArray(svg_bytes(name)))
    if not renderer.isValid():
        raise ValueError(f"bad SVG icon {name}")
    icon = QIcon()
    for size in _SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def app_icon() -> QIcon:
    return load_icon(icon_file_name(None))


def status_icon(status: AccountStatus) -> QIcon:
    return load_icon(icon_file_name(status))
