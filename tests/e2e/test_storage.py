"""An agent session recorded through the real worker: every request body comes back byte for
byte (as the provider received it) although the database holds each resent part once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai

from relayscope.recording.writer import RecordingWriter
from relayscope.store.call_store import CallFilter, CallStore
from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, WorkerProcess

SESSION = "0199f1a2-storage-session"
SYSTEM = "You are a careful coding agent. " + " ".join(f"rule{i}" for i in range(1500))
TOOLS = [
    {
        "type": "function",
        "name": f"tool_{i}",
        "description": "Runs something useful. " * 20,
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    }
    for i in range(8)
]


def _turn(client: openai.OpenAI, items: list[dict[str, Any]]) -> None:
    stream = client.responses.create(
        model="gpt-5.2-notools",
        input=[{"role": "developer", "content": SYSTEM}, *items],  # type: ignore[list-item]
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
        store=False,
        extra_headers={"session-id": SESSION},
    )
    for _ in stream:
        pass


def test_a_session_comes_back_byte_for_byte_and_is_stored_once(tmp_path: Path) -> None:
    with (
        FakeProvider(name="openai") as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "openai"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ) as worker,
        openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client,
    ):
        items: list[dict[str, Any]] = []
        for turn in range(10):
            items.append({"role": "user", "content": f"step{turn}: " + "ünïcode text " * 80})
            _turn(client, items)
        rows = worker.wait_for_calls(10, state="complete")
        sent = [request.body for request in fake.requests]
    store = CallStore(worker.db_path, create=False)
    try:
        for row, body in zip(rows, sent, strict=True):
            call = store.get_call(row["id"])
            assert call is not None
            assert call["request_body"].encode() == body
        stored = store.db.execute(
            "SELECT count(request_pieces), sum(length(request_body)) FROM calls"
        ).fetchone()
        assert stored == (10, None)  # every body is stored as pieces
        # Each resent part is held once: about the last body's worth, not ten bodies'.
        held = store.db.execute("SELECT sum(length(data)) FROM body_pieces").fetchone()[0]
        assert held < 1.5 * len(sent[-1]) < sum(map(len, sent)) / 3
        # Search finds the first turn and the last, each in the call that added it.
        assert [r["id"] for r in store.list_calls(CallFilter(text="step0"))] == [rows[0]["id"]]
        assert [r["id"] for r in store.list_calls(CallFilter(text="step9"))] == [rows[-1]["id"]]
        assert store.count_calls(CallFilter(text="rule1499")) == 1
    finally:
        store.close()
    # The CLI shows the body as recorded.
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "relayscope",
            "show",
            rows[4]["id"],
            "--json",
            "--db",
            str(worker.db_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(shown.stdout)["request_body"].encode() == sent[4]


def test_the_worker_applies_the_storage_limits_at_start(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path / "relayscope.db").open()
    for call_id, started in (("old", "2020-01-01T00:00:00Z"), ("new", "2099-01-01T00:00:00Z")):
        writer.start({"id": call_id, "started_at": started, "request_body": b"{}"})
        writer.finish(call_id, {"state": "complete", "status": 200})
    writer.close()
    with (
        FakeProvider(name="openai") as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "openai"\nbase_url = "{fake.base_url}"\ndefault = true\n'
            "\n[storage]\nkeep_days = 30\n",
        ) as worker,
    ):
        store = worker.store()
        ids = [r["id"] for r in store.list_calls(columns=("id",))]
        store.close()
    assert ids == ["new"]
