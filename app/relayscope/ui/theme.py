"""Colours, palettes, fonts, spacing and small status icons shared by every widget."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QApplication, QStyleFactory

from relayscope.calls import facts as call_facts

#: The 8-px grid: margins and gaps are multiples of this.
SPACING = 8

#: One accent colour (links, focus, live things, primary buttons).
ACCENT = "#3574F0"
#: Failed calls (HTTP errors), failed proxy.
ERROR = "#D93025"
#: Interrupted calls, warnings.
WARNING = "#C77700"
#: Successful calls, proxy listening.
OK = "#1E8E3E"
#: Secondary text and idle things.
MUTED = "#7A7F87"

# The same hues lifted for dark backgrounds (contrast >= 4.5:1 on the dark base).
_DARK_VARIANTS = {
    ACCENT: "#6B9CFF",
    ERROR: "#FF7B72",
    WARNING: "#E3A33B",
    OK: "#56C271",
    MUTED: "#8E939B",
}

#: What fills a prompt's context (`prompts.PARTS`), as the session view draws it;
#: the same hues as a shared page's bars (`relayscope.exchange.share`).
CONTEXT_COLOURS = {
    "system": "#64748B",
    "tools": "#0EA5E9",
    "user": "#2563EB",
    "assistant": "#16A34A",
    "tool_output": "#7C3AED",
    "new_input": "#F59E0B",
    "images": "#DB2777",
}

LIVE_STATES = frozenset(call_facts.LIVE_STATES)
FAILED_STATES = frozenset(call_facts.FAILED_STATES)


#: The app icon: icons/relayscope.svg and PNGs rendered from it (icons/render.py).
# The repository's icons/ (relayscope.ui.theme is three folders down), or the bundle's
# (a PyInstaller one-folder app puts icons/ beside the relayscope package).
_HERE = Path(__file__).resolve()
ICONS_DIR = next(
    (folder / "icons" for folder in _HERE.parents if (folder / "icons").is_dir()),
    _HERE.parents[3] / "icons",
)
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def app_icon() -> QIcon:
    """Relayscope's icon at every rendered size (empty if the files are missing)."""
    icon = QIcon()
    for size in ICON_SIZES:
        png = ICONS_DIR / f"relayscope-{size}.png"
        if png.exists():
            icon.addFile(str(png))
    if icon.isNull() and (ICONS_DIR / "relayscope.svg").exists():
        icon.addFile(str(ICONS_DIR / "relayscope.svg"))
    return icon


# -- palettes -----------------------------------------------------------------------------


def system_prefers_dark() -> bool:
    """True when the desktop asks for a dark appearance (Qt 6.5+ colour scheme)."""
    hints = QGuiApplication.styleHints()
    return bool(hints.colorScheme() == Qt.ColorScheme.Dark)


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether `palette` (default: the application's) draws light text on dark."""
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def colour(name: str, *, dark: bool | None = None) -> QColor:
    """One of the named colours above, adjusted for the current (or given) palette."""
    if dark is None:
        dark = is_dark()
    return QColor(_DARK_VARIANTS.get(name, name) if dark else name)


def build_palette(dark: bool) -> QPalette:
    """The Fusion palette for light or dark mode, with our accent."""
    if dark:
        tones = {
            "window": "#1F2023",
            "base": "#18191B",
            "alt": "#1F2023",
            "text": "#E3E5E8",
            "button": "#2B2D31",
            "mid": "#3A3D42",
            "placeholder": "#80848B",
            "disabled": "#6A6E75",
            "tooltip": "#2B2D31",
        }
    else:
        tones = {
            "window": "#F4F5F7",
            "base": "#FFFFFF",
            "alt": "#F6F7F9",
            "text": "#1F2328",
            "button": "#FAFBFC",
            "mid": "#C9CDD3",
            "placeholder": "#8A9099",
            "disabled": "#A0A5AD",
            "tooltip": "#FFFFFF",
        }
    role = QPalette.ColorRole
    palette = QPalette()
    text = QColor(tones["text"])
    for r, value in (
        (role.Window, tones["window"]),
        (role.Base, tones["base"]),
        (role.AlternateBase, tones["alt"]),
        (role.Button, tones["button"]),
        (role.ToolTipBase, tones["tooltip"]),
        (role.Mid, tones["mid"]),
        (role.PlaceholderText, tones["placeholder"]),
    ):
        palette.setColor(r, QColor(value))
    for r in (role.WindowText, role.Text, role.ButtonText, role.ToolTipText):
        palette.setColor(r, text)
    palette.setColor(role.BrightText, QColor("#FFFFFF"))
    palette.setColor(role.Highlight, colour(ACCENT, dark=dark))
    palette.setColor(role.HighlightedText, QColor("#FFFFFF"))
    palette.setColor(role.Link, colour(ACCENT, dark=dark))
    palette.setColor(role.LinkVisited, colour(ACCENT, dark=dark))
    palette.setColor(role.Accent, colour(ACCENT, dark=dark))
    palette.setColor(role.Light, QColor(tones["button"]).lighter(120))
    palette.setColor(role.Midlight, QColor(tones["mid"]).lighter(110))
    palette.setColor(role.Dark, QColor(tones["mid"]).darker(130))
    palette.setColor(role.Shadow, QColor("#000000"))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(disabled, r, QColor(tones["disabled"]))
    return palette


def selection_colour(dark: bool) -> QColor:
    """A soft row selection (the accent at full strength is tiring in a list read all day)."""
    return QColor("#2C4A7C") if dark else QColor("#D6E4FD")


def soft_selection(palette: QPalette) -> QPalette:
    """`palette` with the soft row selection, its text in the ordinary text colour."""
    soft = selection_colour(is_dark(palette))
    text = palette.color(palette.ColorRole.Text)
    for group in (palette.ColorGroup.Active, palette.ColorGroup.Inactive):
        palette.setColor(group, palette.ColorRole.Highlight, soft)
        palette.setColor(group, palette.ColorRole.HighlightedText, text)
    return palette


def apply_theme(app: QApplication) -> None:
    """Fusion, the system font, and the palette following the system's light/dark choice."""
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    app.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont))
    app.setPalette(build_palette(system_prefers_dark()))
    hints = QGuiApplication.styleHints()
    if not app.property("relayscope_theme_connected"):
        app.setProperty("relayscope_theme_connected", True)
        hints.colorSchemeChanged.connect(
            lambda scheme: app.setPalette(build_palette(scheme == Qt.ColorScheme.Dark))
        )


