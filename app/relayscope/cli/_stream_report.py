"""`relayscope show --stream`: the stream debugger (summary, timeline of chunks, findings)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from relayscope.analysis.stream_analysis import ERROR, INFO, WARNING, StreamAnalysis, analyse
from relayscope.analysis.stream_stats import event_label
from relayscope.calls.formatting import duration_ms as _ms
from relayscope.calls.record import CallRecord
from relayscope.calls.safe_text import visible
from relayscope.cli._common import cut

_MARKS = {ERROR: "✗", WARNING: "!", INFO: "i"}
_HEAD = 20  # chunks shown at the start of a long stream
_TAIL = 10  # and at its end
_EVENT_WIDTH = 26
_ALL_UP_TO = _HEAD + _TAIL + 10  # streams this short are shown whole


@dataclass(frozen=True, slots=True)
class _Colours:
    """ANSI colours for severities; off unless stdout is a terminal (and NO_COLOR is unset)."""

    on: bool

    def severity(self, severity: str, text: str) -> str:
        if not self.on:
            return text
        code = {ERROR: "31;1", WARNING: "33", INFO: "2"}.get(severity, "0")
        return f"\x1b[{code}m{text}\x1b[0m"


def stream_report(
    call: CallRecord,
    chunks: list[dict[str, Any]],
    *,
    width: int = 100,
    colour: bool = False,
) -> list[str]:
    """Summary, timeline and findings of one call's stream, as lines of text."""
    colours = _Colours(on=colour)
    analysis = analyse(call, chunks)
    lines = ["", *_stream_summary(call, analysis)]
    if chunks:
        lines += ["", *_timeline(chunks, analysis, width, colours)]
    lines += ["", *_findings(analysis, width, colours)]
    return lines


def _stream_summary(call: CallRecord, analysis: StreamAnalysis) -> list[str]:
    ttft = f"TTFT {_ms(analysis.ttft_ms)}"
    if analysis.first_byte_ms is not None:
        ttft += f" (first byte {_ms(analysis.first_byte_ms)})"
    speed = analysis.output_tokens_per_s
    rate = f"{speed:,.1f} tok/s" if speed is not None else "tok/s —"
    lines = [
        f"Stream   {analysis.chunk_count:,} chunks · {ttft} · total {_ms(analysis.total_ms)}"
        f" · {rate}"
    ]
    if analysis.gap_median_ms is None:
        lines.append("Gaps     — (fewer than two chunks)")
    else:
        lines.append(
            f"Gaps     median {_ms(analysis.gap_median_ms)} · p95 {_ms(analysis.gap_p95_ms)}"
            f" · max {_ms(analysis.gap_max_ms)} before chunk {analysis.longest_stall_seq}"
        )
    return lines


def _timeline(
    chunks: list[dict[str, Any]], analysis: StreamAnalysis, width: int, colours: _Colours
) -> list[str]:
    """One line per chunk; a long stream shows its start, end, longest stall and findings."""
    worst: dict[int, str] = {}
    for finding in reversed(analysis.findings):  # findings come worst first
        if finding.seq is not None:
            worst[finding.seq] = finding.severity
    index_of = {chunk["seq"]: i for i, chunk in enumerate(chunks)}
    lines = [f"  {'seq':>5} {'t':>10} {'+gap':>11}  {'event':<{_EVENT_WIDTH}} delta"]
    previous_index, previous_t = -1, 0.0
    for i in _shown(len(chunks), analysis, index_of, worst):
        if i > previous_index + 1:
            lines.append(f"  {'':>5} … {i - previous_index - 1:,} chunks …")
        chunk = chunks[i]
        if i > 0:
            previous_t = chunks[i - 1]["t_ms"]
        severity = worst.get(chunk["seq"])
        mark = colours.severity(severity, _MARKS[severity]) if severity else " "
        lines.append(mark + _chunk_line(chunk, chunk["t_ms"] - previous_t, width - 1))
        previous_index = i
    return lines


def _shown(
    count: int, analysis: StreamAnalysis, index_of: dict[int, int], worst: dict[int, str]
) -> list[int]:
    if count <= _ALL_UP_TO:
        return list(range(count))
    keep = set(range(_HEAD)) | set(range(count - _TAIL, count))
    if analysis.longest_stall_seq in index_of:
        i = index_of[analysis.longest_stall_seq]
        keep.update(range(i - 2, i + 3))
    for seq in list(worst)[:30]:
        if seq in index_of:
            keep.update(range(index_of[seq] - 1, index_of[seq] + 2))
    return sorted(i for i in keep if 0 <= i < count)


def _chunk_line(chunk: dict[str, Any], gap: float, width: int) -> str:
    data = chunk["data"]
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
    label = event_label(text)
    event = visible(label.event_type)
    if len(event) > _EVENT_WIDTH and event.startswith("response."):
        event = event.removeprefix("response.")
    if chunk.get("direction") == "client":
        event = "→ " + event  # the client's message on a WebSocket
    head = (
        f" {chunk['seq']:>5} {_ms(chunk['t_ms']):>10} {'+' + _ms(gap):>11}  "
        f"{cut(event, _EVENT_WIDTH):<{_EVENT_WIDTH}} "
    )
    delta = visible(_flat(label.delta_text))
    return (head + cut(delta, max(10, width - len(head)))).rstrip()


def _findings(analysis: StreamAnalysis, width: int, colours: _Colours) -> list[str]:
    if not analysis.findings:
        return ["Findings: none; the stream looks healthy."]
    lines = [f"Findings ({len(analysis.findings)})"]
    indent = " " * 18
    for finding in analysis.findings:
        where = f"#{finding.seq}" if finding.seq is not None else "—"
        head = f"  {finding.severity:<8} {where:<6} "
        wrapped = textwrap.wrap(
            visible(finding.message),
            width=width,
            initial_indent=head,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        wrapped[0] = wrapped[0].replace(
            finding.severity, colours.severity(finding.severity, finding.severity), 1
        )
        lines += wrapped
    return lines


def _flat(text: str) -> str:
    return text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", "→")
