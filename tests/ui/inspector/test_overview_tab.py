"""OverviewTab: the conversation, the answer, the facts and the error, as a person reads them."""

from __future__ import annotations

import json
import time

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QPalette
from pytestqt.qtbot import QtBot

from relayscope.analysis.cost import load_prices_in_background, prices_loaded
from relayscope.store.call_store import CallStore
from relayscope.ui.inspector import CallInspector, overview_html, overview_tab
from relayscope.ui.inspector.overview_html import Answer
from relayscope.ui.inspector.overview_tab import OverviewTab
from relayscope.ui.theme import build_palette
from tests.ui.inspector import samples


def overview_of(inspector: CallInspector, call_id: str) -> OverviewTab:
    inspector.show_call(call_id)
    return inspector.overview


def in_order(text: str, *parts: str) -> bool:
    position = 0
    for part in parts:
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def test_chat_with_tools_reads_as_a_conversation(inspector: CallInspector) -> None:
    text = overview_of(inspector, samples.CHAT_ID).conversation_text()
    assert in_order(
        text,
        "System",
        "You are a concise travel assistant. Use tools.",
        "User",
        "What's the weather in Paris and Berlin right now?",
        "Tool call",
        "get_weather",
        '{"city": "Paris"}',
        "Tool call",
        '{"city": "Berlin", "unit": "celsius"}',
        "Tool result",
        "call_paris",
        '{"temp_c": 18, "sky": "sunny"}',
        "Tool result",
        '"sky": "light rain"',
        "Answer",
        "Assistant",
        "Paris: 18 °C and sunny. Berlin: 12 °C with light rain",
    )
    assert "6 messages · 2 tool calls" in text
    assert inspector.overview.error_text() == ""


def test_facts_give_the_numbers_with_units(inspector: CallInspector) -> None:
    facts = overview_of(inspector, samples.CHAT_ID).facts_text()
    for expected in (
        "200 complete",
        "openai",
        "gpt-5.2",
        "answered as gpt-5.2-2025-05-01",
        "POST /v1/chat/completions",
        "1.84 s",  # TTFT (1843.2 ms)
        "1.85 s",  # duration (1851.7 ms: 8 ms later, not "1.9 s" against "1.8 s")
        "412 (256 cached)",
        "24",
        "436",
        "13.0 tok/s",  # a whole answer: 24 tokens over the whole 1.85 s
        # 156 uncached x $1.75 + 256 cached x $0.175 + 24 out x $14, per million tokens
        "$0.00065 openai/gpt-5.2 list price",
        "stop",
        "OpenAI/Python 1.109.1",
        samples.CHAT_ID,
    ):
        assert expected in facts, expected


def test_first_token_and_first_byte_are_both_shown(inspector: CallInspector) -> None:
    """TTFT is the first output token; the first byte (the role chunk) is its own figure."""
    facts = overview_of(inspector, samples.STREAM_ID).facts_text()
    assert "First token 418 ms · first byte 5 ms" in facts


def test_a_breakpoints_hold_is_part_of_the_duration_and_said(inspector: CallInspector) -> None:
    facts = overview_of(inspector, samples.UPSTREAM_ID).facts_text()
    assert "9.21 s (8.00 s held at a breakpoint)" in facts


def test_codex_history_shows_calls_outputs_and_the_streamed_answer(
    inspector: CallInspector,
) -> None:
    overview = overview_of(inspector, samples.CODEX_ID)
    text = overview.conversation_text()
    assert "28 messages · 12 tool calls" in text
    assert in_order(
        text,
        "Developer",
        "You are Codex",
        "Show all (4,231 characters)",
        "Fix the failing test in tests/test_api.py",
        "exec_command",
        '{"cmd": ["pytest", "-q", "tests/test_api.py"]',
        "Tool result",
        "KeyError: 'retry-after'",
        "Answer",
        "Reasoning · 67 characters",
        "Adding the missing Retry-After header.",
        "apply_patch",
        "*** Begin Patch",
    )
    assert "The test expects a Retry-After header" not in text  # reasoning starts folded
    facts = overview.facts_text()
    assert "9,120 (8,064 cached)" in facts and "310 (192 reasoning)" in facts


