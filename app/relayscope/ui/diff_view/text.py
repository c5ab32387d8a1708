"""What the diff view writes: numbers and deltas, values on one line, the answers' word diff
as HTML and each call's card. Pure text, so every change reads without colour too."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from relayscope.actions.diff import NumberChange, WordSpan, canonical_json
from relayscope.calls.record import CallRecord
from relayscope.protocols.conversation import content_text
from relayscope.ui import theme
from relayscope.ui.inspector._format import DASH, count, ms, one_line, rate
from relayscope.ui.inspector._style import Colours

SIGNS = {"added": "+ added", "removed": "− removed", "changed": "~ changed"}
NUMBER_TITLES = {
    "prompt_tokens": "Tokens in",
    "completion_tokens": "Tokens out",
    "total_tokens": "Tokens total",
    "cached_tokens": "Cached tokens",
    "reasoning_tokens": "Reasoning tokens",
    "ttft_ms": "TTFT",
    "first_byte_ms": "First byte",
    "duration_ms": "Total time",
    "chunk_count": "Chunks",
    "gap_median_ms": "Gap median",
    "gap_p95_ms": "Gap p95",
    "gap_max_ms": "Gap max",
    "tokens_per_s": "Tokens/s",
}
#: Smaller is better for these (a negative delta is good news).
LOWER_IS_BETTER = frozenset(
    {"ttft_ms", "first_byte_ms", "duration_ms", "gap_median_ms", "gap_p95_ms", "gap_max_ms"}
)
OUTCOME_TITLES = {"finish_reason": "Finish reason"}


def gist(value: Any) -> str:
    """What a person reads in a message or item: its text, a call's arguments, an output."""
    if isinstance(value, dict):
        for key in ("content", "arguments", "output", "input", "summary"):
            item = value.get(key)
            if isinstance(item, str):
                return item
            if isinstance(item, list) and (text := content_text(item)):
                return text
        return canonical_json(value)
    return value if isinstance(value, str) else canonical_json(value)


def short(value: Any, limit: int = 160) -> str:
    return one_line(gist(value) if not isinstance(value, str) else value, limit)


def answer_html(spans: Sequence[WordSpan], c: Colours) -> str:
    """The answers' word diff: deletions struck through, insertions underlined (and tinted)."""
    if not spans:
        return f'<p style="color:{c.muted}">Both answers are empty.</p>'
    parts = []
    for span in spans:
        text = html.escape(span.text)
        if span.op == "delete":
            parts.append(
                f'<s style="background:{c.error_bg};color:{c.error}" title="only in A">{text}</s>'
            )
        elif span.op == "insert":
            parts.append(
                f'<u style="background:{c.tint(c.ok, 0.16)};color:{c.ok}" title="only in B">'
                f"{text}</u>"
            )
        else:
            parts.append(text)
    note = ""
    if all(span.op == "equal" for span in spans):
        note = f'<p style="color:{c.muted}">The answers are identical.</p>'
    return f'{note}<div style="white-space:pre-wrap">{"".join(parts)}</div>'


def format_number(name: str, value: float | None) -> str:
    if value is None:
        return DASH
    if name.endswith("_ms"):
        return ms(value)
    if name == "tokens_per_s":
        return rate(value)
    return count(int(value))


def format_delta(change: NumberChange) -> str:
    delta = change.delta
    if delta is None:
        return ""
    if abs(delta) < 1e-9:
        return "same"
    sign = "+" if delta > 0 else "−"
    return sign + format_number(change.name, abs(delta))


def value_text(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, str):
        return one_line(value, 160)
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return one_line(canonical_json(value), 160)


def card_html(which: str, row: CallRecord, c: Colours) -> str:
    """A call's card above its column: its id (a link), provider, model, outcome, time."""
    status, state = row.get("status"), row.get("state")
    kind = theme.status_kind(status, state)
    colour = theme.kind_colour(kind, dark=c.dark).name()
    sign = {"ok": "✓", "error": "✕", "warning": "⚠", "live": "…"}.get(kind, "○")
    started = str(row.get("started_at") or "").replace("T", " ")[:19]
    return (
        f'<span style="font-size:large;font-weight:600">{which}</span>&nbsp;&nbsp;'
        f'<a style="color:{c.accent}" href="{html.escape(row["id"])}">'
        f"{html.escape(row['id'])}</a><br>"
        f"{html.escape(str(row.get('provider') or DASH))} · "
        f"<b>{html.escape(str(row.get('model') or DASH))}</b> · "
        f'<span style="color:{colour};font-weight:600">{sign} {status or DASH} '
        f"{html.escape(str(state or ''))}</span> · "
        f"{ms(row.get('duration_ms'))} · "
        f'<span style="color:{c.muted}">{html.escape(started)}</span>'
    )
