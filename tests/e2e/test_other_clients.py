"""The official Node `openai` package and curl, unchanged but for the URL, through Relayscope."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_codex import CACHE
from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

NODE_OPENAI = "7.57.0"
SCRIPT = r"""
const OpenAI = require('openai');
const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: 'node-client-key' });
(async () => {
  const plain = await client.chat.completions.create({
    model: 'fake-1', messages: [{ role: 'user', content: 'from node' }] });
  const stream = await client.chat.completions.create({
    model: 'fake-1', stream: true, messages: [{ role: 'user', content: 'from node' }] });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
  const responses = await client.responses.create({ model: 'fake-1', input: 'from node' });
  console.log(JSON.stringify({
    plain: plain.choices[0].message.content, streamed: text, responses: responses.output_text }));
})().catch((err) => { console.error(err); process.exit(1); });
"""


@pytest.fixture(scope="module")
def node_openai() -> Path:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are needed for the Node SDK test")
    folder = CACHE / f"node-openai-{NODE_OPENAI}"
    if not (folder / "node_modules" / "openai").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", f"openai@{NODE_OPENAI}"],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return folder


def test_node_sdk_streams_and_plain_calls_through_relayscope(
    node_openai: Path, tmp_path: Path
) -> None:
    with (
        FakeProvider(name="fake") as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ) as worker,
    ):
        (node_openai / "relay.js").write_text(SCRIPT)
        result = subprocess.run(
            ["node", "relay.js"],
            cwd=node_openai,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "BASE_URL": worker.base_url},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        answers = json.loads(result.stdout)
        rows = worker.wait_for_calls(3)
    expected = fake.answer_for("fake-1", "from node")
    assert answers == {"plain": expected, "streamed": expected, "responses": expected}
    assert [r["endpoint"] for r in rows] == ["chat.completions", "chat.completions", "responses"]
    assert all(r["state"] == "complete" and r["output_text"] == expected for r in rows)
    assert rows[0]["client"].startswith("OpenAI/JS")


def test_curl_streams_through_relayscope(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    with (
        FakeProvider(name="fake") as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ) as worker,
    ):
        body = json.dumps(
            {
                "model": "fake-1",
                "stream": True,
                "messages": [{"role": "user", "content": "from curl"}],
            }
        )
        result = subprocess.run(
            [
                "curl",
                "-sN",
                f"{worker.base_url}/chat/completions",
                "-H",
                "content-type: application/json",
                "-d",
                body,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        (row,) = worker.wait_for_calls(1)
    events = [e for e in result.stdout.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert row["output_text"] == fake.answer_for("fake-1", "from curl")
    assert row["client"].startswith("curl/")
