"""ProviderPage: one provider's diagnostics — reliability, speed over time, and the signs that
it is not what it claims, and what its calls cost — computed off the GUI thread from the
recorded calls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from relayscope.analysis.cost import format_usd
from relayscope.analysis.diagnostics import ProviderReport, as_json, as_markdown, diagnose
from relayscope.calls.formatting import duration_ms
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.jobs import Job, JobRunner
from relayscope.ui.sparkline import Sparkline

#: Providers that are Relayscope's own bookkeeping, not somebody to diagnose.
_NOT_PROVIDERS = frozenset({"relayscope", "*"})
#: About this many points per plot: the bucket size follows the calls' time span.
_POINTS = 24
_BUCKET_MINUTES = (1, 5, 15, 60, 240, 1440)
#: What each sign is called on the page (`diagnostics` names them for machines).
SIGN_TITLES = {
    "model_substituted": "Model substituted",
    "usage_missing": "Usage missing",
    "usage_implausible": "Usage implausible",
    "streams_without_done": "Streams never finish",
    "fingerprint_changed": "Backend changed",
}


_ms = duration_ms


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def bucket_minutes(store: CallStore, provider: str) -> int:
    """The bucket size that spreads this provider's calls over about `_POINTS` points."""
    first, last = store.provider_span(provider)
    if not first or not last:
        return 60
    try:
        span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
    except ValueError:
        return 60
    wanted = span.total_seconds() / 60 / _POINTS
    return next((m for m in _BUCKET_MINUTES if m >= wanted), _BUCKET_MINUTES[-1])


def bucket_label(start: str, minutes: int) -> str:
    """`10:00` (local time) for a bucket's start; `Jun 03` for day-long buckets."""
    try:
        when = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return start
    return when.strftime("%b %d" if minutes >= 1440 else "%H:%M")


