"""README's "Works with" table names the versions this suite actually runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.compat import test_codex_latest, test_node_clients

ROOT = Path(__file__).resolve().parents[2]


def _row(client: str) -> str:
    readme = (ROOT / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith(f"| {client} |")]
    return row


def test_python_clients_are_listed_with_their_locked_versions() -> None:
    locked = {
        p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    for client, package in [
        ("openai-python", "openai"),
        ("langchain-openai", "langchain-openai"),
        ("openai-agents", "openai-agents"),
        ("pydantic-ai", "pydantic-ai-slim"),
    ]:
        assert f"| {locked[package]} |" in _row(client), client


def test_npm_clients_are_listed_with_their_pinned_versions() -> None:
    assert f"| {test_node_clients.NODE_OPENAI} |" in _row("openai-node")
    vercel = _row("Vercel AI SDK")
    assert f"ai {test_node_clients.AI_SDK}," in vercel
    assert f"@ai-sdk/openai {test_node_clients.AI_SDK_OPENAI} |" in vercel
    assert f"| {test_codex_latest.CODEX_VERSION} " in _row("Codex CLI")
