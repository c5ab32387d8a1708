"""Provider diagnostics from the recorded calls: reliability, speed over time, and the signs
that a reseller is not what it claims (substituted models, missing or implausible usage,
streams that never finish properly, changing fingerprints), and what its calls cost."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from relayscope.analysis.cost import Cost, CostTotal, Pricer, default_pricer, format_usd
from relayscope.calls import facts as call_facts
from relayscope.calls import formatting
from relayscope.calls.record import CallRecord
from relayscope.store.call_store import CallStore

_FINGERPRINT = re.compile(r'"system_fingerprint"\s*:\s*"([^"]+)"')
# A model "differs" unless the answer's model is the asked one or a dated/versioned form of it
# (gpt-4o → gpt-4o-2024-08-06 is normal; gpt-4o → gpt-4o-mini is not).
_VERSION_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4}|\d{8}|v\d+(\.\d+)*|latest|preview)$")


@dataclass(frozen=True, slots=True)
class Sign:
    """One sign worth a person's attention, with how often it was seen and an example call."""

    code: str
    message: str
    count: int
    example: str | None


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time bucket of a provider's calls (for the small plots)."""

    start: str
    calls: int
    errors: int
    ttft_p50: float | None
    tokens_per_s_p50: float | None
    cost: CostTotal = field(default_factory=CostTotal)


@dataclass(slots=True)
class ProviderReport:
    provider: str
    calls: int = 0
    failed: int = 0  # by call_facts.is_failed: errors and interrupted calls
    errors_by_status: dict[int, int] = field(default_factory=dict)
    interrupted: int = 0
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    tokens_per_s_p50: float | None = None
    tokens_per_s_p95: float | None = None
    buckets: list[Bucket] = field(default_factory=list)
    signs: list[Sign] = field(default_factory=list)
    cost: CostTotal = field(default_factory=CostTotal)  # every call in the report, priced
    hours: float = 0.0  # from the first call's start to the last one's

    @property
    def error_rate(self) -> float:
        """Failed calls (relayscope.calls.facts) over finished calls."""
        return self.failed / self.calls if self.calls else 0.0

    @property
    def cost_per_1k_calls(self) -> Decimal | None:
        """The mean cost of the calls with a known price, times 1,000 (None: none known)."""
        return self.cost.usd / self.cost.priced * 1000 if self.cost.priced else None

    @property
    def cost_per_hour(self) -> Decimal | None:
        """The known cost over the hours the calls span; None under an hour (an estimate
        from a few minutes would say more than the calls do) or when nothing is priced."""
        if not self.cost.priced or self.hours < 1:
            return None
        return self.cost.usd / Decimal(str(self.hours))

    def cost_text(self) -> str:
        """ "$0.42 + 3 unknown · $1.20 per 1k calls · $0.05 per hour"; "unknown for all 12
        calls" when none has a known price (never $0); "—" without calls."""
        if not self.cost.priced:
            return f"unknown for all {self.cost.unknown:,} calls" if self.cost.unknown else "—"
        parts = [self.cost.text()]
        if (per_call := self.cost_per_1k_calls) is not None:
            parts.append(f"{format_usd(per_call)} per 1k calls")
        if (per_hour := self.cost_per_hour) is not None:
            parts.append(f"{format_usd(per_hour)} per hour")
        return " · ".join(parts)


COLUMNS = (
    "id, started_at, provider, model, response_model, status, state, stream, ttft_ms, "
    "duration_ms, completion_tokens, prompt_tokens, total_tokens, output_text, "
    "tool_calls, chunk_count, request_body, response_body, endpoint, cached_tokens, "
    "reasoning_tokens"
)


