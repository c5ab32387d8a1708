"""PlaybackPanel: the strip that runs recorded calls as a playback provider (a second worker),
and PlaybackOptionsDialog, which asks how strictly to match and how fast to play."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.playback import MATCH_MODES
from relayscope.ui import theme
from relayscope.ui.header_bar import StatusDot
from relayscope.ui.worker_process import WorkerProcess

MATCH_TEXT = {
    "messages": "Same model and conversation",
    "exact": "Exactly the same body",
    "last": "Same last user message",
}


def playback_args(call_ids: Sequence[str], match: str, speed: float) -> list[str]:
    """`relayscope playback` options for these calls."""
    if match not in MATCH_MODES:
        raise ValueError(f"match must be one of {', '.join(MATCH_MODES)}")
    args = [arg for call_id in call_ids for arg in ("--call", call_id)]
    return [*args, "--match", match, "--speed", f"{speed:g}"]


class PlaybackOptionsDialog(QDialog):
    """How the selected calls are served: which requests they answer, and how fast."""

    def __init__(self, call_ids: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.call_ids = list(call_ids)
        count = len(self.call_ids)
        self.setWindowTitle("Serve as playback — Relayscope")
        intro = QLabel(
            f"Serve {'this call' if count == 1 else f'these {count} calls'} at a local URL, "
            "with the recorded answers and chunk timing (failures too), so a client can be "
            "run again offline.",
            self,
        )
        intro.setWordWrap(True)
        self.match = QComboBox(self)
        for mode in ("messages", "exact", "last"):
            self.match.addItem(MATCH_TEXT[mode], mode)
        self.match.setToolTip("Which requests a recording answers")
        self.speed = QDoubleSpinBox(self)
        self.speed.setRange(0.1, 100.0)
        self.speed.setDecimals(1)
        self.speed.setValue(1.0)
        self.speed.setSuffix(" × recorded speed")
        self.speed.setToolTip("2 plays twice as fast; 1 keeps the recorded timing")
        form = QFormLayout()
        form.addRow("A request matches when", self.match)
        form.addRow("Speed", self.speed)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setText("Start playback")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        margin = 2 * theme.SPACING
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(2 * theme.SPACING)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(520, self.sizeHint().height())

    def match_mode(self) -> str:
        return str(self.match.currentData())

    def speed_factor(self) -> float:
        return float(self.speed.value())


class PlaybackPanel(QFrame):
    """ "Playback: N calls at URL [Copy] [Stop]" while a `relayscope playback` worker runs.

    The worker records what it serves (provider `playback`) in the same database; the
    window feeds its call events to the list like the proxy's (`worker`).

    Signals:
        copied(str): something was put on the clipboard (what).
    """

    copied = Signal(str)

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("playback")
        self.worker = WorkerProcess(db_path, None, self, subcommand="playback")
        self._count = 0
        self.dot = StatusDot(self)
        self.label = QLabel(self)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the playback base URL")
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop serving the recorded calls")
        row = QHBoxLayout(self)
        row.setContentsMargins(
            2 * theme.SPACING, theme.SPACING // 2, theme.SPACING, theme.SPACING // 2
        )
        row.setSpacing(theme.SPACING)
        row.addWidget(self.dot)
        row.addWidget(self.label, 1)
        row.addWidget(self.copy_button)
        row.addWidget(self.stop_button)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.worker.state_changed.connect(self._on_worker_state_changed)
        self.worker.listening.connect(self._show)
        self.worker.failed.connect(self._on_worker_failed)
        self._tint("live")
        self.hide()

    # -- public API ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.worker.url

    def start(self, call_ids: Sequence[str], match: str = "messages", speed: float = 1.0) -> None:
        """Serve these calls (a playback already running is replaced)."""
        self._count = len(call_ids)
        self.worker.extra_args = playback_args(call_ids, match, speed)
        self.worker.restart(0)
        self._show()

    def stop(self) -> None:
        self.worker.stop()

    def stop_and_wait(self) -> None:
        self.worker.stop_and_wait()

    # -- internals ----------------------------------------------------------------------

    def _calls(self) -> str:
        return "1 call" if self._count == 1 else f"{self._count:,} calls"

    def _show(self, *_: object) -> None:
        url = self.worker.url
        state = self.worker.state
        if state == "listening" and url:
            self.label.setText(f"<b>Playback:</b> {self._calls()} at <b>{url}</b>")
            self._tint("ok")
        elif state == "failed":
            return
        else:
            self.label.setText(f"<b>Playback:</b> starting {self._calls()}…")
            self._tint("live")
        self.copy_button.setVisible(bool(url))
        self.stop_button.setText("Stop")
        self.show()

    def _tint(self, kind: str) -> None:
        self.dot.set_kind(kind)
        tint = theme.row_alert_background("live" if kind == "ok" else kind)
        self.setStyleSheet(
            f"QFrame#playback {{ background: {tint.name(tint.NameFormat.HexArgb)}; }}"
        )

    def _on_worker_state_changed(self, state: str) -> None:
        if state == "stopped":
            self.hide()
        elif state in ("starting", "listening"):
            self._show()

    def _on_worker_failed(self, message: str) -> None:
        self.label.setText(f"<b>Playback failed:</b> {html.escape(message)}")
        self._tint("error")
        self.copy_button.hide()
        self.stop_button.setText("Close")
        self.show()

    def _on_copy_button_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.url)
        self.copied.emit("playback URL")

    def _on_stop_button_clicked(self) -> None:
        if self.worker.is_running():
            self.worker.stop()
        else:
            self.hide()
