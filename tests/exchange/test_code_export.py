"""Tests for relayscope.exchange.code_export: curl and Python that send a recorded call again."""

from __future__ import annotations

import ast
import inspect
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relayscope.exchange.code_export import (
    API_KEY_ENV,
    SDK_METHODS,
    as_curl,
    as_python,
    request_url,
)
from tests.fakes import FakeProvider

BASE = "http://127.0.0.1:8787/v1"
ROOT = Path(__file__).resolve().parents[2]


def call(**fields: Any) -> dict[str, Any]:
    body = {
        "model": "gpt-5.2",
        "messages": [{"role": "user", "content": 'It\'s "quoted" and $HOME stays literal'}],
        "temperature": 0.2,
    }
    row: dict[str, Any] = {
        "id": "019a3f2c5b1e-8c1d2e3f",
        "method": "POST",
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "provider": "openai",
        "model": "gpt-5.2",
        "stream": 0,
        "request_headers": json.dumps(
            [
                ["host", "127.0.0.1:8787"],
                ["authorization", "Bearer ****9f3a"],
                ["content-type", "application/json"],
                ["content-length", "123"],
                ["accept-encoding", "gzip"],
                ["user-agent", "OpenAI/Python 1.109.1"],
                ["x-stainless-lang", "python"],
                ["x-relayscope-provider", "openai"],
                ["x-relayscope-replay-of", "0199"],
            ]
        ),
        "request_body": json.dumps(body),
    }
    row.update(fields)
    return row


def curl_args(command: str) -> list[str]:
    # shlex keeps a backslash-newline as a "\n" word; a POSIX shell drops it (continuation).
    return [word for word in shlex.split(command) if word != "\n"]


def option_values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, word in enumerate(args) if word == option]


# --- curl -----------------------------------------------------------------------------------


def test_curl_posts_the_recorded_body_to_relayscope() -> None:
    row = call()
    args = curl_args(as_curl(row, BASE))
    assert args[0] == "curl"
    assert args[1] == "http://127.0.0.1:8787/v1/chat/completions"
    assert option_values(args, "--data-raw") == [row["request_body"]]
    assert "-X" not in args  # POST is what --data-raw implies


def test_curl_keeps_useful_headers_and_never_a_key() -> None:
    args = curl_args(as_curl(call(), BASE))
    headers = option_values(args, "-H")
    assert headers == [
        "content-type: application/json",
        "user-agent: OpenAI/Python 1.109.1",
        "x-relayscope-provider: openai",
        f"Authorization: Bearer ${API_KEY_ENV}",
    ]
    assert "****" not in " ".join(args)


def test_curl_streams_without_buffering() -> None:
    row = call(request_body=json.dumps({"model": "m", "messages": [], "stream": True}), stream=1)
    assert "--no-buffer" in curl_args(as_curl(row, BASE))


def test_curl_for_a_get_has_no_body() -> None:
    row = call(method="GET", path="/v1/models", endpoint="models", request_body=None)
    args = curl_args(as_curl(row, BASE))
    assert args[1] == "http://127.0.0.1:8787/v1/models"
    assert "--data-raw" not in args and "-X" not in args


def test_curl_says_the_method_when_it_is_not_implied() -> None:
    row = call(method="DELETE", path="/v1/files/f1", endpoint="other", request_body=None)
    assert option_values(curl_args(as_curl(row, BASE)), "-X") == ["DELETE"]


def test_request_url_uses_relayscope_address_and_the_recorded_path() -> None:
    row = call(path="/openai/v1/chat/completions?api-version=1")
    assert request_url(row, "http://localhost:9000/v1") == (
        "http://localhost:9000/openai/v1/chat/completions?api-version=1"
    )
    assert request_url(call(path=None), BASE) == BASE + "/chat/completions"