def diagnose(
    store: CallStore,
    provider: str,
    *,
    bucket_minutes: int = 60,
    limit: int = 5000,
    pricer: Pricer | None = None,
) -> ProviderReport:
    """The report for one provider over its most recent `limit` calls, their costs priced
    by `pricer` (the config's prices; `cost.default_pricer()` when not given)."""
    rows = store.finished_calls_of(provider, COLUMNS, limit)
    report = ProviderReport(provider, calls=len(rows))
    report.errors_by_status = dict(
        Counter(int(r["status"]) for r in rows if r["status"] and int(r["status"]) >= 400)
    )
    report.interrupted = sum(1 for r in rows if r["state"] == "interrupted")
    report.failed = sum(1 for r in rows if call_facts.is_failed(r))
    ok = [r for r in rows if not call_facts.is_failed(r)]
    ttfts = [float(r["ttft_ms"]) for r in ok if r["ttft_ms"] is not None]
    speeds = [s for r in ok if (s := _tokens_per_s(r)) is not None]
    report.ttft_p50, report.ttft_p95 = _pct(ttfts, 50), _pct(ttfts, 95)
    report.tokens_per_s_p50, report.tokens_per_s_p95 = _pct(speeds, 50), _pct(speeds, 95)
    pricer = pricer or default_pricer()
    costs = {r["id"]: pricer.price(r) for r in rows}
    report.cost = sum((CostTotal().add(c) for c in costs.values()), CostTotal())
    report.hours = _hours(rows)
    report.buckets = _buckets(rows, bucket_minutes, costs)
    report.signs = [
        s
        for s in (
            _substituted_models(ok),
            _usage_missing(ok),
            _usage_implausible(ok),
            _streams_unfinished(store, ok),
            _fingerprints(store, ok),
        )
        if s is not None
    ]
    return report


def _hours(rows: list[CallRecord]) -> float:
    try:
        first = datetime.fromisoformat(str(rows[0]["started_at"]))
        last = datetime.fromisoformat(str(rows[-1]["started_at"]))
    except (IndexError, ValueError):
        return 0.0
    return max(0.0, (last - first).total_seconds() / 3600)


def diagnose_all(store: CallStore, **kw: Any) -> list[ProviderReport]:
    return [
        diagnose(store, name, **kw) for name in store.providers() if name not in ("relayscope", "*")
    ]


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


_tokens_per_s = call_facts.tokens_per_second


def _buckets(rows: list[CallRecord], minutes: int, costs: dict[str, Cost]) -> list[Bucket]:
    groups: dict[str, list[CallRecord]] = defaultdict(list)
    for row in rows:
        stamp = str(row["started_at"] or "")
        minute = int(stamp[11:13] or 0) * 60 + int(stamp[14:16] or 0)
        first = minute - minute % minutes
        groups[f"{stamp[:10]}T{first // 60:02d}:{first % 60:02d}Z"].append(row)
    out = []
    for start, group in sorted(groups.items()):
        ok = [r for r in group if not call_facts.is_failed(r)]
        ttfts = [float(r["ttft_ms"]) for r in ok if r["ttft_ms"] is not None]
        speeds = [s for r in ok if (s := _tokens_per_s(r)) is not None]
        errors = len(group) - len(ok)
        cost = sum((CostTotal().add(costs[r["id"]]) for r in group), CostTotal())
        out.append(Bucket(start, len(group), errors, _pct(ttfts, 50), _pct(speeds, 50), cost))
    return out


def _same_model(asked: str, answered: str) -> bool:
    asked, answered = asked.lower(), answered.lower()
    if asked == answered or answered.split("/")[-1] == asked.split("/")[-1]:
        return True
    return _VERSION_SUFFIX.sub("", answered) == _VERSION_SUFFIX.sub("", asked)


def _substituted_models(rows: list[CallRecord]) -> Sign | None:
    pairs = Counter(
        (r["model"], r["response_model"])
        for r in rows
        if r["model"] and r["response_model"] and not _same_model(r["model"], r["response_model"])
    )
    if not pairs:
        return None
    (asked, answered), _ = pairs.most_common(1)[0]
    count = sum(pairs.values())
    example = next(r["id"] for r in rows if (r["model"], r["response_model"]) == (asked, answered))
    return Sign(
        "model_substituted",
        f"{count} answers came from another model than the one "
        f"asked for (e.g. asked {asked}, answered {answered}).",
        count,
        example,
    )


def _usage_missing(rows: list[CallRecord]) -> Sign | None:
    missing = [
        r
        for r in rows
        if r["endpoint"] in ("chat.completions", "responses", "completions", "messages")
        and not r["completion_tokens"]
        and (r["output_text"] or r["tool_calls"])
    ]
    if not missing:
        return None
    return Sign(
        "usage_missing",
        f"{len(missing)} of {len(rows)} answers reported no usage "
        "(or zero output tokens) although they carried text.",
        len(missing),
        missing[0]["id"],
    )


def _estimate_tokens(text: str) -> float:
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return ascii_chars / 4 + (len(text) - ascii_chars) / 1.5


