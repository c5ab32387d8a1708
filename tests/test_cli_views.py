"""`relayscope calls`, `show`, `diagnose` and `diff` never let recorded text drive the terminal.

A database recorded by the real writer holds a call whose id, model, provider, path, error,
SSE event name and streamed answer carry terminal escapes: an OSC that sets the window title,
an OSC 8 hyperlink, a CSI screen clear (7-bit and the 8-bit C1 form), BEL, backspace, a
carriage return that would overwrite the line, and a bidi override. Each command runs as a
real subprocess; its output must hold none of those characters, show them as escapes, and
JSON output must still give back the recorded values unchanged.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from relayscope.protocols.sse import SSEDecoder
from relayscope.recording.writer import RecordingWriter

ROOT = Path(__file__).resolve().parents[1]
EVIL = (
    "\x1b]0;pwned\x07\x1b[2J\x1b[H\x9b31m\r\x08\x08\u202eevil"
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\x00\x85\u2028"
)
CALL_ID = "01HOSTILE" + EVIL
# Any character that acts on a terminal: C0 controls but newline and tab, DEL, C1 controls,
# line/paragraph separators and bidi controls.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _sse(data: dict[str, object], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "relayscope.db"
    writer = RecordingWriter(path).open()
    body = {"model": "m" + EVIL, "stream": True, "messages": [{"role": "user", "content": EVIL}]}
    writer.start(
        {
            "id": CALL_ID,
            "started_at": "2026-11-21T12:00:00.000Z",
            "method": "POST",
            "path": "/v1/chat/completions?x=" + EVIL,
            "endpoint": "chat.completions",
            "provider": "p" + EVIL,
            "model": "m" + EVIL,
            "stream": 1,
            "request_headers": json.dumps([["x-evil", EVIL], ["user-agent", "ua" + EVIL]]),
            "request_body": json.dumps(body),
        }
    )
    chunks = [
        _sse({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi "}}]}),
        _sse({"choices": [{"index": 0, "delta": {"content": EVIL}}]}, event="x" + EVIL),
        _sse({"choices": [{"index": 0, "delta": {"content": "\r\nline two\tok"}}]}),
        _sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop" + EVIL}]}),
    ]
    for seq, raw in enumerate(chunks):
        (event,) = SSEDecoder().feed(raw)
        writer.chunk(CALL_ID, seq, 100.0 + 10 * seq, raw, event.data, event.event)
    writer.finish(
        CALL_ID,
        {"status": 200, "state": "complete", "duration_ms": 300.0, "error": "e" + EVIL},
    )
    second = "01PLAIN"
    writer.start(
        {
            "id": second,
            "started_at": "2026-11-21T12:00:01.000Z",
            "method": "POST",
            "path": "/v1/chat/completions",
            "endpoint": "chat.completions",
            "provider": "p",
            "model": "m",
            "stream": 0,
            "request_body": json.dumps({**body, "model": "m"}),
        }
    )
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "plain"}}]}
    writer.finish(
        second,
        {
            "status": 200,
            "state": "complete",
            "duration_ms": 10.0,
            "response_body": json.dumps(answer).encode(),
        },
    )
    writer.close()
    return path


def relayscope(db: Path, *args: str) -> str:
    env = {**os.environ, "NO_COLOR": "1", "XDG_CONFIG_HOME": str(db.parent / "config")}
    done = subprocess.run(
        [sys.executable, "-m", "relayscope", *args, "--db", str(db)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert not UNSAFE.search(done.stderr.decode("utf-8")), done.stderr
    text = done.stdout.decode("utf-8")
    assert b"\x1b" not in done.stdout and b"\x07" not in done.stdout and b"\x08" not in done.stdout
    assert not UNSAFE.search(text), [m.group(0) for m in UNSAFE.finditer(text)]
    return text


@pytest.mark.parametrize(
    "args",
    [
        ("calls",),
        ("calls", "--search", "evil"),
        ("show", "01HOSTILE"),
        ("show", "01HOSTILE", "--stream"),
        ("diagnose",),
        ("diagnose", "--format", "markdown"),
        ("diff", "01HOSTILE", "01PLAIN"),  # relayscope.cli.diff
    ],
)
def test_no_control_character_reaches_the_terminal(db: Path, args: tuple[str, ...]) -> None:
    out = relayscope(db, *args)
    assert "\\x1b]0;pwned\\x07" in out or "pwned" not in out  # shown, as an escape


def test_show_keeps_the_answers_lines_and_shows_the_rest(db: Path) -> None:
    out = relayscope(db, "show", "01HOSTILE")
    assert "Hi \\x1b]0;pwned\\x07\\x1b[2J\\x1b[H\\x9b31m\\r\\x08\\x08\\u202eevil" in out
    assert "\nline two\tok" in out  # a CRLF in the answer is a line break, a tab stays
    assert re.search(r"^model +m\\x1b\]0;pwned", out, re.M)
    assert re.search(r"^id +01HOSTILE\\x1b", out, re.M)


def test_calls_keeps_one_row_per_call(db: Path) -> None:
    lines = relayscope(db, "calls").splitlines()
    assert len(lines) == 3 and lines[2].startswith("01HOSTILE\\x1b")


def test_stream_debugger_shows_each_delta_on_its_line_escaped(db: Path) -> None:
    out = relayscope(db, "show", "01HOSTILE", "--stream")
    assert re.search(r"^ +1 .* content +\\x1b\]0;pwned\\x07\\x1b\[2J", out, re.M), out
    assert re.search(r"^ +2 .* content +⏎line two→ok$", out, re.M), out


@pytest.mark.parametrize(
    "args",
    [
        ("calls", "--json"),
        ("show", "01HOSTILE", "--json"),
        ("diagnose", "--format", "json"),
        ("diff", "01HOSTILE", "01PLAIN", "--json"),
    ],
)
def test_json_output_is_escaped_but_means_the_recorded_values(
    db: Path, args: tuple[str, ...]
) -> None:
    out = relayscope(db, *args)
    rows = [json.loads(line) for line in out.splitlines()] if "calls" in args else [json.loads(out)]
    if "diagnose" in args:
        assert "p" + EVIL in [report["provider"] for report in rows[0]]
    elif "diff" in args:
        assert rows[0]["a_id"] == CALL_ID
    else:
        row = next(row for row in rows if row["id"] == CALL_ID)
        assert row["model"] == "m" + EVIL and row["error"] == "e" + EVIL


def test_show_as_python_prints_a_script_that_holds_the_values_as_literals(db: Path) -> None:
    source = relayscope(db, "show", "01HOSTILE", "--as", "python")
    tree = ast.parse(source)
    body = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "body"
    )
    assert body["model"] == "m" + EVIL and body["messages"][0]["content"] == EVIL
    assert 'base_url="http://127.0.0.1:8787/v1"' in source


def test_show_as_curl_prints_a_command_that_holds_the_values_as_words(db: Path) -> None:
    command = relayscope(db, "show", "01HOSTILE", "--as", "curl")
    assert command.startswith("curl ")
    done = subprocess.run(
        ["bash", "-c", "curl() { printf '%s\\0' \"$@\"; }\n" + command],
        capture_output=True,
        timeout=30,
        check=True,
    )
    argv = done.stdout.decode("utf-8").split("\x00")[:-1]
    assert argv[0] == "http://127.0.0.1:8787/v1/chat/completions?x=" + EVIL.replace("\x00", "")
    assert f"x-evil: {EVIL}".replace("\x00", "") in argv
    assert json.loads(argv[-1])["messages"][0]["content"] == EVIL