def test_reasoning_and_long_texts_open_on_click(inspector: CallInspector) -> None:
    overview = overview_of(inspector, samples.CODEX_ID)
    assert overview.conversation_text().count("Follow the repository's AGENTS.md.") < 30
    overview.conversation.anchorClicked.emit(QUrl("toggle:reasoning"))
    assert "The test expects a Retry-After header" in overview.conversation_text()
    overview.conversation.anchorClicked.emit(QUrl("expand:0"))
    assert overview.conversation_text().count("Follow the repository's AGENTS.md.") == 120


def test_error_is_the_first_thing_with_what_to_do(inspector: CallInspector) -> None:
    overview = overview_of(inspector, samples.ERROR_ID)
    error = overview.error_text()
    assert error.splitlines()[0] == "429 Too Many Requests · rate_limit_exceeded"
    assert samples.RATE_LIMIT_MESSAGE in error
    assert "What to do: The provider asks to wait 3 s (Retry-After), then replay." in error
    banner, conversation = overview.banner, overview.conversation
    assert banner.isVisible()
    assert banner.geometry().bottom() < conversation.parentWidget().geometry().top()
    assert "429 error" in overview.facts_text()
    assert "Summarise this log." in overview.conversation_text()
    assert "Answer\nNone: the call failed (see above)." in overview.conversation_text()


def test_proxy_changes_and_replay_link(inspector: CallInspector, qtbot: QtBot) -> None:
    overview = overview_of(inspector, samples.UPSTREAM_ID)
    facts = overview.facts_text()
    assert "model prefix 'constreet/' removed" in facts
    assert "https://api.constreet.cc/v1/chat/completions" in facts
    assert f'href="call:{samples.CHAT_ID}"' in overview.facts.toHtml()
    with qtbot.waitSignal(inspector.call_link_activated) as activated:
        overview.facts.anchorClicked.emit(QUrl(f"call:{samples.CHAT_ID}"))
    assert activated.args == [samples.CHAT_ID]


