"""The newest Codex CLI (npm @openai/codex, pinned here), directly and through Relayscope.

Over HTTP (a custom provider, ``base_url`` in config.toml) and over WebSocket (the built-in
provider with ``openai_base_url``): a tool round trip, and a 429 retried after Retry-After.
tests/e2e/test_codex.py keeps the older pinned version.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.compat.harness import assert_recorded_as_sent, npm_packages, run_twice
from tests.e2e.test_codex import HERMETIC

CODEX_VERSION = "0.171.0"
VARYING = re.compile(r"(Chunk ID: |Wall time: )\S+")
"""What differs from run to run in Codex's shell tool output."""
TOKENS_USED = re.compile(r"^tokens used\n([\d,]+)$", re.MULTILINE)
"""The usage Codex reports at the end of `codex exec`."""

pytestmark = pytest.mark.slow  # installs ~400 MB on first run; two Codex sessions a test


@pytest.fixture(scope="module")
def codex_bin() -> Path:
    folder = npm_packages(f"compat-codex-{CODEX_VERSION}", f"@openai/codex@{CODEX_VERSION}")
    return folder / "node_modules" / ".bin" / "codex"


def codex(
    binary: Path, home: Path, base_url: str, prompt: str, *, model: str, websocket: bool
) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True)
    # HOME too: the shell tool runs a login shell, and the person's shell start-up files
    # (a pyenv rehash racing another shell) must not add lines to the tool's output.
    env = {**os.environ, "CODEX_HOME": str(home), "HOME": str(home)}
    if websocket:  # the built-in provider, as most people run Codex
        (home / "config.toml").write_text(f'model = "{model}"\n')
        env["CODEX_API_KEY"] = "placeholder"
        extra = ["-c", f"openai_base_url={base_url}"]
    else:
        (home / "config.toml").write_text(
            f'model = "{model}"\nmodel_provider = "relayscope"\n\n'
            "[model_providers.relayscope]\n"
            f'name = "Relayscope"\nbase_url = "{base_url}"\nenv_key = "RELAYSCOPE_KEY"\n'
            'wire_api = "responses"\nrequest_max_retries = 1\nstream_max_retries = 1\n'
        )
        env["RELAYSCOPE_KEY"] = "placeholder"
        extra = []
    return subprocess.run(
        [str(binary), "exec", "--skip-git-repo-check", *HERMETIC, *extra, prompt],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def runner(binary: Path, tmp_path: Path, prompt: str, model: str, websocket: bool) -> Any:
    homes = iter(("direct", "relayed"))

    def run(base_url: str) -> tuple[int, str, str | None]:
        home = tmp_path / next(homes)
        result = codex(binary, home, base_url, prompt, model=model, websocket=websocket)
        used = TOKENS_USED.search(result.stderr)
        return result.returncode, VARYING.sub(r"\1…", result.stdout), used and used[1]

    return run


@pytest.mark.parametrize("websocket", [False, True], ids=["http", "websocket"])
def test_tool_round_trip(codex_bin: Path, tmp_path: Path, websocket: bool) -> None:
    prompt = "RUN: echo relayscope-was-here"
    twice = run_twice(
        tmp_path / "relay",
        runner(codex_bin, tmp_path, prompt, "fake-1", websocket),
        websocket=websocket,
        prompt_cache=True,
    )
    assert twice.direct == twice.relayed
    returncode, stdout, tokens_used = twice.relayed
    assert returncode == 0 and "relayscope-was-here" in stdout and tokens_used
    rows = twice.rows[1:] if websocket else twice.rows  # the socket's prewarm first
    tool, answer = rows
    assert [json.loads(c["function"]["arguments"]) for c in json.loads(tool["tool_calls"])] == [
        {"cmd": "echo relayscope-was-here"}
    ]
    assert "relayscope-was-here" in answer["output_text"]
    assert {r["transport"] for r in twice.rows} == {"websocket" if websocket else "http"}
    assert tool["turn_id"] and tool["turn_id"] == answer["turn_id"]
    if not websocket:  # over HTTP Codex resends the history; a socket sends only what is new
        assert answer["cached_tokens"]
    assert_recorded_as_sent(twice)


def test_rate_limit_is_retried_after_retry_after(codex_bin: Path, tmp_path: Path) -> None:
    twice = run_twice(
        tmp_path / "relay", runner(codex_bin, tmp_path, "hello", "fail-429", websocket=False)
    )
    assert twice.direct == twice.relayed
    assert twice.relayed[0] != 0
    assert len(twice.rows) == len(twice.fake.requests) >= 2  # every try is its own call
    for row in twice.rows:
        assert (row["status"], row["state"]) == (429, "error")
        headers = {k.lower(): v for k, v in json.loads(row["response_headers"])}
        assert headers["retry-after"] == "1"
