"""`analyse`: one call's stream read into its figures, its assembled answer and findings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relayscope.analysis.stream_analysis.checks import Checks
from relayscope.analysis.stream_analysis.readers import as_bytes, as_float
from relayscope.analysis.stream_analysis.result import StreamAnalysis
from relayscope.analysis.stream_analysis.scan import Scan
from relayscope.analysis.stream_stats import GapStats, Stall, percentile
from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.protocols.openai_format import assemble_body, endpoint_of


def analyse(call: CallRecord, chunks: Sequence[dict[str, Any]]) -> StreamAnalysis:
    """Analyse a call's row (as stored in `calls`) and its chunk rows (seq, t_ms, data)."""
    endpoint = call.get("endpoint") or endpoint_of(call.get("path") or "")
    scan = Scan(endpoint)
    for chunk in chunks:
        if chunk.get("direction") == "client":  # a WebSocket request, not part of the answer
            scan.client_message()
        else:
            scan.feed(int(chunk["seq"]), float(chunk["t_ms"]), chunk["data"])
    if chunks or not call.get("response_body"):
        assembled = scan.assembler.result()
    else:
        assembled = assemble_body(endpoint, as_bytes(call.get("response_body")))
    gaps = scan.gaps()
    stats = _gap_stats(gaps)
    # The chunks tell a stream's first token; a call without chunks has its recorded figure.
    ttft = scan.first_output_ms if chunks else call_facts.ttft_ms(call)
    total = as_float(call.get("duration_ms"))
    if total is None and scan.times:
        total = scan.times[-1]
    usage = assembled.usage
    tokens = usage.completion_tokens if usage else call.get("completion_tokens")
    findings = Checks(call, scan, assembled, stats.median, gaps).run()
    return StreamAnalysis(
        ttft_ms=ttft,
        first_byte_ms=call_facts.first_byte_ms(call),
        total_ms=total,
        chunk_count=len(chunks),  # a WebSocket call's client messages included
        gap_median_ms=stats.median,
        gap_p95_ms=stats.p95,
        gap_max_ms=stats.max,
        longest_stall_seq=stats.max_at_seq,
        output_tokens_per_s=call_facts.output_tokens_per_second(
            tokens, ttft if call.get("stream") or chunks else None, total
        ),
        assembled=assembled,
        findings=findings,
    )


def _gap_stats(gaps: list[Stall]) -> GapStats:
    """Median, p95 and longest of the gaps; `max_at_seq` is the chunk after the longest."""
    if not gaps:
        return GapStats(None, None, None, None)
    ordered = sorted(gap.gap_ms for gap in gaps)
    longest = max(gaps, key=lambda gap: gap.gap_ms)
    return GapStats(
        median=percentile(ordered, 0.5),
        p95=percentile(ordered, 0.95),
        max=longest.gap_ms,
        max_at_seq=longest.at_seq,
    )
