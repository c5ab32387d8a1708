"""HeaderBar: proxy status, base URL, copy-a-snippet buttons, start/stop, port and providers."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.routing.snippets import codex_snippet, sdk_snippet
from relayscope.ui import theme
from relayscope.ui.plain_text import plain_tooltip

#: How long "Copied …" stays visible.
COPIED_MS = 1800

_STATE_TEXT = {
    "starting": "Starting…",
    "listening": "Listening",
    "stopped": "Stopped",
    "failed": "Failed",
}
#: What the snippet buttons, port box, Start/Stop and Providers take up (for eliding).
_RIGHT_SIDE_WIDTH = 80 * 8
_STATE_KIND = {"starting": "live", "listening": "ok", "stopped": "idle", "failed": "error"}


class StatusDot(QWidget):
    """A small filled circle in the state's colour (the text next to it says the same)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = "idle"
        self.setFixedSize(QSize(12, 12))

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.kind_colour(self.kind))
        painter.drawEllipse(self.rect().adjusted(1, 1, -1, -1))
        painter.end()


class Banner(QFrame):
    """A tinted strip under the header with one sentence and a close button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(
            theme.SPACING * 2, theme.SPACING // 2, theme.SPACING, theme.SPACING // 2
        )
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.hide()

    def show_message(self, text: str, kind: str = "warning") -> None:
        self.label.setText(text)
        tint = theme.row_alert_background(kind)
        edge = theme.kind_colour(kind)
        self.setStyleSheet(
            f"QFrame#banner {{ background: {tint.name(QColor.NameFormat.HexArgb)};"
            f" border-bottom: 1px solid {edge.name()}; }}"
        )
        self.show()


class HeaderBar(QWidget):
    """The strip at the top of the window.

    Signals:
        start_requested(int): Start pressed (with the port in the box).
        stop_requested(): Stop pressed.
        port_applied(int): Apply pressed with a new port (the worker should restart on it).
        providers_requested(): the ⚙ Providers button.
        copied(str): something was copied (what, e.g. "Base URL").
    """

    start_requested = Signal(int)
    stop_requested = Signal()
    port_applied = Signal(int)
    providers_requested = Signal()
    copied = Signal(str)

    def __init__(self, host: str = "127.0.0.1", port: int = 8787, parent: QWidget | None = None):
        super().__init__(parent)
        self._host = host
        self._url = ""
        self._state = "stopped"
        self._reason = ""
        self.dot = StatusDot(self)
        self.status = QLabel(self)
        self.status.setMinimumWidth(10 * theme.SPACING)
        self.url_label = QLabel(self)
        self.url_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.url_label.setFont(theme.scaled_font(self.font(), 1.0, bold=True))
        self.copy_url = self._button("Copy", "Copy the base URL")
        self.codex = self._button("Codex snippet", "Copy a Codex CLI config.toml block")
        self.sdk = self._button("SDK snippet", "Copy a Python example using the openai package")
        # A narrow window folds Copy and the snippet buttons into this menu (_fit_to_width).
        self.snippets = QToolButton(self)
        self.snippets.setText("Copy")
        self.snippets.setToolTip("Copy the base URL, a Codex CLI config or a Python example")
        self.snippets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.snippets)
        menu.addAction("Base URL", self._on_copy_url_clicked)
        menu.addAction("Codex CLI config.toml block", self._on_codex_clicked)
        menu.addAction("Python example (openai package)", self._on_sdk_clicked)
        self.snippets.setMenu(menu)
        self.snippets.hide()
        self.copied_label = QLabel(self)
        self.copied_label.setStyleSheet(f"color: {theme.colour(theme.OK).name()};")
        # A transient message must never make the window wider.
        self.copied_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._min_widths = {False: 0, True: 0}  # the row's minimum width unfolded / folded
        self.port = QSpinBox(self)
        self.port.setRange(0, 65535)
        self.port.setValue(port)
        self.port.setToolTip("The port clients connect to (0 = any free port)")
        self.port.setAccelerated(True)
        self.apply = self._button("Apply", "Restart the proxy on this port")
        self.start_stop = self._button("Stop", "Stop or start the proxy")
        self.providers = self._button("⚙  Providers", "Add or edit the providers calls go to")
        self.banner = Banner(self)
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.setInterval(COPIED_MS)
        self._copied_timer.timeout.connect(self.copied_label.clear)
        self._layout()
        self._connect()
        self.set_state("stopped")
        self._measure()

    def _button(self, text: str, tip: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        return button

    def _layout(self) -> None:
        row = self._row = QHBoxLayout()
        row.setContentsMargins(theme.SPACING * 2, theme.SPACING, theme.SPACING * 2, theme.SPACING)
        row.setSpacing(theme.SPACING)
        row.addWidget(self.dot)
        row.addWidget(self.status)
        row.addSpacing(theme.SPACING)
        row.addWidget(self.url_label)
        row.addWidget(self.copy_url)
        row.addSpacing(theme.SPACING)
        row.addWidget(self.codex)
        row.addWidget(self.sdk)
        row.addWidget(self.snippets)
        row.addWidget(self.copied_label, 1)
        port_label = self.port_label = QLabel("Port", self)
        port_label.setBuddy(self.port)
        row.addWidget(port_label)
        row.addWidget(self.port)
        row.addWidget(self.apply)
        row.addSpacing(theme.SPACING)
        row.addWidget(self.start_stop)
        row.addWidget(self.providers)
        column = QVBoxLayout(self)
        # The header's minimum width is the folded row's (minimumSizeHint), not the full one.
        column.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addLayout(row)
        column.addWidget(self.banner)

    def _connect(self) -> None:
        self.copy_url.clicked.connect(self._on_copy_url_clicked)
        self.codex.clicked.connect(self._on_codex_clicked)
        self.sdk.clicked.connect(self._on_sdk_clicked)
        self.apply.clicked.connect(self._on_apply_clicked)
        self.start_stop.clicked.connect(self._on_start_stop_clicked)
        self.providers.clicked.connect(self.providers_requested)
        self.port.valueChanged.connect(self._update_apply)

    # -- public API ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The listening URL, or the one the configured port will give."""
        return self._url or f"http://{self._host}:{self.port.value() or 8787}/v1"

    def set_state(self, state: str, reason: str = "") -> None:
        """Show the worker's state (`starting`, `listening`, `stopped`, `failed`)."""
        self._state = state
        self._reason = reason if state == "failed" else ""
        if state != "listening":
            self._url = ""
        self.dot.set_kind(_STATE_KIND.get(state, "idle"))
        self._show_status()
        self.status.setToolTip(plain_tooltip(reason))
        running = state in ("starting", "listening")
        self.start_stop.setText("Stop" if running else "Start")
        self.url_label.setText(self.base_url)
        self.url_label.setEnabled(state == "listening")
        self.url_label.setVisible(state != "failed")
        if self._min_widths[False]:  # not while __init__ builds the header
            self._measure()
        self._update_apply()

    def set_url(self, url: str) -> None:
        """The worker is listening at `url`; the port box shows the port it really got."""
        self._url = url
        self.url_label.setText(url)
        port = self._running_port()
        if port is not None:
            self.port.setValue(port)
        self._update_apply()
        self._measure()

    def show_record_error(self, message: str) -> None:
        """`message` empty: recording works again."""
        if message:
            self.banner.show_message(f"Recording failed: {message} — traffic still flows.", "error")
        else:
            self.banner.hide()

    def flash(self, text: str) -> None:
        """A short confirmation next to the snippet buttons ("Copied …")."""
        self.copied_label.setText(text)
        self._copied_timer.start()

    # -- internals ----------------------------------------------------------------------

    def _show_status(self) -> None:
        text = _STATE_TEXT.get(self._state, self._state)
        if self._reason:
            text = f"{text}: {self._reason}"
        # A failure's sentence gets the room the URL and Copy would use, then is elided.
        metrics = self.status.fontMetrics()
        room = max(self.width() - _RIGHT_SIDE_WIDTH, 24 * theme.SPACING)
        self.status.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, room))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_to_width()
        self._show_status()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._measure()

    def minimumSizeHint(self) -> QSize:
        """As narrow as the folded row: the window tiles to half a laptop screen."""
        return QSize(self._min_widths[True], super().minimumSizeHint().height())

    def _measure(self) -> None:
        """The row's minimum width unfolded and folded, as Qt's layout computes it (after
        anything that changes a text in it)."""
        folded = self.snippets.isVisible()
        for compact in (not folded, folded):
            self._fold(compact)
            self._row.invalidate()
            self._min_widths[compact] = self._row.minimumSize().width()
        self.updateGeometry()
        self._fit_to_width()

    def _fit_to_width(self) -> None:
        self._fold(self.width() < self._min_widths[False])

    def _fold(self, compact: bool) -> None:
        self.snippets.setVisible(compact)
        self.copy_url.setVisible(not compact and self._state != "failed")
        for widget in (self.codex, self.sdk, self.port_label):
            widget.setVisible(not compact)

    def _running_port(self) -> int | None:
        if not self._url:
            return None
        port = self._url.rsplit(":", 1)[-1].split("/", 1)[0]
        return int(port) if port.isdigit() else None

    def _update_apply(self) -> None:
        running = self._running_port()
        self.apply.setEnabled(running is None or running != self.port.value())

    def _copy(self, text: str, what: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.flash(f"Copied {what}")
        self.copied.emit(what)

    def _on_copy_url_clicked(self) -> None:
        self._copy(self.base_url, "base URL")

    def _on_codex_clicked(self) -> None:
        self._copy(codex_snippet(self.base_url), "Codex config")

    def _on_sdk_clicked(self) -> None:
        self._copy(sdk_snippet(self.base_url), "Python example")

    def _on_apply_clicked(self) -> None:
        self.port_applied.emit(self.port.value())

    def _on_start_stop_clicked(self) -> None:
        if self._state in ("starting", "listening"):
            self.stop_requested.emit()
        else:
            self.start_requested.emit(self.port.value())
