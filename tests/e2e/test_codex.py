"""The real Codex CLI (npm @openai/codex) through Relayscope to the fake provider.

The CLI is installed into a cache on first run (about 400 MB, seconds from the registry).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

CODEX_VERSION = "0.169.0"
CACHE = Path(os.environ.get("RELAYSCOPE_TEST_CACHE", Path.home() / ".cache" / "relayscope-tests"))
HERMETIC = [
    "-c",
    "check_for_update_on_startup=false",
    "-c",
    "analytics.enabled=false",
    "--disable",
    "apps",
    "--disable",
    "remote_plugin",
    "--disable",
    "plugins",
    "--disable",
    "in_app_updates",
    "--disable",
    "tool_suggest",
    "--disable",
    "plugin_sharing",
]


@pytest.fixture(scope="module")
def codex_bin() -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the Codex CLI test needs Node.js and npm")
    folder = CACHE / f"codex-{CODEX_VERSION}"
    binary = folder / "node_modules" / ".bin" / "codex"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                f"@openai/codex@{CODEX_VERSION}",
            ],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return binary


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[FakeProvider, WorkerProcess]]:
    with (
        FakeProvider(name="fake") as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ) as worker,
    ):
        yield fake, worker


def codex(
    binary: Path,
    worker: WorkerProcess,
    home: Path,
    model: str,
    prompt: str,
    scenario: str | None = None,
) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    headers = f'http_headers = {{ "x-fake-scenario" = "{scenario}" }}\n' if scenario else ""
    (home / "config.toml").write_text(
        f'model = "{model}"\nmodel_provider = "relayscope"\n\n'
        "[model_providers.relayscope]\n"
        f'name = "Relayscope"\nbase_url = "{worker.base_url}"\nenv_key = "RELAYSCOPE_KEY"\n'
        'wire_api = "responses"\nrequest_max_retries = 2\nstream_max_retries = 2\n' + headers
    )
    # HOME too: the shell tool runs a login shell, and the person's shell start-up files
    # must not add lines to the tool's output.
    env = {
        **os.environ,
        "CODEX_HOME": str(home),
        "HOME": str(home),
        "RELAYSCOPE_KEY": "placeholder",
    }
    return subprocess.run(
        [str(binary), "exec", "--skip-git-repo-check", *HERMETIC, prompt],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_plain_turn(
    codex_bin: Path, relay: tuple[FakeProvider, WorkerProcess], tmp_path: Path
) -> None:
    fake, worker = relay
    result = codex(codex_bin, worker, tmp_path / "home", "fake-notools", "say hi")
    assert result.returncode == 0, result.stderr[-2000:]
    answer = fake.answer_for("fake-notools", "say hi")
    assert answer in result.stdout
    (row,) = worker.wait_for_calls(1)
    assert (row["endpoint"], row["stream"], row["state"]) == ("responses", 1, "complete")
    assert row["output_text"] == answer
    assert row["client"].startswith("codex_exec")
    assert row["session_id"] and row["total_tokens"]
    assert len(row["request_body"]) > 10_000  # Codex's tools and instructions


def test_tool_call_round_trip(
    codex_bin: Path, relay: tuple[FakeProvider, WorkerProcess], tmp_path: Path
) -> None:
    _fake, worker = relay
    result = codex(codex_bin, worker, tmp_path / "home", "fake-1", "RUN: echo relayscope-was-here")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Done:" in result.stdout and "relayscope-was-here" in result.stdout
    first, second = worker.wait_for_calls(2)
    (call,) = json.loads(first["tool_calls"])
    assert call["function"]["name"] == "exec_command"
    assert json.loads(call["function"]["arguments"]) == {"cmd": "echo relayscope-was-here"}
    last_items = json.loads(second["request_body"])["input"][-2:]
    assert [item["type"] for item in last_items] == ["function_call", "function_call_output"]
    assert "relayscope-was-here" in second["output_text"]
    assert first["session_id"] == second["session_id"]
    assert first["turn_id"] == second["turn_id"]  # one user turn, two requests
    headers = dict((k.lower(), v) for k, v in json.loads(first["request_headers"]))
    assert headers["host"] == worker.base_url.split("/")[2]  # as the client sent it


def test_rate_limit_with_retry_after_is_retried_and_every_try_recorded(
    codex_bin: Path, relay: tuple[FakeProvider, WorkerProcess], tmp_path: Path
) -> None:
    fake, worker = relay
    result = codex(codex_bin, worker, tmp_path / "home", "fail-429", "hello")
    assert result.returncode != 0
    assert "429" in result.stdout + result.stderr or "rate" in (result.stdout + result.stderr)
    rows = worker.wait_for_calls(len(fake.requests))
    assert len(rows) >= 2  # Codex retried after Retry-After, and each try is its own call
    assert {(r["status"], r["state"]) for r in rows} == {(429, "error")}
    for row in rows:
        headers = dict((k.lower(), v) for k, v in json.loads(row["response_headers"]))
        assert headers["retry-after"] == "1"


def test_stream_cut_midway_is_resent_and_recorded(
    codex_bin: Path, relay: tuple[FakeProvider, WorkerProcess], tmp_path: Path
) -> None:
    fake, worker = relay
    result = codex(
        codex_bin, worker, tmp_path / "home", "fake-notools", "hello", scenario="cut-stream"
    )
    assert result.returncode != 0
    rows = worker.wait_for_calls(len(fake.requests))
    assert len(rows) >= 2  # the identical request was resent after the cut
    assert {r["state"] for r in rows} == {"interrupted"}
    # The same request each time (Codex's metadata map may serialise in another key order).
    bodies = [json.loads(r["request_body"]) for r in rows]
    assert all(body == bodies[0] for body in bodies)
    assert all(r["chunk_count"] > 0 and "provider" in r["error"] for r in rows)


def test_builtin_provider_over_websocket_is_one_call_per_response(
    codex_bin: Path, tmp_path: Path
) -> None:
    """Codex's built-in provider opens one WebSocket per session: a prewarm, then one
    `response.create` per model request; it drops the socket at the end (1006)."""
    with (
        FakeProvider(name="fake", websocket=True) as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ) as worker,
    ):
        home = tmp_path / "home"
        home.mkdir()
        (home / "config.toml").write_text('model = "fake-1"\n')
        env = {
            **os.environ,
            "CODEX_HOME": str(home),
            "HOME": str(home),
            "CODEX_API_KEY": "placeholder",
        }
        result = subprocess.run(
            [
                str(codex_bin),
                "exec",
                "--skip-git-repo-check",
                *HERMETIC,
                "-c",
                f"openai_base_url={worker.base_url}",
                "RUN: echo relayscope-was-here",
            ],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        prewarm, tool, answer = worker.wait_for_calls(3)
        store = worker.store()
        for _ in range(200):  # Codex drops the socket as it exits; the proxy sees it soon after
            (connection,) = store.db.query("SELECT * FROM connections")
            if connection["state"] == "closed":
                break
            time.sleep(0.05)
        store.close()
    assert "relayscope-was-here" in result.stdout
    rows = (prewarm, tool, answer)
    assert [r["state"] for r in rows] == ["complete"] * 3
    assert {r["transport"] for r in rows} == {"websocket"}
    assert {r["connection_id"] for r in rows} == {connection["id"]}
    assert json.loads(prewarm["request_body"])["generate"] is False
    assert prewarm["note"].startswith("Codex prewarm")
    (call,) = json.loads(tool["tool_calls"])
    assert call["function"]["name"] == "exec_command"
    assert json.loads(call["function"]["arguments"]) == {"cmd": "echo relayscope-was-here"}
    assert "relayscope-was-here" in answer["output_text"]
    assert tool["turn_id"] and prewarm["turn_id"] == tool["turn_id"] == answer["turn_id"]
    assert all(r["total_tokens"] for r in (tool, answer))
    assert tool["total_tokens"] != answer["total_tokens"]  # each response its own usage
    assert (connection["call_count"], connection["closed_by"]) == (3, "client")
