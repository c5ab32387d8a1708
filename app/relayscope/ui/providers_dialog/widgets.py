"""Small widgets of the Providers dialog: the timeout box and the status colours."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QDoubleSpinBox

from relayscope.ui import theme


def tone_color(palette: QPalette, tone: str) -> QColor:
    """The shared status colours ("ok", "error", "warning"; anything else is muted)."""
    return theme.kind_colour(
        tone if tone in ("ok", "error", "warning") else "idle", dark=theme.is_dark(palette)
    )


class SecondsBox(QDoubleSpinBox):
    """A timeout in seconds, shown as short as it can be ("600 s", "2.5 s")."""

    def __init__(self) -> None:
        super().__init__()
        self.setRange(0.001, 86400.0)
        self.setDecimals(3)
        self.setSuffix(" s")

    def textFromValue(self, value: float) -> str:
        text = super().textFromValue(value)  # the locale's digits and decimal point
        point = self.locale().decimalPoint()
        return text.rstrip("0").removesuffix(point) if point in text else text