# -- fonts --------------------------------------------------------------------------------


def monospace_font(point_delta: float = 0.0) -> QFont:
    """The system's fixed-width font: only for code, JSON and raw chunks."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_delta and font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() + point_delta)
    return font


def scaled_font(base: QFont, factor: float, *, bold: bool = False) -> QFont:
    """`base` at `factor` times its size (headings), optionally bold."""
    font = QFont(base)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * factor)
    font.setBold(bold)
    return font


# -- call status --------------------------------------------------------------------------


def status_kind(status: int | None, state: str | None) -> str:
    """`ok`, `error`, `warning`, `live` or `idle`: how a call's outcome should look."""
    if state == "interrupted":
        return "warning"
    if state == "error" or (status is not None and status >= 400):
        return "error"
    if state in LIVE_STATES:
        return "live"
    if state == "complete":
        return "ok"
    return "idle"


_KIND_COLOURS = {"ok": OK, "error": ERROR, "warning": WARNING, "live": ACCENT, "idle": MUTED}


def status_colour(status: int | None, state: str | None) -> QColor:
    """The colour for a call's status text or icon, for the current palette."""
    return colour(_KIND_COLOURS[status_kind(status, state)])


def kind_colour(kind: str, *, dark: bool | None = None) -> QColor:
    return colour(_KIND_COLOURS.get(kind, MUTED), dark=dark)


def row_alert_background(kind: str, *, dark: bool | None = None) -> QColor:
    """A soft tint behind failed rows, readable with either palette."""
    tint = kind_colour(kind, dark=dark)
    tint.setAlpha(56 if (is_dark() if dark is None else dark) else 30)
    return tint


SPINNER_FRAMES = 8


@cache
def status_icon(kind: str, frame: int = 0, dark: bool = False, size: int = 14) -> QIcon:
    """A small icon whose SHAPE tells the outcome (check, cross, triangle, spinner, ring)."""
    icon = QIcon()
    for scale in (1, 2):
        pixmap = _status_pixmap(kind, frame, dark, size, scale)
        icon.addPixmap(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # the same colours on a selected row
    return icon


def _status_pixmap(kind: str, frame: int, dark: bool, size: int, scale: int) -> QPixmap:
    pixmap = QPixmap(size * scale, size * scale)
    pixmap.setDevicePixelRatio(scale)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    fill = kind_colour(kind, dark=dark)
    box = QRectF(1, 1, size - 2, size - 2)
    white = QPen(QColor("#FFFFFF"), 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    if kind == "ok":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawEllipse(box)
        painter.setPen(white)
        s = size / 14
        painter.drawPolyline(
            [QPointF(4 * s, 7.2 * s), QPointF(6.2 * s, 9.4 * s), QPointF(10 * s, 5 * s)]
        )
    elif kind == "error":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawEllipse(box)
        painter.setPen(white)
        a, b = size * 0.33, size * 0.67
        painter.drawLine(QPointF(a, a), QPointF(b, b))
        painter.drawLine(QPointF(a, b), QPointF(b, a))
    elif kind == "warning":
        path = QPainterPath()
        path.moveTo(size / 2, 1)
        path.lineTo(size - 1, size - 1.5)
        path.lineTo(1, size - 1.5)
        path.closeSubpath()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawPath(path)
        painter.setPen(white)
        painter.drawLine(QPointF(size / 2, size * 0.38), QPointF(size / 2, size * 0.62))
        painter.drawPoint(QPointF(size / 2, size * 0.78))
    elif kind == "live":
        track = QColor(fill)
        track.setAlpha(60)
        painter.setPen(QPen(track, 2))
        painter.drawEllipse(box.adjusted(1, 1, -1, -1))
        painter.setPen(QPen(fill, 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        start = 90 - frame * (360 // SPINNER_FRAMES)
        painter.drawArc(box.adjusted(1, 1, -1, -1), start * 16, -120 * 16)
    else:
        painter.setPen(QPen(fill, 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(box.adjusted(1, 1, -1, -1))
    painter.end()
    return pixmap
