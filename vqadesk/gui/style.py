"""Light and dark themes, and the look of inline messages.

The app uses Qt's Fusion style everywhere (the same widgets on every
platform) with a light or a dark palette. "system" follows the desktop's
colour scheme when Qt knows it (``QStyleHints.colorScheme``) and is light
otherwise. Widgets that draw their own colours (charts, the caption words)
take them from the palette and listen for ``PaletteChange``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def dark_palette() -> QPalette:
    palette = QPalette()
    window, base, text = QColor(45, 45, 48), QColor(30, 30, 32), QColor(230, 230, 230)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor(40, 40, 43),
        QPalette.ColorRole.ToolTipBase: QColor(60, 60, 64),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(150, 150, 150),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor(55, 55, 58),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Link: QColor(110, 170, 255),
        QPalette.ColorRole.LinkVisited: QColor(170, 140, 255),
        QPalette.ColorRole.Highlight: QColor(60, 130, 220),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Mid: QColor(70, 70, 74),
        QPalette.ColorRole.Dark: QColor(25, 25, 27),
        QPalette.ColorRole.Light: QColor(80, 80, 84),
    }
    for role, colour in roles.items():
        palette.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(125, 125, 125))
    return palette


def apply_theme(app: QApplication, theme: str) -> str:
    """Apply ``theme`` ("system", "light" or "dark"); return the one in effect ("light"/"dark")."""
    app.setStyle("Fusion")
    dark = theme == "dark" or (theme == "system" and system_prefers_dark())
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    return "dark" if dark else "light"


def is_dark() -> bool:
    return QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def message_style(kind: str) -> str:
    """A style sheet for an inline message label: "error", "warning" or "" (plain), for the current theme."""
    dark = is_dark()
    if kind == "error":
        colour = "#ff8a80" if dark else "#b00020"
        return f"QLabel {{ color: {colour}; background: rgba(220, 40, 60, 0.12); padding: 4px; border-radius: 3px; }}"
    if kind == "warning":
        colour = "#ffd166" if dark else "#6b4500"
        return f"QLabel {{ color: {colour}; background: rgba(255, 190, 0, 0.18); padding: 4px; border-radius: 3px; }}"
    return ""
