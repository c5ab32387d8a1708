"""The Overview's HTML: a conversation as chat bubbles, the answer, and the call's facts.

One generated document per pane (QTextBrowser) instead of a widget per message, so a Codex
request with dozens of items renders in milliseconds. Every recorded text is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from relayscope.analysis.cost import default_pricer, load_prices_in_background, prices_loaded
from relayscope.calls import facts as call_facts
from relayscope.calls.formatting import timestamp
from relayscope.calls.record import CallRecord
from relayscope.protocols.conversation import Turn
from relayscope.ui.inspector import _format as fmt
from relayscope.ui.inspector._json_text import json_list
from relayscope.ui.inspector._style import Colours, status_colour

#: Longer texts are shown cut, with a link to show all of them (the answer never is).
FOLD_CHARS = 800
FOLD_LINES = 12
#: Conversations longer than this show their last MAX_TURNS turns first.
MAX_TURNS = 200

_ROLE_TITLES = {
    "system": "System",
    "developer": "Developer",
    "user": "User",
    "assistant": "Assistant",
    "tool_call": "Tool call",
    "tool_result": "Tool result",
    "reasoning": "Reasoning",
}
_CODE_ROLES = frozenset({"tool_call", "tool_result"})

#: What the Cost fact says while the price list is still loading.
LOADING_PRICES = "Loading prices…"


@dataclass(slots=True)
class Answer:
    """The assembled answer, from the recorded row or from a live stream so far."""

    output_text: str = ""
    reasoning_text: str = ""
    refusal: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    live: bool = False
    chunks: int = 0


@dataclass(slots=True)
class OverviewState:
    """What the person opened: folded texts, reasoning, older turns."""

    expanded: set[str] = field(default_factory=set)
    show_reasoning: bool = False
    all_turns: bool = False


def answer_of(row: CallRecord) -> Answer:
    return Answer(
        output_text=str(row.get("output_text") or ""),
        reasoning_text=str(row.get("reasoning_text") or ""),
        tool_calls=[c for c in json_list(row.get("tool_calls")) if isinstance(c, dict)],
    )


def role_colour(c: Colours, role: str) -> str:
    return {
        "user": c.accent,
        "assistant": c.ok,
        "tool_call": c.warning,
        "tool_result": c.tool,
        "reasoning": c.muted,
    }.get(role, c.muted)


# --- conversation ---------------------------------------------------------------------------


def _pretty_json_text(text: str) -> str:
    """JSON text on one line when short, indented when not; other text as it is."""
    if not text.lstrip().startswith(("{", "[")):
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    compact = json.dumps(value, ensure_ascii=False)
    return compact if len(compact) <= 160 else json.dumps(value, indent=2, ensure_ascii=False)


def _folded(text: str, key: str, state: OverviewState, c: Colours) -> tuple[str, str]:
    """(text to show, link html) — cut long texts unless opened (or the answer)."""
    lines = text.count("\n") + 1
    if key in state.expanded or key == "answer":
        return text, ""
    if len(text) <= FOLD_CHARS and lines <= FOLD_LINES:
        return text, ""
    cut = "\n".join(text.split("\n", FOLD_LINES)[:FOLD_LINES])[:FOLD_CHARS]
    size = f"{len(text):,} characters" + (f", {lines:,} lines" if lines > 1 else "")
    link = (
        f'<p style="margin:4px 0 0 0"><a href="expand:{key}" style="color:{c.accent}">'
        f"Show all ({size})</a></p>"
    )
    return cut + " …", link


def bubble(
    c: Colours,
    mono: str,
    role: str,
    title: tuple[str, ...],
    text: str,
    key: str,
    state: OverviewState,
) -> str:
    """One message: a coloured edge, who (and which tool) on the left, the text on the right.

    `title` is the role's name, then details shown smaller (tool name, call id).
    """
    colour = role_colour(c, role)
    background = c.tint(colour, 0.08)
    shown, more = _folded(text, key, state, c)
    if role in _CODE_ROLES:
        body = (
            f"<pre style=\"font-family:'{mono}'; margin:0; white-space:pre-wrap\">"
            f"{escape(shown)}</pre>"
        )
    elif not text:
        body = f'<p style="color:{c.muted}; margin:0"><i>(empty)</i></p>'
    else:
        style = "white-space:pre-wrap; margin:0"
        if role == "reasoning":
            style += f"; color:{c.muted}; font-style:italic"
        body = f'<p style="{style}">{escape(shown)}</p>'
    who = f'<span style="color:{colour}; font-weight:600">{escape(title[0])}</span>'
    details = [f'<span style="color:{c.muted}">{escape(t)}</span>' for t in title[1:2]]
    details += [  # ids are long and only for matching calls to results: smaller
        f'<span style="color:{c.muted}; font-size:small">{escape(t)}</span>' for t in title[2:]
    ]
    who += "".join(f"<br>{d}" for d in details)
    return (
        '<table width="100%" cellspacing="0" cellpadding="0" style="margin-bottom:4px">'
        f'<tr><td width="3" style="background-color:{colour}"></td>'
        f'<td width="{_WHO_WIDTH}" valign="top" '
        f'style="background-color:{background}; padding:6px 8px">{who}</td>'
        f'<td valign="top" style="background-color:{background}; padding:6px 8px 6px 0">'
        f"{body}{more}</td></tr></table>"
    )


_WHO_WIDTH = 168


def _turn_title(turn: Turn, tool_names: dict[str, str]) -> tuple[str, ...]:
    title = _ROLE_TITLES.get(turn.role, turn.role.capitalize() or "Message")
    if turn.role == "tool_call":
        return (title, turn.name or "?", turn.call_id) if turn.call_id else (title, turn.name)
    if turn.role == "tool_result":
        name = tool_names.get(turn.call_id, "")
        return (title, *(x for x in (name, turn.call_id) if x))
    return (title, turn.name) if turn.name else (title,)


def conversation_html(
    turns: Sequence[Turn], c: Colours, mono: str, state: OverviewState, has_answer: bool
) -> str:
    tool_names = {t.call_id: t.name for t in turns if t.role == "tool_call" and t.call_id}
    calls = sum(1 for t in turns if t.role == "tool_call")
    summary = f"{len(turns):,} message{'s' if len(turns) != 1 else ''}"
    if calls:
        summary += f" · {calls:,} tool call{'s' if calls != 1 else ''}"
    jump = (
        f' &nbsp; <a href="#answer" style="color:{c.accent}">Jump to the answer ↓</a>'
        if has_answer and len(turns) > 3
        else ""
    )
    parts = [_heading(c, "Request", summary + jump)]
    first = 0
    if len(turns) > MAX_TURNS and not state.all_turns:
        first = len(turns) - MAX_TURNS
        parts.append(
            f'<p><a href="expand:all-turns" style="color:{c.accent}">'
            f"Show the {first:,} earlier messages</a></p>"
        )
    for i in range(first, len(turns)):
        turn = turns[i]
        text = _pretty_json_text(turn.text) if turn.role in _CODE_ROLES else turn.text
        parts.append(bubble(c, mono, turn.role, _turn_title(turn, tool_names), text, str(i), state))
    if not turns:
        parts.append(
            f'<p style="color:{c.muted}">No conversation in this request '
            "(not chat, responses or completions JSON). See the Request tab.</p>"
        )
    return "".join(parts)


def _heading(c: Colours, title: str, detail: str = "", anchor: str = "") -> str:
    name = f'<a name="{anchor}"></a>' if anchor else ""
    extra = (
        f' &nbsp; <span style="color:{c.muted}; font-weight:400">{detail}</span>' if detail else ""
    )
    return f'<p style="margin:8px 0 8px 0; font-weight:600">{name}{escape(title)}{extra}</p>'


# --- answer -------------------------------------------------------------------------------


def answer_html(answer: Answer, c: Colours, mono: str, state: OverviewState) -> str:
    detail = f"streaming · {answer.chunks:,} chunks so far" if answer.live else ""
    parts = [_heading(c, "Answer", detail, anchor="answer")]
    if answer.reasoning_text:
        arrow = "▾" if state.show_reasoning else "▸"
        parts.append(
            f'<p style="margin-bottom:8px"><a href="toggle:reasoning" style="color:{c.muted}">'
            f"{arrow} Reasoning · {len(answer.reasoning_text):,} characters</a></p>"
        )
        if state.show_reasoning:
            parts.append(
                bubble(c, mono, "reasoning", ("Reasoning",), answer.reasoning_text, "r", state)
            )
    if answer.output_text or not (answer.tool_calls or answer.refusal):
        text = answer.output_text
        if not text:
            text = "(waiting for the first token…)" if answer.live else "(no text)"
        parts.append(bubble(c, mono, "assistant", ("Assistant",), text, "answer", state))
    if answer.refusal:
        parts.append(bubble(c, mono, "assistant", ("Refusal",), answer.refusal, "answer", state))
    for i, call in enumerate(answer.tool_calls):
        name, arguments = _tool_call_parts(call)
        call_id = str(call.get("id") or "")
        title = ("Tool call", name, call_id) if call_id else ("Tool call", name)
        parts.append(
            bubble(c, mono, "tool_call", title, _pretty_json_text(arguments), f"a{i}", state)
        )
    return "".join(parts)


def _tool_call_parts(call: dict[str, Any]) -> tuple[str, str]:
    inner = call.get("function") or call.get("custom") or {}
    if not isinstance(inner, dict):
        return "?", ""
    arguments = inner.get("arguments", inner.get("input", ""))
    return str(inner.get("name") or "?"), arguments if isinstance(arguments, str) else ""


# --- facts --------------------------------------------------------------------------------


def _started(value: object) -> str:
    return timestamp(value)


def _usage(row: CallRecord) -> list[tuple[str, str]]:
    prompt, completion = row.get("prompt_tokens"), row.get("completion_tokens")
    if prompt is None and completion is None and row.get("total_tokens") is None:
        return [("Tokens", "not reported")]
    tokens_in = fmt.count(prompt)
    cache = []
    if row.get("cached_tokens"):
        cache.append(f"{fmt.count(row['cached_tokens'])} cached")
    if row.get("cache_write_tokens"):
        cache.append(f"{fmt.count(row['cache_write_tokens'])} written to cache")
    if cache:
        tokens_in += f" ({', '.join(cache)})"
    tokens_out = fmt.count(completion)
    if row.get("reasoning_tokens"):
        tokens_out += f" ({fmt.count(row['reasoning_tokens'])} reasoning)"
    return [
        ("Tokens in", tokens_in),
        ("Tokens out", tokens_out),
        ("Tokens total", fmt.count(row.get("total_tokens"))),
    ]


def fact_rows(row: CallRecord, c: Colours) -> list[tuple[str, str]]:
    """(label, value html) pairs; values are escaped here."""
    e = escape
    colour = status_colour(c, row.get("status"), row.get("state"))
    status = " ".join(str(x) for x in (row.get("status") or "", row.get("state") or "") if x)
    rows = [("Status", f'<span style="color:{colour}; font-weight:600">● {e(status)}</span>')]
    if row.get("error"):
        error = fmt.one_line(str(row["error"]), 90)  # in full in the banner above
        rows.append(("Error", f'<span style="color:{c.error}">{e(error)}</span>'))
    model = e(str(row.get("model") or fmt.DASH))
    answered = row.get("response_model")
    if answered and answered != row.get("model"):
        model += f'<br><span style="color:{c.muted}">answered as {e(str(answered))}</span>'
    speed = call_facts.tokens_per_second(row)
    rows += [
        ("Provider", e(str(row.get("provider") or fmt.DASH))),
        ("Model", model),
        ("Endpoint", e(f"{row.get('method') or ''} {row.get('path') or ''}".strip())),
        ("Started", e(_started(row.get("started_at")))),
        ("TTFT", _first_token(row)),
        ("Duration", _duration(row)),
    ]
    if row.get("stream") or row.get("chunk_count"):
        rows.append(("Chunks", fmt.count(row.get("chunk_count"))))
    rows += [(k, e(v)) for k, v in _usage(row)]
    if prices_loaded():
        cost = default_pricer().price(row)
        rows.append(
            ("Cost", f'{e(cost.text())} <span style="color:{c.muted}">{e(cost.basis)}</span>')
        )
    else:
        # genai-prices loads on its own thread (seconds on a busy machine): the window's
        # first paint never waits for it; the tab shows the cost once it is in.
        load_prices_in_background()
        rows.append(("Cost", f'<span style="color:{c.muted}">{LOADING_PRICES}</span>'))
    rows += [
        ("Output speed", fmt.rate(speed)),
        ("Finish reason", e(str(row.get("finish_reason") or fmt.DASH))),
    ]
    return rows + _more_facts(row, c)


def _first_token(row: CallRecord) -> str:
    """ "First token 255 ms · first byte 5 ms" (the two figures of relayscope.calls.facts)."""
    first_byte = call_facts.first_byte_ms(row)
    text = f"First token {fmt.ms(call_facts.ttft_ms(row))}"
    return text + (f" · first byte {fmt.ms(first_byte)}" if first_byte is not None else "")


def _duration(row: CallRecord) -> str:
    text = fmt.ms(row.get("duration_ms"))
    hold = row.get("hold_ms")
    if hold:
        text += f" ({fmt.ms(hold)} held at a breakpoint)"
    return text


def _more_facts(row: CallRecord, c: Colours) -> list[tuple[str, str]]:
    e = escape
    rows: list[tuple[str, str]] = []
    if row.get("client"):
        rows.append(("Client", e(str(row["client"]))))
    if row.get("replay_of"):
        target = str(row["replay_of"])
        rows.append(
            ("Replay of", f'<a href="call:{e(target)}" style="color:{c.accent}">{e(target)}</a>')
        )
    quirks = [str(q) for q in json_list(row.get("quirks"))]
    if quirks:
        items = "<br>".join(f"• {e(q)}" for q in quirks)
        rows.append(("Proxy changed", f'<span style="color:{c.warning}">{items}</span>'))
    if row.get("upstream_url"):
        rows.append(("Sent to", e(str(row["upstream_url"]))))
    if row.get("truncated"):
        rows.append(
            ("Recorded", f'<span style="color:{c.warning}">body cut at the size limit</span>')
        )
    sizes = f"{fmt.size(row.get('request_size'))} sent"
    if row.get("response_size") is not None:
        sizes += f" · {fmt.size(row.get('response_size'))} received"
    rows += [("Size", sizes), ("Call id", e(str(row.get("id") or "")))]
    return rows


def facts_html(row: CallRecord, c: Colours) -> str:
    cells = "".join(
        f'<tr><td style="color:{c.muted}; padding:2px 12px 2px 0" nowrap>{escape(label)}</td>'
        f'<td style="padding:2px 0">{value}</td></tr>'
        for label, value in fact_rows(row, c)
    )
    return f'<table cellspacing="0" cellpadding="0" width="100%">{cells}</table>'


def overview_html(
    turns: Sequence[Turn],
    answer: Answer | None,
    c: Colours,
    mono: str,
    state: OverviewState,
    *,
    failed: bool = False,
) -> str:
    body = conversation_html(turns, c, mono, state, answer is not None)
    if answer is not None:
        body += answer_html(answer, c, mono, state)
    elif failed:
        body += _heading(c, "Answer", anchor="answer") + (
            f'<p style="color:{c.muted}">None: the call failed (see above). What the provider '
            "sent back is in the Response tab.</p>"
        )
    return f'<body style="color:{c.text}">{body}</body>'
