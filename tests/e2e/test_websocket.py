"""Codex's WebSocket path: one connection, one call per `response.create`, or a 426."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, WorkerProcess

TURN = {
    "type": "response.create",
    "model": "fake-1",
    "input": "hello over a socket",
    "stream": True,
}
TOOL = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
TERMINAL = {"response.completed", "response.failed", "response.incomplete", "error"}


def create(prompt: str, *, model: str = "fake-1", **extra: Any) -> dict[str, Any]:
    """A `response.create` as Codex sends it (turn id in `client_metadata`)."""
    return {"type": "response.create", "model": model, "input": prompt, "stream": True, **extra}


def websocket_session(
    base_url: str, creates: list[dict[str, Any]], *, close: str = "frame"
) -> tuple[int, list[list[dict[str, Any]]]]:
    """Open a WebSocket on /v1/responses and send each `response.create` once the previous
    response has ended, as Codex does; then close with a close frame (`close="frame"`) or
    drop the TCP connection (`"drop"`, as Codex does). (status, server messages per create).
    """
    host, port = base_url.split("//")[1].split("/")[0].split(":")
    ws = WSConnection(ConnectionType.CLIENT)
    answers: list[list[dict[str, Any]]] = []
    rejected = b""
    pending = list(creates)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            ws.send(
                Request(
                    host=host,
                    target="/v1/responses",
                    extra_headers=[(b"openai-beta", b"responses_websockets=1")],
                )
            )
        )
        status = 0

        def send_next() -> bool:
            if not pending:
                if close == "frame":
                    sock.sendall(ws.send(CloseConnection(code=1000)))
                return False
            answers.append([])
            sock.sendall(ws.send(TextMessage(data=json.dumps(pending.pop(0)))))
            return True

        while True:
            data = sock.recv(65536)
            if not data:
                return status, answers
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    status = 101
                    send_next()
                elif isinstance(event, RejectConnection):
                    status = event.status_code
                elif isinstance(event, RejectData):
                    rejected += event.data
                    if event.body_finished:
                        return status, [[json.loads(rejected)]]
                elif isinstance(event, TextMessage):
                    answers[-1].append(json.loads(event.data))
                    ended = answers[-1][-1]["type"] in TERMINAL
                    if ended and not send_next() and close == "drop":
                        return status, answers
                elif isinstance(event, CloseConnection):
                    return status, answers


def relayscope(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relayscope", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def relay(tmp_path: Path, fake: FakeProvider) -> WorkerProcess:
    return WorkerProcess(
        tmp_path, f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n'
    )


def recorded(worker: WorkerProcess, calls: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The finished calls (oldest first, with their chunks) and the connection, once closed."""
    rows = worker.wait_for_calls(calls)
    deadline = time.monotonic() + 10
    store = worker.store()
    try:
        while True:
            (connection,) = store.db.query("SELECT * FROM connections")
            if connection["state"] == "closed" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        rows = worker.wait_for_calls(calls)
        for row in rows:
            row["chunks"] = store.chunks(row["id"])
    finally:
        store.close()
    return rows, connection


def test_websocket_is_proxied_and_every_message_recorded(tmp_path: Path) -> None:
    with FakeProvider(websocket=True) as fake, relay(tmp_path, fake) as worker:
        status, answers = websocket_session(worker.base_url, [TURN])
        (row,), connection = recorded(worker, 1)
        sent = fake.sent_events()
    assert status == 101
    assert answers[0][-1]["type"] == "response.completed"
    assert (row["transport"], row["status"], row["state"]) == ("websocket", 101, "complete")
    assert json.loads(row["request_body"]) == TURN and row["model"] == "fake-1"
    assert row["connection_id"] == connection["id"] and row["endpoint"] == "responses"
    chunks = row["chunks"]
    assert chunks[0]["direction"] == "client" and json.loads(chunks[0]["data"]) == TURN
    server = [c["data"].encode() for c in chunks if c["direction"] == "server"]
    assert server == sent
    assert [c["t_ms"] for c in chunks] == sorted(c["t_ms"] for c in chunks)
    assert row["output_text"] == fake.answer_for("fake-1", "hello over a socket")
    usage = fake.usage_for({"input": TURN["input"]}, "responses")
    assert row["total_tokens"] == usage["total_tokens"]
    assert (connection["state"], connection["closed_by"], connection["close_code"]) == (
        "closed",
        "client",
        1000,
    )
    assert (connection["call_count"], connection["message_count"]) == (1, len(chunks))


