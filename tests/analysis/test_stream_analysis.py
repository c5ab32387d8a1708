"""Stream debugger analysis: each finding on a hand-written transcript, timing, and the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from relayscope.analysis.stream_analysis import (
    ERROR,
    INFO,
    WARNING,
    Finding,
    StreamAnalysis,
    analyse,
)
from relayscope.protocols.sse import SSEDecoder
from relayscope.recording.writer import RecordingWriter

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = Path(__file__).parent / "transcripts"
_JSON_COLUMNS = ("request_body", "upstream_request_body", "response_headers", "quirks")
_TIME = re.compile(r"^: t=(\d+(?:\.\d+)?)$")

Call = dict[str, Any]
Chunks = list[dict[str, Any]]


# --- the transcript loader (conventions in transcripts/README.md) --------------------------


def parse_transcript(text: str, call_id: str = "call-1") -> tuple[Call, Chunks]:
    """A call row and its chunk rows, as the recorder would have written them."""
    events = [e for e in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")) if e.strip("\n")]
    header: dict[str, Any] = {}
    if events and events[0].startswith(": call "):
        header = json.loads(events.pop(0).removeprefix(": call "))
    chunks: Chunks = []
    t_ms = 0.0
    for seq, event in enumerate(events):
        lines = event.strip("\n").split("\n")
        times = [match for line in lines if (match := _TIME.match(line))]
        t_ms = float(times[0][1]) if times else t_ms + 10.0
        data = "\n".join(line for line in lines if not _TIME.match(line)) + "\n\n"
        chunks.append({"seq": seq, "t_ms": t_ms, "data": data})
    return _call_row(call_id, header, t_ms + 5.0), chunks


def _call_row(call_id: str, header: dict[str, Any], end_ms: float) -> Call:
    endpoint = header.get("endpoint", "chat.completions")
    call: Call = {
        "id": call_id,
        "started_at": "2026-11-21T12:00:00.000Z",
        "method": "POST",
        "path": "/v1/responses" if endpoint == "responses" else "/v1/chat/completions",
        "endpoint": endpoint,
        "provider": "test",
        "model": "test-model",
        "stream": 1,
        "status": 200,
        "state": "complete",
        "response_headers": [["content-type", "text/event-stream"]],
        "duration_ms": end_ms,
        **header,
    }
    for column in _JSON_COLUMNS:
        if call.get(column) is not None and not isinstance(call[column], str):
            call[column] = json.dumps(call[column])
    return call


def load_transcript(name: str) -> tuple[Call, Chunks]:
    return parse_transcript((TRANSCRIPTS / f"{name}.sse").read_text(), call_id=name)


def analysed(name: str, **overrides: Any) -> StreamAnalysis:
    call, chunks = load_transcript(name)
    return analyse({**call, **overrides}, chunks)


def problems(analysis: StreamAnalysis) -> list[Finding]:
    return [f for f in analysis.findings if f.severity in (ERROR, WARNING)]


def the_finding(analysis: StreamAnalysis, code: str) -> Finding:
    found = [f for f in analysis.findings if f.code == code]
    assert len(found) == 1, analysis.findings
    return found[0]


def test_loader_reads_times_headers_and_keeps_other_comments() -> None:
    call, chunks = parse_transcript(
        ': call {"state": "interrupted", "request_body": {"stream": true}}\n\n'
        ": t=5\ndata: {}\n\n: keep-alive\n\ndata: [DONE]\n\n"
    )
    assert (call["state"], call["request_body"]) == ("interrupted", '{"stream": true}')
    assert [(c["seq"], c["t_ms"], c["data"]) for c in chunks] == [
        (0, 5.0, "data: {}\n\n"),
        (1, 15.0, ": keep-alive\n\n"),
        (2, 25.0, "data: [DONE]\n\n"),
    ]
    assert call["duration_ms"] == 30.0


# --- one transcript per finding ------------------------------------------------------------

# transcript, code, severity, seq, words the message must contain, other problems expected
CASES: list[tuple[str, str, str, int | None, tuple[str, ...], set[str]]] = [
    (
        "invalid_json",
        "invalid_json",
        ERROR,
        2,
        ("Chunk 2 is not valid JSON", '`data: {"id":"chatcmpl-B1"', "Unterminated string"),
        set(),
    ),
    ("missing_done", "missing_done", ERROR, 3, ("without `data: [DONE]`", "last chunk: 3"), set()),
    (
        "missing_completed",
        "missing_completed",
        ERROR,
        3,
        ("without `response.completed`", "Codex"),
        set(),
    ),
    ("no_finish_reason", "no_finish_reason", WARNING, 2, ("`finish_reason`", "length"), set()),
    (
        "missing_message_stop",
        "missing_message_stop",
        ERROR,
        4,
        ("without `message_stop`", "last chunk: 4", "Claude Code"),
        set(),
    ),
    (
        "overloaded_in_stream",
        "error_in_stream",
        ERROR,
        2,
        ("Chunk 2 carries an error inside a 200 stream", "Overloaded"),
        {"missing_message_stop"},
    ),
    (
        "cut_by_provider",
        "cut_by_provider",
        ERROR,
        2,
        ("ended early after chunk 2 (at 445 ms)", "incomplete chunked read"),
        set(),
    ),
    (
        "cut_by_client",
        "cut_by_client",
        WARNING,
        2,
        ("client disconnected after chunk 2 (at 445 ms)", "incomplete"),
        set(),
    ),
    (
        "error_in_stream",
        "error_in_stream",
        ERROR,
        2,
        ("Chunk 2", "inside a 200 stream", "`rate_limit_exceeded`: Rate limit reached"),
        {"no_finish_reason"},
    ),
    (
        "usage_missing",
        "usage_missing",
        WARNING,
        None,
        ("client asked for usage", "include_usage", "no chunk carried it"),
        set(),
    ),
    (
        "wrong_content_type",
        "wrong_content_type",
        WARNING,
        None,
        ("`text/plain; charset=utf-8`", "not `text/event-stream`"),
        set(),
    ),
    ("compressed", "compressed", INFO, None, ("compressed the stream with gzip",), set()),
    (
        "keepalive_comments",
        "keepalive_comments",
        INFO,
        0,
        ("3 chunks are SSE comments", "first at chunk 0"),
        set(),
    ),
    ("id_changed", "id_changed", WARNING, 3, ("`chatcmpl-L2`", "`chatcmpl-L1`"), set()),
    (
        "model_changed",
        "model_changed",
        WARNING,
        2,
        ("`claude-3-haiku`", "`claude-sonnet-4`"),
        set(),
    ),
    (
        "tool_args_invalid_json",
        "tool_args_invalid_json",
        ERROR,
        2,
        ("`get_weather`", '`{"city": "Paris"`', "Expecting ',' delimiter"),
        set(),
    ),
    (
        "usage_mismatch",
        "usage_mismatch",
        WARNING,
        3,
        ("900 completion tokens", "9 characters ≈ 2 tokens", "~4 characters a token"),
        set(),
    ),
    (
        "stall",
        "stall",
        WARNING,
        4,
        ("Nothing arrived for 3.12 s between chunk 3 (at 360 ms) and chunk 4", "median gap is 20"),
        set(),
    ),
]


@pytest.mark.parametrize(
    ("name", "code", "severity", "seq", "words", "others"), CASES, ids=[c[0] for c in CASES]
)
def test_each_transcript_gives_its_finding(
    name: str, code: str, severity: str, seq: int | None, words: tuple[str, ...], others: set[str]
) -> None:
    analysis = analysed(name)
    finding = the_finding(analysis, code)
    assert (finding.severity, finding.seq) == (severity, seq)
    for word in words:
        assert word in finding.message
    assert finding.message.endswith(".")
    assert {f.code for f in problems(analysis)} - {code} == others


def test_every_finding_transcript_is_tested() -> None:
    clean = {"clean_chat", "clean_responses", "codex_function_call", "clean_messages"}
    tested = {case[0] for case in CASES} | clean
    assert {path.stem for path in TRANSCRIPTS.glob("*.sse")} == tested


# --- clean streams -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["clean_chat", "clean_responses", "codex_function_call", "clean_messages"]
)
def test_clean_transcripts_have_no_problems(name: str) -> None:
    assert problems(analysed(name)) == []


def test_clean_chat_timing_and_answer() -> None:
    analysis = analysed("clean_chat")
    assert analysis.ttft_ms == 431.0  # the first chunk with text, not the role chunk at 412
    assert analysis.total_ms == 501.0
    assert analysis.chunk_count == 7
    assert analysis.gap_median_ms == 18.5
    assert analysis.gap_max_ms == 21.0
    assert analysis.longest_stall_seq == 2
    assert analysis.output_tokens_per_s == pytest.approx(9 / 0.070)
    assert analysis.assembled.output_text == "Hello! How can I help you today?"
    assert analysis.assembled.finish_reason == "stop"
    assert analysis.assembled.usage is not None
    assert analysis.assembled.usage.completion_tokens == 9


def test_codex_function_call_is_assembled() -> None:
    analysis = analysed("codex_function_call")
    assert analysis.assembled.tool_calls == [
        {
            "id": "call_X1",
            "type": "function",
            "function": {"name": "exec_command", "arguments": '{"cmd":"ls -la"}'},
        }
    ]
    assert analysis.assembled.reasoning_text == "Listing the directory."
    assert analysis.ttft_ms == 905.0


# --- variations on the call row ------------------------------------------------------------


def test_clean_messages_stream_is_assembled_with_its_first_output() -> None:
    analysis = analysed("clean_messages")
    answer = analysis.assembled
    assert (answer.output_text, answer.reasoning_text) == ("Let me check.", "Call the tool.")
    assert answer.tool_calls[0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Oslo"}',
    }
    assert answer.finish_reason == "tool_use" and answer.done
    assert analysis.ttft_ms == 40.0  # the thinking delta (chunk 3), not message_start or ping


def test_messages_tool_input_cut_short_is_found_at_its_last_fragment() -> None:
    call, chunks = load_transcript("clean_messages")
    cut = analyse({**call, "state": "interrupted", "error": "provider closed"}, chunks[:11])
    finding = the_finding(cut, "tool_args_invalid_json")
    assert finding.seq == 10 and "`get_weather`" in finding.message


def test_cut_by_a_silent_provider_names_the_timeout() -> None:
    error = "Interrupted: the provider sent nothing for 30 s, so Relayscope cut the stream."
    analysis = analysed("cut_by_provider", error=error, duration_ms=30_445)
    finding = the_finding(analysis, "cut_by_provider")
    assert finding.seq == 2
    assert "sent nothing for 30 s after chunk 2" in finding.message
    assert "`timeout`" in finding.message
    # The cut explains the missing [DONE] and finish_reason, and the silence at the end.
    assert {f.code for f in problems(analysis)} == {"cut_by_provider"}


def test_relayscope_stopping_is_an_interruption_of_its_own() -> None:
    error = "Relayscope stopped before this call finished."
    finding = the_finding(analysed("cut_by_client", error=error), "interrupted")
    assert (finding.severity, finding.seq) == (WARNING, 2)
    assert error in finding.message


def test_live_stream_is_not_blamed_for_its_missing_end() -> None:
    assert problems(analysed("missing_done", state="streaming")) == []


def test_usage_asked_for_by_the_proxy_says_so() -> None:
    call, chunks = load_transcript("usage_missing")
    upstream = call["request_body"]
    call["request_body"] = json.dumps({"model": "gpt-4o-mini", "stream": True})
    analysis = analyse({**call, "upstream_request_body": upstream}, chunks)
    assert "Relayscope asked for usage" in the_finding(analysis, "usage_missing").message


def test_responses_completed_without_usage() -> None:
    call, chunks = load_transcript("clean_responses")
    last = chunks[-1]
    last["data"] = last["data"].replace('"usage":{', '"no_usage":{')
    finding = the_finding(analyse(call, chunks), "usage_missing")
    assert finding.seq == last["seq"]
    assert "`response.completed` (chunk 8) carries no usage" in finding.message


def test_responses_incomplete_instead_of_completed() -> None:
    call, chunks = load_transcript("clean_responses")
    last = chunks[-1]
    last["data"] = (
        last["data"]
        .replace("response.completed", "response.incomplete")
        .replace('"status":"completed","model"', '"status":"incomplete","model"')
        .replace('"output":[', '"incomplete_details":{"reason":"max_output_tokens"},"output":[')
    )
    finding = the_finding(analyse(call, chunks), "missing_completed")
    assert (finding.severity, finding.seq) == (WARNING, 8)
    assert "`response.incomplete` (reason: max_output_tokens)" in finding.message


def test_json_answer_to_a_stream_request_is_the_wrong_content_type() -> None:
    call = {
        **_call_row("j1", {}, 40.0),
        "response_headers": json.dumps([["content-type", "application/json"]]),
        "response_body": json.dumps(
            {"choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}]}
        ),
    }
    analysis = analyse(call, [])
    finding = the_finding(analysis, "wrong_content_type")
    assert (finding.severity, finding.seq) == (ERROR, None)
    assert "`application/json`" in finding.message
    assert analysis.assembled.output_text == "hi"


def test_provider_errors_as_http_status_are_not_stream_findings() -> None:
    call = {
        **_call_row("e1", {}, 40.0),
        "status": 429,
        "state": "error",
        "response_headers": json.dumps([["content-type", "application/json"]]),
        "response_body": '{"error":{"message":"slow down","code":"rate_limit_exceeded"}}',
    }
    assert analyse(call, []).findings == []


def test_hidden_reasoning_tokens_do_not_count_as_a_usage_mismatch() -> None:
    call, chunks = load_transcript("usage_mismatch")
    last_usage = chunks[3]
    last_usage["data"] = last_usage["data"].replace(
        '"total_tokens":912}',
        '"total_tokens":912,"completion_tokens_details":{"reasoning_tokens":896}}',
    )
    assert "usage_mismatch" not in {f.code for f in analyse(call, chunks).findings}


def test_usage_far_below_the_output_is_a_mismatch() -> None:
    call, chunks = load_transcript("clean_chat")
    chunks[3]["data"] = chunks[3]["data"].replace(" I help you today?", " I help? " + "word " * 60)
    finding = the_finding(analyse(call, chunks), "usage_mismatch")
    assert "far fewer than the output suggests" in finding.message
    assert finding.seq == 5


def test_many_invalid_chunks_are_listed_up_to_five_then_summed_up() -> None:
    body = "".join(f"data: {{broken {i}\n\n" for i in range(12)) + "data: [DONE]\n\n"
    call, chunks = parse_transcript(body)
    invalid = [f for f in analyse(call, chunks).findings if f.code == "invalid_json"]
    assert [f.seq for f in invalid] == [0, 1, 2, 3, 4, 5]
    assert invalid[-1].message.startswith("7 more chunks are not valid JSON from chunk 5 on")


def _websocket_turn(first_seq: int, t0: float, response_id: str) -> Chunks:
    """One request and its answer on a WebSocket: bare JSON messages, stored as bytes."""
    _, chunks = load_transcript("clean_responses")
    request = {"type": "response.create", "model": "gpt-5.2", "input": "hi"}
    turn = [
        {"seq": first_seq, "t_ms": t0, "data": json.dumps(request).encode(), "direction": "client"}
    ]
    for i, chunk in enumerate(chunks, start=1):
        message = chunk["data"].strip().split("data: ", 1)[1].replace("resp_01", response_id)
        turn.append(
            {
                "seq": first_seq + i,
                "t_ms": t0 + chunk["t_ms"],
                "data": message.encode(),
                "direction": "server",
            }
        )
    return turn


def test_websocket_messages_are_read_turn_by_turn() -> None:
    call, _ = load_transcript("clean_responses")
    call = {**call, "transport": "websocket", "duration_ms": 60_800.0}
    # Codex ran a tool for a minute between the two requests: neither a stall nor an id change.
    chunks = _websocket_turn(0, 0.0, "resp_01") + _websocket_turn(10, 60_000.0, "resp_02")
    analysis = analyse(call, chunks)
    assert problems(analysis) == []
    assert analysis.gap_max_ms is not None and analysis.gap_max_ms < 1000
    assert analysis.chunk_count == 20
    assert analysis.assembled.output_text.endswith("Hello there!")


def test_a_stall_at_the_end_of_a_complete_stream_is_found() -> None:
    finding = the_finding(analysed("clean_chat", duration_ms=4_000.0), "stall")
    assert finding.seq == 6
    assert "after the last chunk (6)" in finding.message


def test_findings_come_worst_first() -> None:
    severities = [f.severity for f in analysed("error_in_stream").findings]
    assert severities == sorted(severities, key=[ERROR, WARNING, INFO].index)


@pytest.mark.parametrize(("name", "sample"), [("clean_chat", 2), ("codex_function_call", 6)])
def test_analysis_time_grows_linearly_with_the_chunks(name: str, sample: int) -> None:
    """Ten times the chunks costs about ten times the time (a quadratic step would cost a
    hundred). A ratio within one run holds on a busy machine, where a wall-clock bound did
    not; the absolute speed (about 30 ms for 5,000 chunks) is bench/'s business."""
    call, chunks = load_transcript(name)
    template = chunks[sample]["data"]

    def stream(count: int) -> Chunks:
        return [{"seq": i, "t_ms": 400.0 + 20 * i, "data": template} for i in range(count)]

    small, large = stream(500), stream(5_000)
    best_small = min(_timed(call, small) for _ in range(5))
    best_large = min(_timed(call, large) for _ in range(5))
    assert best_large < 30 * best_small


