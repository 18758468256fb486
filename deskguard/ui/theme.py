"""The window's look: follow the system, or force light or dark (``[ui] theme`` in config.toml)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")

_system_palette: QPalette | None = None
_system_style: str | None = None


def _dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor("#1e1e1e"), QColor("#2b2b2b"), QColor("#e6e6e6")
    disabled = QColor("#7a7a7a")
    for role, colour in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, window),
        (QPalette.ColorRole.ToolTipBase, window),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, window),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor("#ff5252")),
        (QPalette.ColorRole.Link, QColor("#64b5f6")),
        (QPalette.ColorRole.Highlight, QColor("#1976d2")),
        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")),
        (QPalette.ColorRole.PlaceholderText, disabled),
    ):
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_theme(theme: str, app: QApplication | None = None) -> None:
    """``system`` restores what the desktop gave; ``light``/``dark`` use Fusion with a fixed palette
    (the same everywhere, whatever the desktop's own theme engine does)."""
    global _system_palette, _system_style
    if app is None:
        instance = QApplication.instance()  # a QCoreApplication to the stubs; a QApplication here
        if not isinstance(instance, QApplication):
            return
        app = instance
    if _system_palette is None:
        _system_palette = QPalette(app.palette())
        _system_style = app.style().name()
    if theme == "dark":
        app.setStyle("Fusion")
        app.setPalette(_dark_palette())
    elif theme == "light":
        app.setStyle("Fusion")
        app.setPalette(app.style().standardPalette())
    else:
        if _system_style and app.style().name() != _system_style:
            app.setStyle(_system_style)
        app.setPalette(_system_palette)
