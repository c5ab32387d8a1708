"""`diff_calls`: two calls' rows compared (request, outcome, answer, usage), and the timing
figures side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from relayscope.actions.diff.answer import tool_call_changes, word_diff
from relayscope.actions.diff.changes import (
    OUTCOME_FIELDS,
    USAGE_FIELDS,
    CallDiff,
    FieldChange,
    NumberChange,
)
from relayscope.actions.diff.request import diff_requests
from relayscope.analysis.stream_stats import gap_stats
from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord


def diff_calls(
    a: CallRecord,
    b: CallRecord,
    chunks_a: Sequence[Mapping[str, Any]] | None = None,
    chunks_b: Sequence[Mapping[str, Any]] | None = None,
) -> CallDiff:
    """Compare two calls' rows (and, for gap statistics, their chunks)."""
    return CallDiff(
        a_id=str(a.get("id") or ""),
        b_id=str(b.get("id") or ""),
        request=diff_requests(a.get("request_body"), b.get("request_body")),
        outcome=tuple(FieldChange(name, a.get(name), b.get(name)) for name in OUTCOME_FIELDS),
        answer=tuple(word_diff(a.get("output_text") or "", b.get("output_text") or "")),
        tool_calls=tuple(tool_call_changes(a.get("tool_calls"), b.get("tool_calls"))),
        usage=tuple(NumberChange(f, _number(a, f), _number(b, f)) for f in USAGE_FIELDS),
        timing=tuple(_timing(a, b, chunks_a, chunks_b)),
    )


def _timing(
    a: CallRecord,
    b: CallRecord,
    chunks_a: Sequence[Mapping[str, Any]] | None,
    chunks_b: Sequence[Mapping[str, Any]] | None,
) -> list[NumberChange]:
    fields = ("ttft_ms", "first_byte_ms", "duration_ms", "chunk_count")
    out = [NumberChange(f, _number(a, f), _number(b, f)) for f in fields]
    stats_a = gap_stats([c["t_ms"] for c in chunks_a]) if chunks_a is not None else None
    stats_b = gap_stats([c["t_ms"] for c in chunks_b]) if chunks_b is not None else None
    for name in ("median", "p95", "max"):
        out.append(
            NumberChange(
                f"gap_{name}_ms",
                getattr(stats_a, name) if stats_a else None,
                getattr(stats_b, name) if stats_b else None,
            )
        )
    out.append(NumberChange("tokens_per_s", _speed(a), _speed(b)))
    return out


def _number(row: CallRecord, name: str) -> float | None:
    """A numeric column named by a variable (mypy cannot tell which, so it checks here)."""
    value = row.get(name)
    return value if isinstance(value, int | float) else None


def _speed(row: CallRecord) -> float | None:
    return call_facts.tokens_per_second(row)