class _Figure(QFrame):
    """One headline number with its caption above and a detail below."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("figure")
        self.caption = QLabel(caption, self)
        self.caption.setEnabled(False)
        self.value = QLabel("—", self)
        self.value.setFont(theme.scaled_font(self.font(), 1.5, bold=True))
        self.detail = QLabel("", self)
        self.detail.setEnabled(False)
        self.detail.setWordWrap(True)
        column = QVBoxLayout(self)
        column.setContentsMargins(theme.SPACING, theme.SPACING, theme.SPACING, theme.SPACING)
        column.setSpacing(2)
        column.addWidget(self.caption)
        column.addWidget(self.value)
        column.addWidget(self.detail)
        column.addStretch(1)

    def set(self, value: str, detail: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)


class ProviderPage(QDialog):
    """Diagnostics for a chosen provider, from `relayscope.analysis.diagnostics.diagnose`.

    Signals:
        call_link_activated(str): a sign's example call was clicked (its id).
        report_ready(str): a report was shown (the provider's name).
    """

    call_link_activated = Signal(str)
    report_ready = Signal(str)

    def __init__(
        self,
        db_path: Path,
        providers: Sequence[str],
        provider: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.report: ProviderReport | None = None
        self._minutes = 60
        self._generation = 0
        self.jobs = JobRunner(self)
        self.setWindowTitle("Provider diagnostics — Relayscope")
        self.setModal(False)
        self.provider = QComboBox(self)
        self.provider.setMinimumWidth(24 * theme.SPACING)
        self.export_button = QPushButton("Export report…", self)
        self.export_button.setToolTip("Save this report as Markdown or JSON")
        self.export_button.setEnabled(False)
        self.state = QLabel(self)
        self.state.setEnabled(False)
        self.calls = _Figure("Calls", self)
        self.errors = _Figure("Error rate", self)
        self.ttft = _Figure("Time to first token (p50)", self)
        self.speed = _Figure("Tokens per second (p50)", self)
        self.cost = _Figure("Cost", self)
        self.ttft_plot = Sparkline("TTFT p50 over time", _ms, self)
        self.error_plot = Sparkline("Error rate over time", _percent, self, colour=theme.ERROR)
        self.signs_title = QLabel("Signs", self)
        self.signs_title.setFont(theme.scaled_font(self.font(), 1.1, bold=True))
        self.signs_box = QWidget(self)
        self.signs_layout = QVBoxLayout(self.signs_box)
        self.signs_layout.setContentsMargins(0, 0, 0, 0)
        self.signs_layout.setSpacing(theme.SPACING)
        self._layout()
        self.set_providers(providers, provider)
        self.provider.currentIndexChanged.connect(self._on_provider_current_index_changed)
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.resize(1000, 600)
        self.refresh()

    def _layout(self) -> None:
        s = theme.SPACING
        top = QHBoxLayout()
        top.addWidget(QLabel("Provider", self))
        top.addWidget(self.provider)
        top.addWidget(self.state, 1)
        top.addWidget(self.export_button)
        figures = QGridLayout()
        figures.setSpacing(s)
        shown = (self.calls, self.errors, self.ttft, self.speed, self.cost)
        for position, figure in enumerate(shown):
            figures.addWidget(figure, 0, position)
            figures.setColumnStretch(position, 1)
        plots = QHBoxLayout()
        plots.setSpacing(3 * s)
        plots.addWidget(self.ttft_plot)
        plots.addWidget(self.error_plot)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget(scroll)
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.signs_box)
        column.addStretch(1)
        scroll.setWidget(holder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * s, 2 * s, 2 * s, 2 * s)
        layout.setSpacing(2 * s)
        layout.addLayout(top)
        layout.addLayout(figures)
        layout.addLayout(plots)
        layout.addWidget(self.signs_title)
        layout.addWidget(scroll, 1)
        border = theme.colour(theme.MUTED)
        border.setAlpha(90)
        self.setStyleSheet(
            f"QFrame#figure {{ border: 1px solid {border.name(border.NameFormat.HexArgb)};"
            " border-radius: 6px; }"
        )

    # -- public API ---------------------------------------------------------------------

    def set_providers(self, names: Sequence[str], current: str = "") -> None:
        """The providers to choose from (Relayscope's own rows are left out)."""
        chosen = current or str(self.provider.currentData() or "")
        self.provider.blockSignals(True)
        self.provider.clear()
        for name in names:
            if name not in _NOT_PROVIDERS:
                self.provider.addItem(name, name)
        self.provider.setCurrentIndex(max(0, self.provider.findData(chosen)))
        self.provider.blockSignals(False)

    def current_provider(self) -> str:
        return str(self.provider.currentData() or "")

    def choose(self, provider: str) -> None:
        index = self.provider.findData(provider)
        if index >= 0:
            self.provider.setCurrentIndex(index)

    def refresh(self) -> None:
        """Compute the chosen provider's report again (in the background)."""
        provider = self.current_provider()
        self._generation += 1
        if not provider:
            self.state.setText("No calls recorded yet: diagnostics appear once traffic flows.")
            return
        self.state.setText(f"Reading {provider}'s calls…")
        self.export_button.setEnabled(False)
        generation, db_path = self._generation, self.db_path

        def work(_job: Job) -> tuple[ProviderReport, int]:
            # Its own connection: a big database takes a moment.
            store = CallStore(db_path, create=False)
            try:
                minutes = bucket_minutes(store, provider)
                return diagnose(store, provider, bucket_minutes=minutes), minutes
            finally:
                store.close()

        self.jobs.start(
            work,
            on_success=lambda result: self._on_diagnosed(generation, *result),
            on_failure=lambda exc: self._on_diagnosed(generation, None, 0, str(exc)),
        )

    def export_report(self, path: Path) -> None:
        """Save the shown report: JSON for a `.json` file, else Markdown."""
        if self.report is None:
            raise ValueError("no report to export yet")
        path = Path(path)
        text = as_json([self.report]) if path.suffix == ".json" else as_markdown([self.report])
        path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")

    def sign_codes(self) -> list[str]:
        return [sign.code for sign in self.report.signs] if self.report else []

    # -- showing ------------------------------------------------------------------------

    def show_report(self, report: ProviderReport, minutes: int = 60) -> None:
        self.report, self._minutes = report, minutes
        self.state.setText(f"From the last {report.calls:,} finished calls")
        self.export_button.setEnabled(True)
        self._show_figures(report)
        labels = [bucket_label(b.start, minutes) for b in report.buckets]
        self.ttft_plot.set_points(labels, [b.ttft_p50 for b in report.buckets])
        self.error_plot.set_points(
            labels, [b.errors / b.calls if b.calls else None for b in report.buckets]
        )
        self._show_signs(report)
        self.report_ready.emit(report.provider)

    def _show_figures(self, report: ProviderReport) -> None:
        self.calls.set(f"{report.calls:,}", f"{report.interrupted:,} interrupted")
        by_status = sorted(report.errors_by_status.items())
        statuses = "  ·  ".join(f"{status} × {count:,}" for status, count in by_status)
        self.errors.set(_percent(report.error_rate), statuses or "no HTTP errors")
        self.ttft.set(_ms(report.ttft_p50), f"p95 {_ms(report.ttft_p95)}")
        self.speed.set(_rate(report.tokens_per_s_p50), f"p95 {_rate(report.tokens_per_s_p95)}")
        self._show_cost(report)
        error_colour = theme.ERROR if report.error_rate >= 0.05 else None
        colour = theme.colour(error_colour).name() if error_colour else ""
        self.errors.value.setStyleSheet(f"color: {colour};" if colour else "")

    def _show_cost(self, report: ProviderReport) -> None:
        """The known total; per 1k calls and per hour below it, and how many calls have no
        known price (a model without a price, an answer without usage): never counted as $0."""
        total = report.cost
        value = format_usd(total.known_usd)
        details = []
        if (per_call := report.cost_per_1k_calls) is not None:
            details.append(f"{format_usd(per_call)} per 1k calls")
        if (per_hour := report.cost_per_hour) is not None:
            details.append(f"{format_usd(per_hour)} per hour")
        if total.unknown:
            details.append(f"{total.unknown:,} of {report.calls:,} calls of unknown cost")
        self.cost.set(value, "  ·  ".join(details))

    def _show_signs(self, report: ProviderReport) -> None:
        while self.signs_layout.count():
            item = self.signs_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        warning = theme.colour(theme.WARNING).name()
        link = theme.colour(theme.ACCENT).name()
        for sign in report.signs:
            example = (
                f' &nbsp;<a href="call:{escape(sign.example)}" style="color:{link}">'
                "example call →</a>"
                if sign.example
                else ""
            )
            label = QLabel(
                f'<span style="color:{warning}; font-weight:600">'
                f"⚠ {escape(SIGN_TITLES.get(sign.code, sign.code))}</span>"
                f" &nbsp;{escape(sign.message)}{example}",
                self.signs_box,
            )
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.linkActivated.connect(self._on_sign_link_activated)
            self.signs_layout.addWidget(label)
        if not report.signs:
            quiet = QLabel(
                "✓ No signs of substituted models, missing usage, unfinished streams or "
                "changing backends.",
                self.signs_box,
            )
            quiet.setStyleSheet(f"color: {theme.colour(theme.OK).name()};")
            self.signs_layout.addWidget(quiet)

    def sign_labels(self) -> list[QLabel]:
        items = (self.signs_layout.itemAt(i) for i in range(self.signs_layout.count()))
        return [
            widget
            for item in items
            if item is not None and isinstance(widget := item.widget(), QLabel)
        ]

    # -- slots --------------------------------------------------------------------------

    def _on_diagnosed(
        self, generation: int, report: ProviderReport | None, minutes: int, error: str = ""
    ) -> None:
        if generation != self._generation:
            return  # another provider was chosen meanwhile
        if isinstance(report, ProviderReport):
            self.show_report(report, minutes)
        else:
            self.state.setText(f"Could not read the recordings: {error}")

    def _on_provider_current_index_changed(self, _: int) -> None:
        self.refresh()

    def _on_sign_link_activated(self, link: str) -> None:
        kind, _, call_id = link.partition(":")
        if kind == "call" and call_id:
            self.call_link_activated.emit(call_id)

    def _on_export_button_clicked(self) -> None:
        name = f"{self.current_provider()}-diagnostics.md"
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export report", str(Path.home() / name), "Markdown (*.md);;JSON (*.json)"
        )
        if not path:
            return
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(".json" if "JSON" in chosen else ".md")
        try:
            self.export_report(target)
        except OSError as exc:
            self.state.setText(f"Could not save {target}: {exc.strerror or exc}")
        else:
            self.state.setText(f"Saved {target}")
