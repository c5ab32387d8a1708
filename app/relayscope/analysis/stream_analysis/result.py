"""What a stream analysis gives: its figures, and findings tied to chunks with a severity."""

from __future__ import annotations

from dataclasses import dataclass, field

from relayscope.analysis.stream_stats import MIN_STALL_MS, STALL_FACTOR
from relayscope.protocols.openai_format import Assembled

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing worth knowing about a stream; `seq` is its chunk (None: the whole call)."""

    code: str
    severity: str
    seq: int | None
    message: str


@dataclass(frozen=True, slots=True)
class StreamAnalysis:
    """Timing, the assembled answer and findings of one call's stream.

    ``ttft_ms`` is the time to the first chunk that carries output (text, reasoning, tool
    call or refusal; `relayscope.calls.facts`), ``first_byte_ms`` the time to the response's
    headers; gaps are between chunks, and
    ``longest_stall_seq`` is the chunk that ended the longest gap (None with fewer than two).
    """

    ttft_ms: float | None
    first_byte_ms: float | None
    total_ms: float | None
    chunk_count: int
    gap_median_ms: float | None
    gap_p95_ms: float | None
    gap_max_ms: float | None
    longest_stall_seq: int | None
    output_tokens_per_s: float | None
    assembled: Assembled
    findings: list[Finding] = field(default_factory=list)

    def findings_at(self, seq: int) -> list[Finding]:
        return [finding for finding in self.findings if finding.seq == seq]


def stall_threshold_ms(median_gap_ms: float | None) -> float:
    """How long a gap must be to count as a stall: max(1 s, 10x the median gap)."""
    return max(MIN_STALL_MS, STALL_FACTOR * (median_gap_ms or 0.0))