# --- Python ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "path", "body", "expected"),
    [
        (
            "chat.completions",
            "/v1/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            "response = client.chat.completions.create(",
        ),
        (
            "chat.completions",
            "/v1/chat/completions",
            {"model": "m", "messages": [], "stream": True},
            "stream = client.chat.completions.create(",
        ),
        (
            "responses",
            "/v1/responses",
            {"model": "m", "input": "hi", "stream": True, "client_metadata": {"a": 1}},
            "stream = client.responses.create(**body, extra_body=extra_body",
        ),
        ("completions", "/v1/completions", {"model": "m", "prompt": "x"}, "client.completions"),
        ("embeddings", "/v1/embeddings", {"model": "m", "input": "x"}, "client.embeddings.create"),
        ("other", "/v1/audio/speech", {"model": "m", "input": "x"}, "httpx.request("),
    ],
)
def test_python_picks_the_sdk_method_by_endpoint_and_compiles(
    endpoint: str, path: str, body: dict[str, Any], expected: str
) -> None:
    source = as_python(call(endpoint=endpoint, path=path, request_body=json.dumps(body)), BASE)
    compile(source, "snippet.py", "exec")
    assert expected in source
    assert f'os.environ.get("{API_KEY_ENV}"' in source
    assert "****" not in source


def assigned(source: str, name: str) -> Any:
    """The literal value a snippet assigns to `name`."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned")


def test_python_keeps_json_values_and_puts_unknown_parameters_in_extra_body() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": '日本 \u2028 \\ "q" true null'}],
        "stop": None,
        "logprobs": False,
        "vendor_option": {"enabled": True},
    }
    source = as_python(call(request_body=json.dumps(body)), BASE)
    assert assigned(source, "body") == {k: v for k, v in body.items() if k != "vendor_option"}
    assert assigned(source, "extra_body") == {"vendor_option": {"enabled": True}}
    assert assigned(source, "extra_headers") == {"x-relayscope-provider": "openai"}


def test_python_for_a_body_that_is_not_json_sends_it_as_recorded() -> None:
    source = as_python(call(request_body="{not json"), BASE)
    compile(source, "snippet.py", "exec")
    assert 'content = "{not json"' in source


def test_python_lists_models_with_the_sdk() -> None:
    row = call(method="GET", path="/v1/models", endpoint="models", request_body=None)
    source = as_python(row, BASE)
    compile(source, "snippet.py", "exec")
    assert "client.models.list()" in source


def test_named_parameters_exist_in_the_installed_openai_sdk() -> None:
    from openai import OpenAI

    client = OpenAI(api_key="x", base_url=BASE)
    methods = {
        "chat.completions": client.chat.completions.create,
        "responses": client.responses.create,
        "completions": client.completions.create,
        "embeddings": client.embeddings.create,
    }
    for endpoint, (_, names, _) in SDK_METHODS.items():
        accepted = set(inspect.signature(methods[endpoint]).parameters)
        assert names <= accepted, f"{endpoint}: {sorted(names - accepted)}"


# --- against a real server --------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(name="acme") as provider:
        yield provider


def run(args: list[str], *, key: str = "sk-test-not-real") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, API_KEY_ENV: key, "PYTHONPATH": str(ROOT)}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_curl_command_runs_in_a_shell(fake: FakeProvider) -> None:
    row = call()
    done = run(["bash", "-c", as_curl(row, fake.base_url)])
    assert done.returncode == 0, done.stderr
    received = fake.requests[-1]
    assert received.path == "/v1/chat/completions"
    assert received.body == row["request_body"].encode()
    assert received.headers["authorization"] == "Bearer sk-test-not-real"
    assert received.headers["x-relayscope-provider"] == "openai"
    assert "Hello" in done.stdout or json.loads(done.stdout)["choices"]


@pytest.mark.parametrize(
    ("endpoint", "path", "body"),
    [
        (
            "chat.completions",
            "/v1/chat/completions",
            {"model": "fake-1", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        ),
        (
            "responses",
            "/v1/responses",
            {
                "model": "fake-1",
                "input": "hi",
                "stream": True,
                "client_metadata": {"originator": "codex_exec"},
            },
        ),
    ],
)
def test_python_snippet_runs_with_the_openai_sdk(
    fake: FakeProvider, tmp_path: Path, endpoint: str, path: str, body: dict[str, Any]
) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(
        as_python(call(endpoint=endpoint, path=path, request_body=json.dumps(body)), fake.base_url)
    )
    done = run([sys.executable, str(script)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "the snippet printed the streamed answer"
    assert fake.requests[-1].json() == body
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-test-not-real"
