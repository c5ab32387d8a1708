"""What the Sessions window writes about a session and a turn: the totals line, and a turn's
detail (what the person asked, what fills the context, the cache hit rate and each miss)."""

from __future__ import annotations

from html import escape

from relayscope.analysis.sessions import SessionReport, TurnReport, summary_of
from relayscope.protocols.prompts import CHARS_PER_TOKEN, PART_TITLES, PARTS
from relayscope.ui import theme
from relayscope.ui.inspector._format import ms
from relayscope.ui.session_list_model import percent
from relayscope.ui.session_turns_model import miss_note


def turn_detail_html(turn: TurnReport) -> str:
    """The detail under the turn tree, as rich text (recorded text escaped)."""
    lines = [f"<b>Turn {turn.index}</b>"]
    if turn.new_input:
        said = turn.new_input if len(turn.new_input) <= 300 else turn.new_input[:299] + "…"
        lines[0] += f" · “{escape(said)}”"
    if turn.context:
        figures = " · ".join(
            f"{escape(PART_TITLES[p])} {turn.context[p] // CHARS_PER_TOKEN:,}"
            for p in PARTS
            if turn.context.get(p)
        )
        growth = turn.growth_chars // CHARS_PER_TOKEN
        compacted = " · <b>compacted</b>" if turn.compacted else ""
        lines.append(
            f"Context ≈ {turn.context_chars // CHARS_PER_TOKEN:,} tokens ({growth:+,})"
            f"{compacted}: {figures}"
        )
    lines.append(f"Prompt cache hit rate: {percent(turn.cache_hit_rate)}")
    warning = theme.colour(theme.WARNING).name()
    for entry in turn.calls:
        if entry.cache_miss:
            lines.append(
                f'<span style="color:{warning}">⚠ {escape(miss_note(entry.cache_miss))}'
                f"</span> (call {escape(str(entry.call.get('id')))})"
            )
    return "<br>".join(lines)


def totals_text(report: SessionReport) -> str:
    """One line under the session's title: client, turns, calls, time, tokens and cost."""
    summary = summary_of(report)
    tokens = summary.tokens
    return (
        f"{report.client or 'unknown client'} · {summary.turns:,} turns · {summary.calls:,} "
        f"calls · {ms(report.duration_ms)} · input {tokens.input_tokens:,} (cache hit "
        f"{percent(summary.cache_hit_rate)}) · output {tokens.output_tokens:,} (reasoning "
        f"{tokens.reasoning_tokens:,}) · cost {summary.cost.text()}"
    )
