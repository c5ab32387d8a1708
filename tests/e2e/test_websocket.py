"""Codex's WebSocket path: proxied and recorded message by message, or refused with 426."""

from __future__ import annotations

import json
import socket
from pathlib import Path

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
from tests.support.worker import WorkerProcess

TURN = {
    "type": "response.create",
    "model": "fake-1",
    "input": "hello over a socket",
    "stream": True,
}


def websocket_turn(base_url: str) -> tuple[int, list[dict[str, object]]]:
    """Open a WebSocket on /v1/responses, send one turn; (status, server messages)."""
    host, port = base_url.split("//")[1].split("/")[0].split(":")
    ws = WSConnection(ConnectionType.CLIENT)
    messages: list[dict[str, object]] = []
    rejected = b""
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
        while True:
            data = sock.recv(65536)
            if not data:
                return status, messages
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    status = 101
                    sock.sendall(ws.send(TextMessage(data=json.dumps(TURN))))
                elif isinstance(event, RejectConnection):
                    status = event.status_code
                elif isinstance(event, RejectData):
                    rejected += event.data
                    if event.body_finished:
                        return status, [json.loads(rejected)]
                elif isinstance(event, TextMessage):
                    messages.append(json.loads(event.data))
                    if messages[-1]["type"] == "response.completed":
                        sock.sendall(ws.send(CloseConnection(code=1000)))
                elif isinstance(event, CloseConnection):
                    return status, messages


def test_websocket_is_proxied_and_every_message_recorded(tmp_path: Path) -> None:
    with (
        FakeProvider(websocket=True) as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ) as worker,
    ):
        status, messages = websocket_turn(worker.base_url)
        assert status == 101
        assert messages[-1]["type"] == "response.completed"
        (row,) = worker.wait_for_calls(1)
        store = worker.store()
        chunks = list(
            store.db.query(
                "SELECT seq, direction, data FROM chunks WHERE call_id = ? ORDER BY seq",
                [row["id"]],
            )
        )
        store.close()
        sent = fake.sent_events()
    assert (row["transport"], row["status"], row["state"]) == ("websocket", 101, "complete")
    assert json.loads(row["request_body"]) == TURN and row["model"] == "fake-1"
    assert chunks[0]["direction"] == "client"
    server = [c["data"].encode() for c in chunks if c["direction"] == "server"]
    assert server == sent
    assert row["output_text"] == fake.answer_for("fake-1", "hello over a socket")
    assert row["total_tokens"] is not None


def test_provider_without_websocket_gets_the_client_a_426(tmp_path: Path) -> None:
    with (
        FakeProvider() as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ) as worker,
    ):
        status, body = websocket_turn(worker.base_url)
        (row,) = worker.wait_for_calls(1)
    assert status == 426
    assert body[0]["error"]["code"] == "websocket_not_supported"  # type: ignore[index]
    assert row["status"] == 426 and "426" in row["quirks"]


def test_demo_refuses_websocket_at_once(tmp_path: Path) -> None:
    with WorkerProcess(tmp_path) as worker:
        status, _ = websocket_turn(worker.base_url)
    assert status == 426
