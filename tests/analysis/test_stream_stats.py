"""Tests for relayscope.analysis.stream_stats: gaps, stalls, labels of recorded chunks, output speed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayscope.analysis.stream_stats import (
    INVALID_JSON,
    GapStats,
    Stall,
    event_label,
    find_stalls,
    gap_profile,
    gap_stats,
    gaps,
    output_tokens_per_second,
    percentile,
    sse_fields,
    stall_threshold_ms,
)


def chat_chunk(delta: dict[str, object], finish: str | None = None) -> str:
    obj = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(obj)}\n\n"


# --- gaps -----------------------------------------------------------------------------------


def test_gaps_count_the_first_chunk_from_the_request_start() -> None:
    assert gaps([400.0, 420.0, 1920.0]) == [400.0, 20.0, 1500.0]


def test_gap_stats_ignore_the_wait_for_the_first_chunk() -> None:
    stats = gap_stats([5000.0, 5010.0, 5030.0, 5060.0])  # TTFT 5 s is not a gap
    assert stats == GapStats(median=20.0, p95=pytest.approx(29.0), max=30.0, max_at_seq=3)


def test_gap_stats_find_the_longest_stall_and_the_chunk_after_it() -> None:
    times = [400.0 + 20 * i for i in range(100)]
    times[60:] = [t + 1500 for t in times[60:]]
    stats = gap_stats(times)
    assert stats.median == 20.0
    assert stats.max == 1520.0
    assert stats.max_at_seq == 60


@pytest.mark.parametrize("times", [[], [123.0]])
def test_gap_stats_of_fewer_than_two_chunks_are_unknown(times: list[float]) -> None:
    assert gap_stats(times) == GapStats(None, None, None, None)


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0], 0.95) == 10.0
    assert percentile([0.0, 100.0], 0.95) == pytest.approx(95.0)
    with pytest.raises(ValueError):
        percentile([], 0.5)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=2, max_size=200))
def test_gap_stats_are_ordered(raw: list[float]) -> None:
    times = sorted(raw)
    stats = gap_stats(times)
    assert stats.median is not None and stats.p95 is not None and stats.max is not None
    assert 0 <= stats.median <= stats.p95 + 1e-6 <= stats.max + 2e-6
    assert stats.max_at_seq is not None
    assert times[stats.max_at_seq] - times[stats.max_at_seq - 1] == stats.max


# --- stalls ---------------------------------------------------------------------------------


def test_a_long_gap_is_a_stall_labelled_in_seconds() -> None:
    times = [400.0 + 25 * i for i in range(300)]
    times[151:] = [t + 1500 for t in times[151:]]
    stalls = find_stalls(times)
    assert stalls == [Stall(after_seq=150, at_seq=151, start_ms=times[150], end_ms=times[151])]
    assert stalls[0].gap_ms == pytest.approx(1525.0)
    assert stalls[0].label == "stall 1.5 s"


def test_regular_streams_have_no_stalls_even_when_slow() -> None:
    assert find_stalls([400.0 * i for i in range(1, 50)]) == []  # 400 ms apart, every time


def test_stall_threshold_is_ten_medians_but_at_least_half_a_second() -> None:
    assert stall_threshold_ms(GapStats(20.0, 30.0, 40.0, 1)) == 1000.0
    assert stall_threshold_ms(GapStats(120.0, 130.0, 140.0, 1)) == 1200.0
    assert stall_threshold_ms(GapStats(None, None, None, None)) == 1000.0


def test_stalls_use_the_given_seqs_and_threshold() -> None:
    stalls = find_stalls([0.0, 10.0, 300.0], seqs=[7, 8, 9], threshold_ms=100)
    assert [(s.after_seq, s.at_seq) for s in stalls] == [(8, 9)]


# --- speed ----------------------------------------------------------------------------------


def test_output_speed_counts_from_the_first_token() -> None:
    assert output_tokens_per_second(300, 1000.0, 4000.0) == 100.0
    assert output_tokens_per_second(300, None, 3000.0) == 100.0


@pytest.mark.parametrize(
    ("tokens", "ttft", "duration"),
    [(None, 1.0, 2.0), (0, 1.0, 2.0), (5, 10.0, 10.0), (5, 1.0, None)],
)
def test_output_speed_is_unknown_without_tokens_or_time(
    tokens: int | None, ttft: float | None, duration: float | None
) -> None:
    assert output_tokens_per_second(tokens, ttft, duration) is None


# --- labels ---------------------------------------------------------------------------------


def test_sse_fields_read_event_data_and_comments() -> None:
    assert sse_fields('event: response.created\ndata: {"a":1}\n\n') == (
        "response.created",
        '{"a":1}',
        "",
    )
    assert sse_fields(": keep-alive\n\n") == (None, None, "keep-alive")
    assert sse_fields("data: line one\r\ndata: line two\r\n\r\n") == (
        None,
        "line one\nline two",
        "",
    )
    assert sse_fields('{"type":"response.created"}') == (None, '{"type":"response.created"}', "")


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (chat_chunk({"role": "assistant", "content": ""}), ("role", "assistant")),
        (chat_chunk({"content": "Hello"}), ("content", "Hello")),
        (chat_chunk({"reasoning_content": "Think"}), ("reasoning", "Think")),
        (
            chat_chunk(
                {"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": '{"a'}}]}
            ),
            ("tool_call", 'f({"a'),
        ),
        (chat_chunk({}, "stop"), ("finish", "stop")),
        (
            'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7}}\n\n',
            ("usage", "5 in / 7 out"),
        ),
        ("data: [DONE]\n\n", ("[DONE]", "")),
        (": keep-alive\n\n", ("comment", "keep-alive")),
        ("data: {not json", (INVALID_JSON, "{not json")),
        ("\n\n", ("empty", "")),
        (
            'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
            '"delta":"Hi"}\n\n',
            ("response.output_text.delta", "Hi"),
        ),
        (
            'data: {"type":"response.output_item.added","item":{"type":"function_call",'
            '"name":"exec_command"}}\n\n',
            ("response.output_item.added", "function_call exec_command"),
        ),
        (
            'data: {"type":"response.completed","response":{"status":"completed",'
            '"usage":{"input_tokens":9,"output_tokens":3}}}\n\n',
            ("response.completed", "completed · 9 in / 3 out"),
        ),
        (
            'data: {"error":{"message":"upstream overloaded","code":"overloaded"}}\n\n',
            ("error", "upstream overloaded"),
        ),
        (
            '{"type":"response.created","response":{"status":"in_progress"}}',
            (
                "response.created",
                "in_progress",
            ),
        ),
    ],
)
def test_event_label(chunk: str, expected: tuple[str, str]) -> None:
    assert event_label(chunk) == expected


def test_invalid_json_is_flagged() -> None:
    assert event_label("data: {not json\n\n").invalid
    assert not event_label("data: [DONE]\n\n").invalid
    assert not event_label(chat_chunk({"content": "x"})).invalid


@given(st.text(max_size=200))
def test_event_label_never_raises(text: str) -> None:
    label = event_label(text)
    assert isinstance(label.event_type, str) and isinstance(label.delta_text, str)


def test_gap_profile_keeps_every_gap_of_a_short_stream_and_the_stall_rule() -> None:
    assert gap_profile([]) is None and gap_profile([5.0]) is None
    assert gap_profile([0.0, 10.0, 20.0, 1520.0, 1530.0]) == {
        "max": [10.0, 10.0, 1500.0, 10.0],
        "stall": 1000.0,
    }


def test_gap_profile_of_a_long_stream_never_averages_a_stall_away() -> None:
    times = [20.0 * i for i in range(1000)]
    times[500:] = [t + 4000.0 for t in times[500:]]  # 4 s of silence before chunk 500
    profile = gap_profile(times)
    assert profile is not None
    assert len(profile["max"]) == 24
    assert max(profile["max"]) == 4020.0
    assert sorted(profile["max"])[-2] == 20.0  # the other runs are the steady rhythm
    assert profile["max"].index(4020.0) in (11, 12)  # where it happened: the middle
    assert profile["stall"] == 1000.0


def test_messages_events_are_labelled_with_what_they_carry() -> None:
    def label(name: str, data: dict[str, object]) -> tuple[str, str]:
        got = event_label(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n")
        return got.event_type, got.delta_text

    text = {"index": 0, "delta": {"type": "text_delta", "text": "Hel"}}
    tool = {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a"'}}
    block = {"index": 1, "content_block": {"type": "tool_use", "name": "grep", "input": {}}}
    stop = {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}
    assert label("content_block_delta", text) == ("content_block_delta", "Hel")
    assert label("content_block_delta", tool) == ("content_block_delta", '{"a"')
    assert label("content_block_start", block) == ("content_block_start", "tool_use grep")
    assert label("message_delta", stop) == ("message_delta", "end_turn")