def test_the_cost_says_prices_are_loading_then_shows_the_price(
    inspector: CallInspector, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window's first paint never waits for the price list: until it is in, the Cost
    fact says so, and the price appears by itself once it is."""
    loaded = False
    monkeypatch.setattr(overview_html, "prices_loaded", lambda: loaded)
    monkeypatch.setattr(overview_tab, "prices_loaded", lambda: loaded)
    facts = overview_of(inspector, samples.CHAT_ID).facts_text()
    assert "Loading prices…" in facts and "$0.00065" not in facts
    loaded = True
    qtbot.waitUntil(lambda: "$0.00065 openai/gpt-5.2 list price" in inspector.overview.facts_text())


def test_an_unknown_price_is_a_dash_never_zero(qtbot: QtBot) -> None:
    load_prices_in_background()
    qtbot.waitUntil(prices_loaded, timeout=10_000)
    overview = OverviewTab()
    qtbot.addWidget(overview)
    overview.set_call(
        {"id": "x", "model": "demo-1", "prompt_tokens": 9, "completion_tokens": 3, "status": 200}
    )
    facts = overview.facts_text()
    assert "— no price known for model 'demo-1'" in facts
    assert "$0.00" not in facts


def test_recorded_text_is_shown_as_text_never_as_markup(qtbot: QtBot) -> None:
    overview = OverviewTab()
    qtbot.addWidget(overview)
    body = {"messages": [{"role": "user", "content": "<b>not bold</b> & <a href='x'>no</a>"}]}
    overview.set_call({"id": "x", "endpoint": "chat.completions", "request_body": json.dumps(body)})
    assert "<b>not bold</b> & <a href='x'>no</a>" in overview.conversation_text()


def test_live_answer_grows_without_redrawing_on_every_chunk(qtbot: QtBot) -> None:
    overview = OverviewTab()
    qtbot.addWidget(overview)
    overview.show()
    row = {"id": "live", "endpoint": "chat.completions", "state": "streaming", "stream": 1}
    overview.set_call(row, Answer(live=True))
    assert "waiting for the first token" in overview.conversation_text()
    overview.update_live({"chunk_count": 3}, Answer(output_text="Hello wor", live=True, chunks=3))
    assert "Hello wor" not in overview.conversation_text()  # coalesced, drawn a moment later
    qtbot.waitUntil(lambda: "Hello wor" in overview.conversation_text(), timeout=2000)
    assert "streaming · 3 chunks so far" in overview.conversation_text()


def test_a_long_codex_conversation_renders_fast(qtbot: QtBot) -> None:
    items = []
    for i in range(600):  # far more than Codex's dozens: 600 items, about 1.4 MB
        items.append(
            {
                "type": "function_call",
                "name": "exec_command",
                "call_id": f"c{i}",
                "arguments": json.dumps({"cmd": ["ls", f"dir{i}"]}),
            }
        )
        items.append(
            {"type": "function_call_output", "call_id": f"c{i}", "output": samples.PYTEST_OUTPUT}
        )
    body = json.dumps({"model": "gpt-5.2-codex", "input": items})
    overview = OverviewTab()
    qtbot.addWidget(overview)
    started = time.process_time()  # CPU, which a loaded machine does not stretch as it does wall
    overview.set_call({"id": "big", "endpoint": "responses", "request_body": body})
    elapsed = time.process_time() - started
    text = overview.conversation_text()
    assert "1,200 messages · 600 tool calls" in text
    assert "Show the 1,000 earlier messages" in text  # only the last 200 are drawn at first
    assert elapsed < 1.0  # measured about 0.1 s


@pytest.mark.parametrize("dark", [False, True])
def test_colours_follow_the_palette(qtbot: QtBot, dark: bool) -> None:
    overview = OverviewTab()
    qtbot.addWidget(overview)
    overview.setPalette(build_palette(dark))
    overview.set_call(
        {
            "id": "x",
            "endpoint": "chat.completions",
            "request_body": '{"messages":[{"role":"user","content":"hi"}]}',
        }
    )
    html = overview.conversation.toHtml()
    text_colour = overview.palette().color(QPalette.ColorRole.Text).name()
    assert text_colour in html.lower()


def test_a_claude_code_turn_reads_as_a_conversation_with_its_cache(
    inspector: CallInspector, sample_store: CallStore
) -> None:
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Run the tests."}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Bash",
                        "input": {"cmd": "pytest"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "3 passed"}
                ],
            },
        ],
    }
    row = samples._base(
        "0199a3f2c5b7-claude01",
        path="/v1/messages",
        endpoint="messages",
        provider="anthropic",
        model="claude-sonnet-4-6",
        request_body=samples.dumps(body),
        output_text="All 3 tests pass.",
        finish_reason="end_turn",
        prompt_tokens=4_210,
        completion_tokens=12,
        total_tokens=4_222,
        cached_tokens=4_000,
        cache_write_tokens=200,
    )
    sample_store.db["calls"].insert(row)  # type: ignore[union-attr]
    sample_store.db.conn.commit()
    overview = overview_of(inspector, row["id"])
    assert in_order(
        overview.conversation_text(),
        "System",
        "You are Claude Code.",
        "User",
        "Run the tests.",
        "Tool call",
        "Bash",
        '{"cmd": "pytest"}',
        "Tool result",
        "3 passed",
        "Answer",
        "All 3 tests pass.",
    )
    assert "4,210 (4,000 cached, 200 written to cache)" in overview.facts_text()
