"""curl, unchanged but for the URL, through Relayscope (the Node SDK is in tests/compat)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess


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
