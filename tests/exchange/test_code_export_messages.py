"""Copy as Python for Anthropic Messages calls: the anthropic SDK's `messages.create` with
every recorded value as a literal (checked with `ast` on hostile values), and the snippet
run against the fake provider sends the recorded body, headers and query again."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayscope.exchange.code_export import (
    ANTHROPIC_KEY_ENV,
    MESSAGES_DOCSTRING,
    MESSAGES_PARAMS,
    as_python,
)
from tests.exchange.test_code_export_hostile import hostile
from tests.fakes import FakeProvider

ROOT = Path(__file__).resolve().parents[2]
PROMPT = 'It\'s "quoted" and $HOME stays literal'
BODY = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 200,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": PROMPT}],
    "stream": True,
    "context_management": {"edits": []},  # not a named parameter: extra_body
}


def row(body: dict[str, Any], path: str = "/v1/messages?beta=true") -> dict[str, Any]:
    return {
        "id": "019a3f2c5b1e-8c1d2e3f",
        "method": "POST",
        "path": path,
        "endpoint": "messages",
        "provider": "anthropic",
        "model": str(body.get("model")),
        "stream": 1,
        "request_headers": json.dumps(
            [
                ["host", "127.0.0.1:8787"],
                ["x-api-key", "****9f3a"],
                ["content-type", "application/json"],
                ["user-agent", "claude-cli/2.1.332 (external, cli)"],
                ["x-stainless-lang", "js"],
                ["anthropic-version", "2023-06-01"],
                ["anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"],
                ["X-Claude-Code-Session-Id", "5f0c1d2e"],
            ]
        ),
        "request_body": json.dumps(body),
    }


def test_the_snippet_uses_the_anthropic_sdk_and_resends_what_was_recorded(
    tmp_path: Path,
) -> None:
    with FakeProvider(name="anthropic") as fake:
        script = tmp_path / "snippet.py"
        script.write_text(as_python(row(BODY), fake.base_url))
        env = {**os.environ, ANTHROPIC_KEY_ENV: "sk-ant-test", "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        received = fake.requests[-1]
    assert "from anthropic import Anthropic" in script.read_text()
    assert received.path == "/v1/messages?beta=true"
    assert received.json() == BODY
    # The SDK sends the key from the environment (x-api-key, or Authorization in SDK 2.x).
    sent = received.headers.get("x-api-key") or received.headers.get("authorization", "")
    assert sent.removeprefix("Bearer ") == "sk-ant-test"
    assert received.headers["anthropic-beta"] == (
        "claude-code-20250219,interleaved-thinking-2025-05-14"
    )
    assert received.headers["x-claude-code-session-id"] == "5f0c1d2e"
    assert done.stdout.strip() == fake.answer_for("claude-sonnet-4-6", PROMPT)


LITERALS = ("body", "extra_body", "extra_headers", "extra_query")
FIXED = {
    ast.unparse(ast.parse(code))
    for code in [
        "import os",
        "from anthropic import Anthropic",
        "print()",
        "for event in stream:\n"
        '    if event.type == "content_block_delta" and event.delta.type == "text_delta":\n'
        '        print(event.delta.text, end="", flush=True)\n',
        'for block in response.content:\n    if block.type == "text":\n        print(block.text)\n',
    ]
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(hostile, hostile | st.integers() | st.booleans(), max_size=4),
    hostile,
    st.booleans(),
    st.dictionaries(hostile.map(lambda t: "x-h" + t.replace("\x00", "")), hostile, max_size=2),
)
def test_every_recorded_value_is_only_a_literal(
    extra: dict[str, Any], text: str, stream: bool, headers: dict[str, str]
) -> None:
    body = {"model": text, "max_tokens": 10, "messages": [{"role": "user", "content": text}]}
    body |= extra
    body["stream"] = stream
    recorded = row(body, path="/v1/messages?q=" + text.replace("&", ""))
    recorded["id"] = text
    recorded["request_headers"] = json.dumps(list(headers.items()))
    source = as_python(recorded, "http://127.0.0.1:8787/v1")
    assert all(char.isprintable() or char == "\n" for char in source), repr(source)
    docstring, *statements = ast.parse(source).body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert docstring.value.value == ast.literal_eval(MESSAGES_DOCSTRING)
    literals: dict[str, Any] = {}
    calls = []
    for stmt in statements:
        if ast.unparse(stmt) in FIXED:
            continue
        name = getattr(stmt.targets[0], "id", None) if isinstance(stmt, ast.Assign) else None
        if isinstance(stmt, ast.Assign) and name in LITERALS:
            literals[name] = ast.literal_eval(stmt.value)
        elif name == "client":
            assert isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
            base = stmt.value.keywords[0].value
            assert ast.literal_eval(base) == "http://127.0.0.1:8787"
            stmt.value.keywords[0].value = ast.Name("RECORDED")
            assert ast.unparse(stmt) == (
                "client = Anthropic(base_url=RECORDED, "
                f"api_key=os.environ.get({ANTHROPIC_KEY_ENV!r}, 'relayscope'), timeout=600)"
            )
        else:
            calls.append(ast.unparse(stmt))
    assert {**literals["body"], **literals.get("extra_body", {})} == body
    assert set(literals["body"]) <= MESSAGES_PARAMS
    assert literals.get("extra_headers", {}) == headers
    (call,) = calls
    result = "stream" if stream else "response"
    arguments = ", ".join(
        [
            "**body",
            *(f"{n}={n}" for n in ("extra_body", "extra_headers", "extra_query") if n in literals),
        ]
    )
    assert call == f"{result} = client.messages.create({arguments})"
