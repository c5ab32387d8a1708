"""FilterBar: the search box, Errors / Streams toggles, provider and model choices, the count."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from relayscope.store.call_store import CallFilter
from relayscope.ui import theme

#: Typing pauses this long before the list is filtered.
DEBOUNCE_MS = 150
_ALL_PROVIDERS = "All providers"
_ALL_MODELS = "All models"


class FilterBar(QWidget):
    """What the call list shows.

    Signals:
        filter_changed(object): the new `CallFilter` (debounced while typing).
    """

    filter_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText(
            "Filter: model, provider, path, prompt or answer text  (Ctrl+F)"
        )
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(36 * theme.SPACING)
        self.errors = self._toggle("Errors", "Only failed or interrupted calls")
        self.streams = self._toggle("Streams", "Only streamed (SSE) calls")
        self.provider = self._choice(_ALL_PROVIDERS, "Only calls routed to this provider")
        self.model_name = self._choice(_ALL_MODELS, "Only calls that asked for this model")
        self.count = QLabel("0 calls", self)
        self.count.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.count.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit)
        self._last = CallFilter()
        self._layout()
        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._emit)
        self.errors.toggled.connect(self._emit)
        self.streams.toggled.connect(self._emit)
        self.provider.currentIndexChanged.connect(self._emit)
        self.model_name.currentIndexChanged.connect(self._emit)

    def _choice(self, all_text: str, tip: str) -> QComboBox:
        box = QComboBox(self)
        box.setToolTip(tip)
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        box.setMaximumWidth(28 * theme.SPACING)  # a long model name must not crowd the row
        box.addItem(all_text, "")
        return box

    def _toggle(self, text: str, tip: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setCheckable(True)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        return button

    def _layout(self) -> None:
        row = QHBoxLayout(self)
        row.setContentsMargins(theme.SPACING, theme.SPACING // 2, theme.SPACING, theme.SPACING // 2)
        row.setSpacing(theme.SPACING)
        row.addWidget(self.search, 3)
        row.addWidget(self.errors)
        row.addWidget(self.streams)
        row.addWidget(self.provider)
        row.addWidget(self.model_name)
        row.addStretch(1)
        row.addWidget(self.count)

    # -- public API ---------------------------------------------------------------------

    def current_filter(self) -> CallFilter:
        return CallFilter(
            text=self.search.text().strip(),
            errors_only=self.errors.isChecked(),
            streams_only=self.streams.isChecked(),
            provider=str(self.provider.currentData() or ""),
            model=str(self.model_name.currentData() or ""),
        )

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def clear(self) -> None:
        """Show every call again (Esc)."""
        widgets = (self.search, self.errors, self.streams, self.provider, self.model_name)
        for widget in widgets:
            widget.blockSignals(True)
        self.search.clear()
        self.errors.setChecked(False)
        self.streams.setChecked(False)
        self.provider.setCurrentIndex(0)
        self.model_name.setCurrentIndex(0)
        for widget in widgets:
            widget.blockSignals(False)
        self._emit()

    def is_filtering(self) -> bool:
        return self.current_filter() != CallFilter()

    def set_providers(self, names: Sequence[str]) -> None:
        """The provider choices (keeps the current one)."""
        _set_choices(self.provider, _ALL_PROVIDERS, names)

    def set_models(self, names: Sequence[str]) -> None:
        """The model choices (keeps the current one)."""
        _set_choices(self.model_name, _ALL_MODELS, names)

    def set_counts(self, shown: int, total: int) -> None:
        """`1,204 calls`, or `37 of 1,204 calls` while a filter is on (`shown` < 0: counting;
        `total` < 0: counting all, as at start-up over a big recording)."""
        noun = "call" if total == 1 else "calls"
        if total < 0:
            self.count.setText("… calls" if shown < 0 else f"{shown:,} of … calls")
        elif shown < 0:
            self.count.setText(f"… of {total:,} {noun}")
        elif shown == total and not self.is_filtering():
            self.count.setText(f"{total:,} {noun}")
        else:
            self.count.setText(f"{shown:,} of {total:,} {noun}")

    # -- slots --------------------------------------------------------------------------

    def _on_search_text_changed(self, _: str) -> None:
        self._debounce.start()

    def _emit(self) -> None:
        self._debounce.stop()
        flt = self.current_filter()
        if flt != self._last:
            self._last = flt
            self.filter_changed.emit(flt)


def _set_choices(box: QComboBox, all_text: str, names: Sequence[str]) -> None:
    current = str(box.currentData() or "")
    known = [str(box.itemData(i)) for i in range(1, box.count())]
    if list(names) == known:
        return
    box.blockSignals(True)
    box.clear()
    box.addItem(all_text, "")
    for name in names:
        box.addItem(name, name)
    box.setCurrentIndex(max(0, box.findData(current)))
    box.blockSignals(False)
