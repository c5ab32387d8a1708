"""StreamTab: a stream's chunks as a timeline above a table, with its summary and findings."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QItemSelection, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from relayscope.analysis.stream_analysis import StreamAnalysis, analyse, stall_threshold_ms
from relayscope.analysis.stream_stats import Stall, find_stalls
from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.protocols.openai_format import Assembled
from relayscope.ui.inspector import _format as fmt
from relayscope.ui.inspector._style import SPACING, colours, monospace_font
from relayscope.ui.inspector.chunk_model import DELTA, EVENT, GAP, SEQ, TIME, ChunkTableModel
from relayscope.ui.inspector.findings_list import FindingsList
from relayscope.ui.inspector.stream_timeline import StreamTimeline

_COLUMN_WIDTHS = {SEQ: 56, TIME: 80, GAP: 88, EVENT: 264, DELTA: 320}
#: While a stream runs, it is analysed again at most this often (seconds), and never more
#: than a twentieth of the time: analysing 5,000 chunks takes about 0.1 s.
LIVE_ANALYSIS_EVERY = 1.0
_EMPTY = StreamAnalysis(None, None, None, 0, None, None, None, None, None, Assembled())


class StreamTab(QWidget):
    """Summary line, findings, timeline strip and chunk table, kept in step with each other.

    Figures and findings come from `relayscope.analysis.stream_analysis.analyse` (as in
    `relayscope show --stream`); a finding, the timeline and the table each select a chunk
    in the other two.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row: CallRecord = {}
        self._chunks: list[dict[str, Any]] = []
        self.analysis = _EMPTY
        self._analysed_at = 0.0
        self._analysis_cost = 0.0
        self.stall_list: list[Stall] = []
        self.summary = QLabel(self)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.linkActivated.connect(self._on_summary_link_activated)
        self.findings = FindingsList(self)
        self.findings.finding_activated.connect(self._on_findings_finding_activated)
        self.timeline = StreamTimeline(self)
        self.timeline.chunk_clicked.connect(self._on_timeline_chunk_clicked)
        self.model = ChunkTableModel(self)
        self.table = self._table()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, SPACING, 0, 0)
        layout.setSpacing(SPACING // 2)
        self.summary.setContentsMargins(SPACING, 0, SPACING, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.findings)
        layout.addWidget(self.timeline)
        layout.addWidget(self.table, 1)

    def _table(self) -> QTableView:
        table = QTableView(self)
        table.setModel(self.model)
        table.verticalHeader().hide()
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + SPACING)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for column, width in _COLUMN_WIDTHS.items():
            table.setColumnWidth(column, width)
        table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        return table

    # -- feeding --------------------------------------------------------------------------

    def set_call(self, row: CallRecord, chunks: Iterable[Mapping[str, Any]]) -> None:
        self._row = row
        self._chunks = [dict(chunk) for chunk in chunks]
        self._analysed_at = 0.0
        c = colours(self.palette())
        self.model.set_looks(monospace_font(), c.error, c.error_bg, c.warning, c.warning_bg)
        self.model.set_chunks(self._chunks)
        self._update_stats()
        if self.model.rowCount() > 0:
            self.table.scrollToTop()

    def append_chunks(self, row: CallRecord, chunks: Iterable[Mapping[str, Any]]) -> int:
        """Add a live stream's new chunks; keeps the selection, follows the end if it was there."""
        self._row = {**self._row, **row}
        bar = self.table.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 2
        last = self.model.last_seq()
        fresh = [dict(chunk) for chunk in chunks if int(chunk["seq"]) > last]
        self._chunks += fresh
        added = self.model.append_chunks(fresh)
        if added or row:
            self._update_stats()
        if added and following:
            self.table.scrollToBottom()
        return added

    def _update_stats(self) -> None:
        live = call_facts.is_live(self._row)
        if self._analysis_due(live):
            started = time.perf_counter()
            self.analysis = analyse(self._row, self._chunks)
            self._analysis_cost = time.perf_counter() - started
            self._analysed_at = time.monotonic()
            self.findings.set_findings(self.analysis.findings, live=live)
        times = self.model.times()
        threshold = stall_threshold_ms(self.analysis.gap_median_ms)
        self.model.set_stall_threshold(threshold)
        self.stall_list = find_stalls(times, None, threshold)
        self.timeline.set_stream(
            times,
            invalid_rows=self.model.invalid_rows(),
            stalls=self.stall_list,
            first_token_ms=self.first_token_ms(),
            end_ms=self._row.get("duration_ms"),
        )
        self.summary.setText(self._summary_html())

    def _analysis_due(self, live: bool) -> bool:
        """Always for a finished call; for a live one, throttled so big streams stay smooth."""
        if not live or not self._analysed_at:
            return True
        wait = max(LIVE_ANALYSIS_EVERY, 20 * self._analysis_cost) if self._chunks else 0.0
        return time.monotonic() - self._analysed_at >= wait

    def first_token_ms(self) -> float | None:
        """When the first chunk with model output arrived (TTFT, `relayscope.calls.facts`)."""
        return self.analysis.ttft_ms

    # -- summary ------------------------------------------------------------------------------

    def _summary_html(self) -> str:
        c = colours(self.palette())
        row, a = self._row, self.analysis
        times = self.model.times()
        total = a.total_ms if a.total_ms is not None else (times[-1] if times else None)
        facts = [f"<b>{self.model.rowCount():,} chunks</b>", f"<b>TTFT {fmt.ms(a.ttft_ms)}</b>"]
        if a.first_byte_ms is not None:
            facts.append(f"first byte {fmt.ms(a.first_byte_ms)}")
        facts += [
            f"total {fmt.ms(total)}",
            f"gaps: median {fmt.ms(a.gap_median_ms)}",
            f"p95 {fmt.ms(a.gap_p95_ms)}",
        ]
        if a.gap_max_ms is not None and a.longest_stall_seq is not None:
            seq = a.longest_stall_seq
            colour = c.warning if a.gap_max_ms >= stall_threshold_ms(a.gap_median_ms) else c.accent
            facts.append(
                f'max {fmt.ms(a.gap_max_ms)} before <a href="row:{seq}" '
                f'style="color:{colour}">#{seq}</a>'
            )
        speed = a.output_tokens_per_s
        facts.append(fmt.rate(speed) if speed is not None else "tok/s —")
        if call_facts.is_live(row):
            facts.append(f'<span style="color:{c.accent}">● live</span>')
        return " · ".join(facts)

    # -- selection ----------------------------------------------------------------------------

    def select_row(self, row: int) -> None:
        """Select a chunk in the table and on the timeline."""
        if not 0 <= row < self.model.rowCount():
            return
        index = self.model.index(row, SEQ)
        self.table.selectRow(row)
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.timeline.select_row(row)

    def selected_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def _on_timeline_chunk_clicked(self, row: int) -> None:
        self.select_row(row)

    def _on_table_selection_changed(self, selected: QItemSelection, _: QItemSelection) -> None:
        indexes: list[QModelIndex] = selected.indexes()
        if indexes:
            self.timeline.select_row(indexes[0].row())

    def _on_findings_finding_activated(self, seq: int) -> None:
        self.select_row(self.model.row_of_seq(seq))

    def _on_summary_link_activated(self, link: str) -> None:
        kind, _, value = link.partition(":")
        if kind == "row" and value.isdigit():
            self.select_row(self.model.row_of_seq(int(value)))
