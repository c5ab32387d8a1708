"""The real Claude Code CLI (npm @anthropic-ai/claude-code), headless, through Relayscope to the
fake provider's Messages API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_codex import CACHE
from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

CLAUDE_CODE_VERSION = "2.1.332"
PROVIDER_KEY = "sk-ant-provider-key-0123456789"
CLIENT_KEY = "sk-ant-client-key-abcdefgh1234"


@pytest.fixture(scope="module")
def claude() -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the Claude Code test needs Node.js and npm")
    folder = CACHE / f"claude-code-{CLAUDE_CODE_VERSION}"
    binary = folder / "node_modules" / ".bin" / "claude"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}",
            ],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return binary


def run_claude(claude: Path, worker: WorkerProcess, home: Path, model: str) -> dict[str, object]:
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        # Claude Code adds /v1/messages itself: the base URL goes without /v1.
        "ANTHROPIC_BASE_URL": worker.base_url.removesuffix("/v1"),
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
    }
    result = subprocess.run(
        [str(claude), "-p", "Say hello", "--model", model, "--output-format", "json"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[FakeProvider, WorkerProcess]]:
    fake = FakeProvider(name="anthropic", api_key=PROVIDER_KEY).start()
    config = (
        f'[[providers]]\nname = "anthropic"\nbase_url = "{fake.base_url}"\n'
        f'api_key = "{PROVIDER_KEY}"\ndefault = true\n'
    )
    worker = WorkerProcess(tmp_path, config).start()
    yield fake, worker
    worker.stop()
    fake.stop()


def test_claude_code_answers_through_relayscope_and_is_recorded(
    claude: Path, setup: tuple[FakeProvider, WorkerProcess], tmp_path: Path
) -> None:
    fake, worker = setup
    answer = run_claude(claude, worker, tmp_path / "home", "fake-notools")
    assert answer["is_error"] is False
    result = str(answer["result"])
    # The fake echoes the last user message (here Claude Code's context, after the prompt).
    assert result.startswith("Hello from anthropic (fake-notools).")

    received = fake.requests[-1]
    assert received.path.startswith("/v1/messages")
    assert received.headers["x-api-key"] == PROVIDER_KEY and "authorization" not in received.headers
    (row,) = worker.wait_for_calls(1, state="complete")
    assert (row["endpoint"], row["stream"], row["finish_reason"]) == ("messages", 1, "end_turn")
    assert row["output_text"] == result
    assert row["session_id"] == answer["session_id"]  # Claude Code's session, from its header
    usage = answer["usage"]
    assert isinstance(usage, dict)
    # Claude Code marks its system prompt for caching: the writes are kept apart, and
    # prompt_tokens counts every input token, as Claude Code's own figures add up.
    assert row["cache_write_tokens"] == usage["cache_creation_input_tokens"] > 0
    assert row["prompt_tokens"] == usage["input_tokens"] + usage["cache_creation_input_tokens"]
    assert row["completion_tokens"] == usage["output_tokens"]
    assert "Say hello" in row["prompt_text"] and "Claude Code" in row["prompt_text"]
    for key in (PROVIDER_KEY, CLIENT_KEY):
        assert key.encode() not in worker.db_path.read_bytes()


def test_a_claude_code_tool_turn_is_two_recorded_calls(
    claude: Path, setup: tuple[FakeProvider, WorkerProcess], tmp_path: Path
) -> None:
    """The fake model calls Claude Code's first tool; Claude Code sends the result back."""
    _, worker = setup
    answer = run_claude(claude, worker, tmp_path / "home", "fake-1")
    assert answer["num_turns"] == 2
    first, second = worker.wait_for_calls(2, state="complete")
    (call,) = json.loads(first["tool_calls"])
    assert first["finish_reason"] == "tool_use" and call["id"] == "toolu_fake_1"
    last_message = json.loads(second["request_body"])["messages"][-1]
    results = [b for b in last_message["content"] if b.get("type") == "tool_result"]
    assert [b["tool_use_id"] for b in results] == [call["id"]]
    assert second["output_text"].startswith("Done: ") and answer["result"] == second["output_text"]


def test_claude_code_talks_to_the_demo_provider_with_no_keys(claude: Path, tmp_path: Path) -> None:
    with WorkerProcess(tmp_path) as worker:  # no config: the demo provider only
        answer = run_claude(claude, worker, tmp_path / "home", "demo-fast")
        (row,) = worker.wait_for_calls(1, state="complete")
    assert answer["is_error"] is False and "Relayscope" in str(answer["result"])
    assert (row["provider"], row["endpoint"]) == ("demo", "messages")
    assert row["output_text"] == answer["result"]
