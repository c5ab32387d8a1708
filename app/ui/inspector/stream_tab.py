"""StreamTab: a stream's chunks as a timeline above a table, with its timing summary."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
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

from app.core.stream_stats import (
    GapStats,
    Stall,
    find_stalls,
    gap_stats,
    output_tokens_per_second,
    stall_threshold_ms,
)
from app.ui.inspector import _format as fmt
from app.ui.inspector._style import SPACING, colours, monospace_font
from app.ui.inspector.chunk_model import DELTA, EVENT, GAP, SEQ, TIME, ChunkTableModel
from app.ui.inspector.stream_timeline import StreamTimeline

# Chunk kinds that carry model output: the first of them is the first token.
_TOKEN_EVENTS = frozenset({"content", "reasoning", "tool_call", "refusal"})
_COLUMN_WIDTHS = {SEQ: 56, TIME: 80, GAP: 88, EVENT: 264, DELTA: 320}


class StreamTab(QWidget):
    """Summary line, timeline strip and chunk table, kept in step with each other."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row: dict[str, Any] = {}
        self._first_token_row: int | None = None
        self._first_token_scanned = 0
        self.stats = GapStats(None, None, None, None)
        self.stall_list: list[Stall] = []
        self.summary = QLabel(self)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.linkActivated.connect(self._on_summary_link_activated)
        self.timeline = StreamTimeline(self)
        self.timeline.chunk_clicked.connect(self._on_timeline_chunk_clicked)
        self.model = ChunkTableModel(self)
        self.table = self._table()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, SPACING, 0, 0)
        layout.setSpacing(SPACING)
        self.summary.setContentsMargins(SPACING, 0, SPACING, 0)
        layout.addWidget(self.summary)
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

    def set_call(self, row: dict[str, Any], chunks: Iterable[Mapping[str, Any]]) -> None:
        self._row = row
        self._first_token_row = None
        self._first_token_scanned = 0
        c = colours(self.palette())
        self.model.set_looks(monospace_font(), c.error, c.error_bg, c.warning, c.warning_bg)
        self.model.set_chunks(chunks)
        self._update_stats()
        if self.model.rowCount() > 0:
            self.table.scrollToTop()

    def append_chunks(self, row: dict[str, Any], chunks: Iterable[Mapping[str, Any]]) -> int:
        """Add a live stream's new chunks; keeps the selection, follows the end if it was there."""
        self._row = {**self._row, **row}
        bar = self.table.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 2
        added = self.model.append_chunks(chunks)
        if added or row:
            self._update_stats()
        if added and following:
            self.table.scrollToBottom()
        return added

    def _update_stats(self) -> None:
        times = self.model.times()
        self.stats = gap_stats(times)
        threshold = stall_threshold_ms(self.stats)
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

    def first_token_ms(self) -> float | None:
        """When the first chunk with model output arrived (else the recorded TTFT)."""
        if self._first_token_row is None:
            for i in range(self._first_token_scanned, self.model.rowCount()):
                chunk = self.model.row_at(i)
                if chunk.event_type in _TOKEN_EVENTS or chunk.event_type.endswith(".delta"):
                    self._first_token_row = i
                    break
            self._first_token_scanned = self.model.rowCount()
        if self._first_token_row is not None:
            return self.model.row_at(self._first_token_row).t_ms
        ttft = self._row.get("ttft_ms")
        return float(ttft) if ttft is not None else None

    # -- summary ------------------------------------------------------------------------------

    def _summary_html(self) -> str:
        c = colours(self.palette())
        row, stats = self._row, self.stats
        count = self.model.rowCount()
        times = self.model.times()
        total = row.get("duration_ms") or (times[-1] if times else None)
        speed = output_tokens_per_second(row.get("completion_tokens"), row.get("ttft_ms"), total)
        facts = [
            f"<b>{count:,} chunks</b>",
            f"TTFT {fmt.ms(row.get('ttft_ms'))}",
        ]
        first, ttft = self.first_token_ms(), row.get("ttft_ms")
        if first is not None and ttft is not None and first - ttft > max(50.0, 0.1 * ttft):
            facts.append(f"first text at {fmt.ms(first)}")
        facts += [
            f"total {fmt.ms(total)}",
            f"gaps: median {fmt.ms(stats.median)}",
            f"p95 {fmt.ms(stats.p95)}",
        ]
        if stats.max is not None and stats.max_at_seq is not None:
            longest = f'max {fmt.ms(stats.max)} before <a href="row:{stats.max_at_seq}" ' + (
                f'style="color:{c.accent}">#{stats.max_at_seq}</a>'
            )
            facts.append(longest)
        facts.append(fmt.rate(speed) if speed is not None else "tok/s —")
        if row.get("state") in ("pending", "streaming"):
            facts.append(f'<span style="color:{c.accent}">● live</span>')
        return " · ".join(facts) + self._findings_html(c.warning, c.error)

    def _findings_html(self, warning: str, error: str) -> str:
        """Stalls and invalid chunks, each a link that selects its chunk."""
        findings = [
            f'<a href="row:{s.at_seq}" style="color:{warning}; font-weight:600">'
            f"⚠ {escape(s.label)} before #{s.at_seq}</a>"
            for s in self.stall_list[:5]
        ]
        if len(self.stall_list) > 5:
            findings.append(f"and {len(self.stall_list) - 5} more stalls")
        invalid = self.model.invalid_rows()
        findings += [
            f'<a href="row:{r}" style="color:{error}; font-weight:600">⚠ not valid JSON: #{r}</a>'
            for r in invalid[:5]
        ]
        if len(invalid) > 5:
            findings.append(f"and {len(invalid) - 5} more invalid chunks")
        return ("<br>" + " &nbsp; ".join(findings)) if findings else ""

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

    def _on_summary_link_activated(self, link: str) -> None:
        kind, _, value = link.partition(":")
        if kind == "row" and value.isdigit():
            self.select_row(self.model.row_of_seq(int(value)))