def _timed(call: Call, chunks: Chunks) -> float:
    start = time.perf_counter()
    analyse(call, chunks)
    return time.perf_counter() - start


# --- the CLI -------------------------------------------------------------------------------


def _record(db: Path, name: str, **overrides: Any) -> str:
    call, chunks = load_transcript(name)
    call = {**call, **overrides}
    end = {
        k: call.pop(k, None)
        for k in ("status", "state", "error", "duration_ms", "response_headers")
    }
    writer = RecordingWriter(db).open()
    writer.start(call)
    for chunk in chunks:
        raw = chunk["data"].encode()
        (event,) = SSEDecoder().feed(raw)
        writer.chunk(call["id"], chunk["seq"], chunk["t_ms"], raw, event.data, event.event)
    writer.finish(call["id"], {**end, "first_byte_ms": chunks[0]["t_ms"] - 30})
    writer.close()
    return str(call["id"])


def _show(db: Path, call_id: str, tmp_path: Path) -> str:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "relayscope", "show", "--db", str(db), call_id, "--stream"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cli_show_stream_prints_summary_timeline_and_findings(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    call_id = _record(db, "stall", id="01STALLCALL", quirks=None)
    out = _show(db, "01STALL", tmp_path)
    assert "Stream   7 chunks · TTFT 320 ms (first byte 270 ms) · total 3.51 s" in out
    assert "Gaps     median 20 ms · p95 2.35 s · max 3.12 s before chunk 4" in out
    assert re.search(r"^! +4 +3\.48 s +\+3\.12 s +content +\.\.\. done\.$", out, re.M)
    assert "warning  #4     Nothing arrived for 3.12 s between chunk 3" in out
    assert "\x1b[" not in out
    assert all(len(line) <= 100 for line in out.splitlines() if not line.startswith("output"))
    assert call_id in out


def test_cli_show_stream_elides_the_middle_of_long_streams(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    call, chunks = load_transcript("clean_chat")
    writer = RecordingWriter(db).open()
    writer.start({**call, "id": "01LONG", "response_headers": None})
    body = chunks[2]["data"].encode()
    for seq in range(200):
        t_ms = 400.0 + 10 * seq + (2_000.0 if seq >= 120 else 0.0)
        writer.chunk("01LONG", seq, t_ms, b"data: {oops\n\n" if seq == 80 else body, None, None)
    writer.finish("01LONG", {"status": 200, "state": "complete", "duration_ms": 4_400.0})
    writer.close()
    out = _show(db, "01LONG", tmp_path)
    assert max(len(line) for line in out.split("\n\nStream")[1].splitlines()) <= 100
    assert "… 59 chunks …" in out  # 20..78, before the invalid chunk 80 and its neighbours
    assert re.search(r"^✗ +80 ", out, re.M)
    assert re.search(r"^! +120 ", out, re.M)
    assert "error    #80    Chunk 80 is not valid JSON: `data: {oops`" in out
    assert "warning  #199   The stream ended without" not in out  # no [DONE] is an error
    assert "error    #199   The stream ended without `data: [DONE]`" in out


def test_cli_show_stream_marks_a_websocket_clients_messages(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    call, _ = load_transcript("clean_responses")
    writer = RecordingWriter(db).open()
    writer.start({**call, "id": "01WS", "transport": "websocket", "response_headers": None})
    for chunk in _websocket_turn(0, 0.0, "resp_01") + _websocket_turn(10, 60_000.0, "resp_02"):
        data = chunk["data"].decode()
        direction = chunk["direction"]
        text = None if direction == "client" else data
        writer.chunk("01WS", chunk["seq"], chunk["t_ms"], chunk["data"], text, None, direction)
    writer.finish("01WS", {"status": 101, "state": "complete", "duration_ms": 60_700.0})
    writer.close()
    out = _show(db, "01WS", tmp_path)
    assert re.search(r"^ +10 +1 min 00 s +\+59\.3 s +→ response\.create", out, re.M)
    assert "Findings: none; the stream looks healthy." in out
