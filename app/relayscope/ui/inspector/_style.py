"""The inspector's colours for the current palette, built on relayscope.ui.theme (plus HTML tints)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette

from relayscope.ui.theme import ACCENT, ERROR, OK, SPACING, WARNING, colour, is_dark, monospace_font

__all__ = ["SPACING", "Colours", "colours", "is_dark", "mix", "monospace_font", "status_colour"]

#: Tool results, apart from the tool calls (WARNING) that asked for them.
TOOL = "#8250DF"
_TOOL_DARK = "#D2A8FF"


def mix(base: QColor, tint: QColor, amount: float) -> QColor:
    """`tint` laid over `base` with opacity `amount` (for tinted backgrounds)."""
    return QColor.fromRgbF(
        base.redF() + (tint.redF() - base.redF()) * amount,
        base.greenF() + (tint.greenF() - base.greenF()) * amount,
        base.blueF() + (tint.blueF() - base.blueF()) * amount,
    )


@dataclass(frozen=True, slots=True)
class Colours:
    """The inspector's colours for one palette, as `#rrggbb` names (usable in HTML too)."""

    text: str
    muted: str
    base: str
    window: str
    border: str
    accent: str
    error: str
    warning: str
    ok: str
    tool: str
    error_bg: str
    warning_bg: str
    code_bg: str
    dark: bool

    def tint(self, colour: str, amount: float) -> str:
        return mix(QColor(self.base), QColor(colour), amount).name()


def colours(palette: QPalette) -> Colours:
    dark = is_dark(palette)
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    error, warning = colour(ERROR, dark=dark), colour(WARNING, dark=dark)
    return Colours(
        text=text.name(),
        muted=mix(base, text, 0.6).name(),
        base=base.name(),
        window=palette.color(QPalette.ColorRole.Window).name(),
        border=mix(base, text, 0.18).name(),
        accent=colour(ACCENT, dark=dark).name(),
        error=error.name(),
        warning=warning.name(),
        ok=colour(OK, dark=dark).name(),
        tool=_TOOL_DARK if dark else TOOL,
        error_bg=mix(base, error, 0.12).name(),
        warning_bg=mix(base, warning, 0.22).name(),
        code_bg=mix(base, text, 0.04).name(),
        dark=dark,
    )


def status_colour(c: Colours, status: int | None, state: str | None) -> str:
    """Colour of a call's status: error red, interrupted amber, live accent, done green."""
    if state == "interrupted":
        return c.warning
    if state == "error" or (status or 0) >= 400:
        return c.error
    if state in ("pending", "streaming"):
        return c.accent
    return c.ok