def test_two_responses_on_one_socket_are_two_calls(tmp_path: Path) -> None:
    first = create("", tools=[TOOL])
    first["input"] = [{"type": "message", "role": "user", "content": "look something up"}]
    second = create("now say hello", previous_response_id="resp_x")
    with FakeProvider(websocket=True) as fake, relay(tmp_path, fake) as worker:
        status, answers = websocket_session(worker.base_url, [first, second])
        (tool_row, text_row), connection = recorded(worker, 2)
    assert status == 101 and [a[-1]["type"] for a in answers] == ["response.completed"] * 2
    assert {tool_row["state"], text_row["state"]} == {"complete"}
    assert tool_row["connection_id"] == text_row["connection_id"] == connection["id"]
    (call,) = json.loads(tool_row["tool_calls"])
    assert call["function"]["name"] == "lookup" and tool_row["output_text"] is None
    assert text_row["tool_calls"] is None
    assert text_row["output_text"] == fake.answer_for("fake-1", "now say hello")
    for row, body in ((tool_row, first), (text_row, second)):
        completed = answers[0 if row is tool_row else 1][-1]["response"]["usage"]
        assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (
            completed["input_tokens"],
            completed["output_tokens"],
            completed["total_tokens"],
        )
        assert json.loads(row["request_body"]) == body
        assert row["chunks"][0]["direction"] == "client"
        assert row["chunks"][-1]["data"].startswith('{"type":"response.completed"')
    assert connection["call_count"] == 2


def test_codex_prewarm_is_its_own_call_in_the_turn_it_warmed(tmp_path: Path) -> None:
    metadata = {"turn_id": "turn-7", "session_id": "sess-1"}
    prewarm = create("hi", generate=False, client_metadata={"turn_id": "", "session_id": "sess-1"})
    turn = create("hi", client_metadata=metadata)
    with FakeProvider(websocket=True) as fake, relay(tmp_path, fake) as worker:
        _, answers = websocket_session(worker.base_url, [prewarm, turn], close="drop")
        (warm, real), _ = recorded(worker, 2)
    assert [m["type"] for m in answers[0]] == ["response.created", "response.completed"]
    assert warm["note"].startswith("Codex prewarm") and warm["output_text"] is None
    assert warm["completion_tokens"] == 0 and real["note"] is None
    assert warm["turn_id"] == real["turn_id"] == "turn-7"
    assert warm["session_id"] == real["session_id"] == "sess-1"
    assert real["output_text"] == fake.answer_for("fake-1", "hi")


def test_client_dropping_the_socket_after_the_last_response_leaves_every_call_complete(
    tmp_path: Path,
) -> None:
    with FakeProvider(websocket=True) as fake, relay(tmp_path, fake) as worker:
        websocket_session(worker.base_url, [TURN, create("again")], close="drop")
        rows, connection = recorded(worker, 2)
        errors = relayscope("calls", "--errors", "--db", str(worker.db_path))
        shown = relayscope("show", rows[1]["id"], "--db", str(worker.db_path))
    assert [r["state"] for r in rows] == ["complete", "complete"]
    assert all(r["error"] is None and r["cut_by"] is None for r in rows)
    assert (connection["closed_by"], connection["close_code"]) == ("client", 1006)
    assert errors.returncode == 0, errors.stderr
    assert not any(r["id"] in errors.stdout for r in rows)
    assert f"{connection['id']} WebSocket" in shown.stdout
    assert "2 calls, closed by the client (1006)" in shown.stdout


def test_socket_cut_mid_response_interrupts_that_call_only(tmp_path: Path) -> None:
    with FakeProvider(websocket=True) as fake, relay(tmp_path, fake) as worker:
        _, answers = websocket_session(worker.base_url, [TURN, create("x", model="cut-stream")])
        (done, cut), connection = recorded(worker, 2)
    assert answers[0][-1]["type"] == "response.completed"
    assert answers[1] and answers[1][-1]["type"] != "response.completed"
    assert done["state"] == "complete" and done["error"] is None
    assert (cut["state"], cut["cut_by"], cut["error_code"]) == (
        "interrupted",
        "provider",
        "upstream_cut",
    )
    assert "provider closed the WebSocket" in cut["error"]
    assert len(cut["chunks"]) == 1 + len(answers[1])  # the request and what did arrive
    assert connection["closed_by"] == "provider"


def test_provider_without_websocket_gets_the_client_a_426(tmp_path: Path) -> None:
    with FakeProvider() as fake, relay(tmp_path, fake) as worker:
        status, body = websocket_session(worker.base_url, [TURN])
        (row,) = worker.wait_for_calls(1)
    assert status == 426
    assert body[0][0]["error"]["code"] == "websocket_not_supported"
    assert row["status"] == 426 and "426" in row["quirks"]


def test_demo_refuses_websocket_at_once(tmp_path: Path) -> None:
    with WorkerProcess(tmp_path) as worker:
        status, _ = websocket_session(worker.base_url, [TURN])
    assert status == 426
