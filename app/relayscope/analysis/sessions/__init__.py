"""Agent sessions: their turns and calls, tokens and cost, what fills the context, and why
the prompt cache missed.

A **session** is a Codex session (calls carrying `session_id`) or, for agents that send no
ids (chat completions: Aider, Cline, the SDKs), a **chain**: calls whose conversation extends
the previous call's (its messages start with the earlier call's messages), from the same
client; a chain's id is `chain-` + its first call's id.

A session's calls are read as **conversations**: a call continues the conversation whose last
request its messages extend (`cache_control` marks aside), else it opens one. The **main**
conversation is the one the person talks to; a conversation opened while the main one is still
to continue (the main one has a later call) is a **side conversation**: a sub-agent (Claude
Code's Task tool, which runs with its own system prompt and a fresh conversation interleaved
with its parent's; Codex's the same) or a helper call (a title, a command's prefix). Its calls
are marked and never start a turn. A conversation opened once the main one has stopped (a
compaction, a /clear, a rewritten first message) becomes the main one.

A conversation of one call whose tools differ from the main one's (a quota check before the
first turn, a title after the last) is a helper too. Side calls join the turn of the main call
that follows them (the last turn when none follows).

A **turn** is one input from the person and every model call made to answer it: Codex's
`turn_id` when it sent one, else a main call starts a new turn when the items that follow what
it shares with the previous main call's request hold a new user message (tool results, also
Anthropic's `tool_result` blocks in a user message, and the model's own items continue the
turn). A call whose request equals the previous one of its conversation is a **retry** of it.

Context sizes are characters of the JSON sent, and tokens estimated as characters / 4 (no
tokenizer: the figures show proportions and growth, not a bill).

The package reads a session in three steps: `conversations` tells which conversation each
call continues and names side calls, `reading` builds the turns and the prompt-cache findings
(`analyse_session`, `chains`), `report` holds what they produce, and `listing` reads sessions
from the store and writes them as JSON for the CLI.
"""

from __future__ import annotations

from relayscope.analysis.sessions.listing import (
    CHAIN_LIMIT,
    SessionSummary,
    list_sessions,
    load_session,
    report_json,
    summary_of,
    tokens_json,
)
from relayscope.analysis.sessions.reading import (
    CACHE_LIFETIME_MS,
    CHAIN_PREFIX,
    MIN_CACHEABLE_TOKENS,
    analyse_session,
    chains,
)
from relayscope.analysis.sessions.report import CallEntry, SessionReport, TurnReport, hit_rate

__all__ = [
    "CACHE_LIFETIME_MS",
    "CHAIN_LIMIT",
    "CHAIN_PREFIX",
    "MIN_CACHEABLE_TOKENS",
    "CallEntry",
    "SessionReport",
    "SessionSummary",
    "TurnReport",
    "analyse_session",
    "chains",
    "hit_rate",
    "list_sessions",
    "load_session",
    "report_json",
    "summary_of",
    "tokens_json",
]
