"""A call or a session as one self-contained HTML page to share: the conversation, the stream
timeline (inline SVG), findings, tokens and cost, with secrets redacted.

The page loads nothing: inline CSS, no scripts, no external fonts, images or links, and a
Content-Security-Policy that forbids every load should something slip through. Every recorded
text is redacted, then escaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from relayscope.analysis.cost import Pricer
from relayscope.analysis.sessions import SessionReport, summary_of
from relayscope.analysis.stream_analysis import analyse
from relayscope.calls import formatting
from relayscope.calls.record import CallRecord
from relayscope.exchange.redaction import Redactor
from relayscope.protocols.conversation import Turn, turns
from relayscope.protocols.prompts import CHARS_PER_TOKEN, PART_TITLES, PARTS

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)
_CSS = """
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --accent: #2563eb;
  --ok: #15803d; --warn: #b45309; --err: #b91c1c; --tool: #7c3aed; --bg2: rgba(127,127,127,.08); }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
  max-width: 1100px; padding: 0 16px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.meta, .muted { color: var(--muted); }
table { border-collapse: collapse; } td, th { padding: 3px 12px 3px 0; text-align: left;
  vertical-align: top; } th { color: var(--muted); font-weight: 500; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.msg { border-left: 3px solid var(--muted); background: var(--bg2); margin: 0 0 6px;
  padding: 6px 10px; } .msg .who { font-weight: 600; font-size: 12px; }
.msg pre, pre { white-space: pre-wrap; word-break: break-word; margin: 2px 0 0;
  font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; }
.r-user { border-color: var(--accent); } .r-assistant { border-color: var(--ok); }
.r-tool_call { border-color: var(--warn); } .r-tool_result { border-color: var(--tool); }
.sev-error { color: var(--err); font-weight: 600; } .sev-warning { color: var(--warn); }
.bar { display: flex; height: 12px; width: 320px; border: 1px solid var(--line); }
.bar span { display: block; height: 100%; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
"""
_PART_COLOURS = {
    "system": "#64748b",
    "tools": "#0ea5e9",
    "user": "#2563eb",
    "assistant": "#16a34a",
    "tool_output": "#7c3aed",
    "new_input": "#f59e0b",
    "images": "#db2777",
}
_ROLE_TITLES = {"tool_call": "Tool call", "tool_result": "Tool result"}


def _e(text: object) -> str:
    return escape("" if text is None else str(text), quote=True)


def _page(title: str, body: str) -> str:
    shared = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="meta">Shared from Relayscope on {shared}. Keys, '
        "credentials, cookies and query-string secrets are redacted.</p>"
        f"{body}</body></html>\n"
    )


def call_page(
    call: CallRecord, chunks: Sequence[dict[str, Any]], pricer: Pricer, redact: Redactor
) -> str:
    """One call: its facts, conversation, answer, stream timeline and findings."""
    title = f"{call.get('model') or 'call'} · {call.get('id')}"
    body = _facts_table([(k, redact.text(v)) for k, v in _call_facts(call, pricer)])
    body += "<h2>Conversation</h2>" + _conversation(call, redact)
    body += "<h2>Answer</h2>" + _answer(call, redact)
    body += _stream(call, chunks, redact)
    body += _headers(call, redact)
    return _page(redact.text(title), body)


def session_page(
    report: SessionReport, chunks_of: dict[str, list[dict[str, Any]]], redact: Redactor
) -> str:
    """A session: totals, one row per turn, then each turn's input, answers and streams."""
    summary = summary_of(report)
    hit = "not reported" if summary.cache_hit_rate is None else f"{summary.cache_hit_rate:.0%}"
    facts = [
        ("Session", report.id),
        ("Client", report.client or "—"),
        ("Started", report.started_at),
        ("Turns · calls", f"{summary.turns} · {summary.calls}"),
        (
            "Tokens in",
            f"{summary.tokens.input_tokens:,} ({summary.tokens.cache_read_tokens:,} cached, {hit})",
        ),
        (
            "Tokens out",
            f"{summary.tokens.output_tokens:,} ({summary.tokens.reasoning_tokens:,} reasoning)",
        ),
        ("Cost", summary.cost.text()),
    ]
    body = _facts_table([(k, redact.text(v)) for k, v in facts]) + _turns_table(report)
    for turn in report.turns:
        body += f'<h2 id="turn-{turn.index}">Turn {turn.index}</h2>'
        if turn.new_input:
            body += _message(Turn("user", turn.new_input), redact)
        if turn.context:
            body += _context_bar(turn.context)
        for entry in turn.calls:
            call = entry.call
            retry = " (retry)" if entry.retry else ""
            body += (
                f"<h3>Call {_e(redact.text(call.get('id')))}{retry} · "
                f"{_e(call.get('status') or '—')} {_e(call.get('state') or '')} · "
                f"{_e(entry.cost.text())}</h3>"
            )
            if entry.cache_miss:
                body += (
                    f'<p class="sev-warning">Cache missed: {_e(redact.text(entry.cache_miss))}</p>'
                )
            body += _answer(call, redact)
            body += _stream(call, chunks_of.get(str(call.get("id")), []), redact, level="h3")
    return _page(f"Session {redact.text(report.id)}", body)


def _headers(call: CallRecord, redact: Redactor) -> str:
    out = ""
    for headers, title in (
        (call.get("request_headers"), "Request"),
        (call.get("response_headers"), "Response"),
    ):
        try:
            pairs = json.loads(headers or "[]")
        except ValueError:
            continue
        rows = [(str(p[0]), str(p[1])) for p in pairs if isinstance(p, list) and len(p) == 2]
        if rows:
            cells = "".join(
                f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in redact.headers(rows)
            )
            out += f"<details><summary>{title} headers</summary><table>{cells}</table></details>"
    return out


def _call_facts(call: CallRecord, pricer: Pricer) -> list[tuple[str, str]]:
    cost = pricer.price(call)
    tokens = "—"
    if call.get("prompt_tokens") is not None or call.get("completion_tokens") is not None:
        tokens = (
            f"{call.get('prompt_tokens') or 0:,} in ({call.get('cached_tokens') or 0:,} cached)"
            f" · {call.get('completion_tokens') or 0:,} out "
            f"({call.get('reasoning_tokens') or 0:,} reasoning)"
        )
    return [
        ("Provider · model", f"{call.get('provider') or '—'} · {call.get('model') or '—'}"),
        ("Endpoint", f"{call.get('method') or ''} {call.get('path') or ''}"),
        ("Status", f"{call.get('status') or '—'} {call.get('state') or ''}"),
        ("Started", str(call.get("started_at") or "—")),
        ("TTFT · duration", f"{_ms(call.get('ttft_ms'))} · {_ms(call.get('duration_ms'))}"),
        ("Tokens", tokens),
        ("Cost", f"{cost.text()} ({cost.basis})"),
        ("Error", str(call.get("error") or "")),
    ]


def _facts_table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v)
    return f"<table>{cells}</table>"


def _turns_table(report: SessionReport) -> str:
    head = (
        "<h2>Turns</h2><table><tr><th>turn</th><th class=n>calls</th><th class=n>input</th>"
        "<th class=n>cached</th><th class=n>output</th><th class=n>cost</th>"
        "<th class=n>so far</th><th class=n>context ≈ tokens</th><th>context</th></tr>"
    )
    rows = ""
    for t in report.turns:
        tokens = t.tokens
        rows += (
            f'<tr><td><a href="#turn-{t.index}">{t.index}</a></td><td class=n>{len(t.calls)}</td>'
            f"<td class=n>{tokens.input_tokens:,}</td><td class=n>{tokens.cache_read_tokens:,}"
            f"</td><td class=n>{tokens.output_tokens:,}</td><td class=n>{_e(t.cost.text())}</td>"
            f"<td class=n>{_e(t.cumulative_cost.text())}</td>"
            f"<td class=n>{t.context_chars // CHARS_PER_TOKEN:,}</td>"
            f"<td>{_bar(t.context)}</td></tr>"
        )
    legend = "".join(
        f'<span style="background:{_PART_COLOURS[p]}"></span>{_e(PART_TITLES[p])}' for p in PARTS
    )
    return (
        f'{head}{rows}</table><p class="legend muted">Context (characters / 4, no '
        f"tokenizer):{legend}</p>"
    )


def _bar(parts: dict[str, int]) -> str:
    total = sum(parts.values()) or 1
    spans = "".join(
        f'<span title="{_e(PART_TITLES[p])}" style="width:{100 * parts[p] / total:.2f}%;'
        f'background:{_PART_COLOURS[p]}"></span>'
        for p in PARTS
        if parts.get(p)
    )
    return f'<div class="bar">{spans}</div>'


def _context_bar(parts: dict[str, int]) -> str:
    figures = " · ".join(
        f"{_e(PART_TITLES[p])} {parts[p] // CHARS_PER_TOKEN:,}" for p in PARTS if parts.get(p)
    )
    return f'{_bar(parts)}<p class="muted">Context ≈ tokens: {figures}</p>'


def _message(turn: Turn, redact: Redactor) -> str:
    title = _ROLE_TITLES.get(turn.role, turn.role.capitalize())
    if turn.name:
        title += f" · {turn.name}"
    return (
        f'<div class="msg r-{_e(turn.role)}"><div class="who">{_e(redact.text(title))}</div>'
        f"<pre>{_e(redact.text(turn.text))}</pre></div>"
    )


def _conversation(call: CallRecord, redact: Redactor) -> str:
    body = call.get("request_body")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    shown = turns(str(call.get("endpoint") or ""), body)
    if not shown:
        return '<p class="muted">No conversation in this request.</p>'
    return "".join(_message(t, redact) for t in shown)


def _answer(call: CallRecord, redact: Redactor) -> str:
    parts = []
    if call.get("reasoning_text"):
        parts.append(_message(Turn("reasoning", str(call["reasoning_text"])), redact))
    if call.get("output_text"):
        parts.append(_message(Turn("assistant", str(call["output_text"])), redact))
    try:
        tool_calls = json.loads(call.get("tool_calls") or "[]")
    except ValueError:
        tool_calls = []
    for tool in tool_calls if isinstance(tool_calls, list) else []:
        if isinstance(tool, dict):
            function = tool.get("function") or tool.get("custom") or {}
            args = function.get("arguments", function.get("input", ""))
            parts.append(
                _message(Turn("tool_call", str(args), name=str(function.get("name", ""))), redact)
            )
    return "".join(parts) or '<p class="muted">No answer recorded.</p>'


def _stream(
    call: CallRecord, chunks: Sequence[dict[str, Any]], redact: Redactor, level: str = "h2"
) -> str:
    if not chunks:
        return ""
    analysis = analyse(call, list(chunks))
    stats = (
        f"{analysis.chunk_count:,} chunks · TTFT {_ms(analysis.ttft_ms)} · total "
        f"{_ms(analysis.total_ms)} · longest gap {_ms(analysis.gap_max_ms)}"
    )
    out = f'<{level}>Stream</{level}><p class="muted">{_e(stats)}</p>{timeline_svg(chunks)}'
    if analysis.findings:
        items = "".join(
            f'<li><span class="sev-{_e(f.severity)}">{_e(f.severity)}</span> '
            f"{'#' + str(f.seq) + ' ' if f.seq is not None else ''}"
            f"{_e(redact.text(f.message))}</li>"
            for f in analysis.findings
        )
        out += f"<p>Findings</p><ul>{items}</ul>"
    else:
        out += '<p class="muted">Findings: none; the stream looks healthy.</p>'
    return out


def timeline_svg(chunks: Sequence[dict[str, Any]], width: int = 1000, height: int = 56) -> str:
    """Chunk arrival times as ticks on a time axis; the longest gap shaded and labelled."""
    times = [float(c.get("t_ms") or 0) for c in chunks]
    total = max(times[-1], 1.0)
    x = [8 + (width - 16) * t / total for t in times]
    ticks = "".join(f'<line x1="{v:.1f}" y1="8" x2="{v:.1f}" y2="34"/>' for v in x)
    shade = ""
    if len(times) > 1:
        gaps = [(times[i] - times[i - 1], i) for i in range(1, len(times))]
        gap, i = max(gaps)
        shade = (
            f'<rect x="{x[i - 1]:.1f}" y="6" width="{max(1.0, x[i] - x[i - 1]):.1f}" '
            f'height="30" fill="#f59e0b" fill-opacity="0.25"/>'
            f'<text x="{(x[i - 1] + x[i]) / 2:.1f}" y="50" text-anchor="middle">'
            f"gap {_e(_ms(gap))}</text>"
        )
    return (
        f'<svg width="100%" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="chunk arrival times">{shade}'
        f'<g stroke="#2563eb" stroke-width="1">{ticks}</g>'
        f'<text x="8" y="50">0</text><text x="{width - 8}" y="50" text-anchor="end">'
        f"{_e(_ms(total))}</text></svg>"
    )


def _ms(value: object) -> str:
    return formatting.duration_ms(value) if isinstance(value, int | float) else formatting.DASH