def _usage_implausible(rows: list[CallRecord]) -> Sign | None:
    odd = []
    for row in rows:
        text, reported = row["output_text"] or "", row["completion_tokens"]
        if not text or not reported:
            continue
        estimate = _estimate_tokens(text)
        if abs(estimate - reported) > 20 and (reported > 3 * estimate or estimate > 3 * reported):
            odd.append(row)
    if not odd:
        return None
    first = odd[0]
    return Sign(
        "usage_implausible",
        f"{len(odd)} answers report output tokens far from their "
        f"length (e.g. {first['completion_tokens']} tokens for about "
        f"{_estimate_tokens(first['output_text'] or ''):.0f} tokens of text, estimated at "
        "4 characters a token).",
        len(odd),
        first["id"],
    )


def _streams_unfinished(store: CallStore, rows: list[CallRecord]) -> Sign | None:
    chat = [
        r for r in rows if r["stream"] and r["endpoint"] == "chat.completions" and r["chunk_count"]
    ]
    if len(chat) < 3:
        return None
    lacking = 0
    for row in chat:
        chunks = store.chunks(row["id"])
        if not chunks or "[DONE]" not in str(chunks[-1]["data"]):
            lacking += 1
    if lacking < len(chat):
        return None
    return Sign(
        "streams_without_done",
        f"None of the {len(chat)} chat streams ended with [DONE].",
        lacking,
        chat[0]["id"],
    )


def _fingerprints(store: CallStore, rows: list[CallRecord]) -> Sign | None:
    seen: dict[str, str] = {}
    for row in rows:
        source = row["response_body"]
        if source is None and row["stream"]:
            chunks = store.chunks(row["id"])
            source = chunks[0]["data"] if chunks else None
        match = _FINGERPRINT.search(str(source or ""))
        if match:
            seen.setdefault(match.group(1), row["id"])
    if len(seen) < 2:
        return None
    names = ", ".join(sorted(seen)[:5])
    return Sign(
        "fingerprint_changed",
        f"{len(seen)} different system_fingerprint values "
        f"({names}): the backend behind this provider changed.",
        len(seen),
        next(iter(seen.values())),
    )


def as_markdown(reports: list[ProviderReport]) -> str:
    lines = ["# Provider diagnostics", ""]
    for r in reports:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(r.errors_by_status.items()))
        lines += [
            f"## {r.provider}",
            "",
            f"- calls: {r.calls}; error rate {r.error_rate:.1%} ({statuses or 'none'});"
            f" interrupted: {r.interrupted}",
            f"- TTFT p50 {_ms(r.ttft_p50)}, p95 {_ms(r.ttft_p95)}; tokens/s p50 "
            f"{_num(r.tokens_per_s_p50)}, p95 {_num(r.tokens_per_s_p95)}",
            f"- cost: {r.cost_text()}",
        ]
        lines += [f"- **{s.code}**: {s.message} (example: {s.example})" for s in r.signs]
        lines.append("")
    return "\n".join(lines)


def as_json(reports: list[ProviderReport]) -> str:
    def encode(r: ProviderReport) -> dict[str, Any]:
        return {
            "provider": r.provider,
            "calls": r.calls,
            "failed": r.failed,
            "error_rate": r.error_rate,
            "errors_by_status": r.errors_by_status,
            "interrupted": r.interrupted,
            "ttft_ms": {"p50": r.ttft_p50, "p95": r.ttft_p95},
            "tokens_per_s": {"p50": r.tokens_per_s_p50, "p95": r.tokens_per_s_p95},
            "cost": r.cost.as_json()
            | {
                "per_1k_calls": _float(r.cost_per_1k_calls),
                "per_hour": _float(r.cost_per_hour),
            },
            "buckets": [_bucket(b) for b in r.buckets],
            "signs": [
                {"code": s.code, "message": s.message, "count": s.count, "example": s.example}
                for s in r.signs
            ],
        }

    return json.dumps([encode(r) for r in reports], indent=2)


def _bucket(b: Bucket) -> dict[str, Any]:
    return {
        "start": b.start,
        "calls": b.calls,
        "errors": b.errors,
        "ttft_p50": b.ttft_p50,
        "tokens_per_s_p50": b.tokens_per_s_p50,
        "cost": b.cost.as_json(),
    }


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


_ms = formatting.duration_ms


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
