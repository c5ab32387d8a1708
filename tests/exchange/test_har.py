"""HAR export read back by the tools people open it with: haralyzer and mitmproxy's reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from haralyzer import HarEntry, HarParser
from mitmproxy.io.har import request_to_flow

from relayscope.exchange.export import export_to_path, joined_body
from relayscope.recording.writer import RecordingWriter
from relayscope.store.call_store import CallStore
from tests.exchange.test_export import (
    BINARY,
    JSON_HEADERS,
    PLAIN,
    SOCKET,
    STREAM,
    _start,
    har_problems,
    seed_calls,
)

MODELS = "019a3f2c5b10-00000010"


@pytest.fixture
def document(tmp_path: Path) -> dict[str, Any]:
    """Every kind of recorded call, plus a GET without a body, exported as one HAR file."""
    path = seed_calls(tmp_path / "seed.db")
    writer = RecordingWriter(path).open()
    start = _start(MODELS, 9, method="GET", path="/v1/models", endpoint="models")
    writer.start({**start, "request_body": None})
    answer = json.dumps({"object": "list", "data": []}).encode()
    writer.finish(
        MODELS,
        {
            "status": 200,
            "state": "complete",
            "response_headers": JSON_HEADERS,
            "response_body": answer,
        },
    )
    writer.close()
    store = CallStore(path)
    try:
        out = tmp_path / "calls.har"
        result = export_to_path(store, "har", out)
        assert result.written == 9
        loaded = json.loads(out.read_text())
        loaded["_stream_body"] = joined_body(store.chunks(STREAM))
    finally:
        store.close()
    return loaded


def entries(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["_relayscope"]["id"]: entry for entry in document["log"]["entries"]}


def test_the_export_is_valid_har_with_no_empty_post_data(document: dict[str, Any]) -> None:
    stream_body = document.pop("_stream_body")
    assert har_problems(document) == []
    by_id = entries(document)
    assert "postData" not in by_id[MODELS]["request"]  # a GET has no body, not an empty one
    assert by_id[MODELS]["request"]["bodySize"] == 0
    assert by_id[PLAIN]["request"]["postData"]["mimeType"] == "application/json"
    for entry in by_id.values():
        # The client talked to the proxy on loopback: its address, and its port as the
        # connection's id (HAR allows the server port there).
        assert (entry["serverIPAddress"], entry["connection"]) == ("127.0.0.1", "8787")
    assert stream_body  # the fixture read the stream's body to compare with below


def test_haralyzer_reads_every_entry(document: dict[str, Any]) -> None:
    document.pop("_stream_body")
    parser = HarParser(document)
    assert parser.creator["name"] == "Relayscope" and parser.version == "1.2"
    read = {}
    for raw in document["log"]["entries"]:
        entry = HarEntry(raw)
        # Every accessor a report would touch; the two connection ones used to raise.
        read[raw["_relayscope"]["id"]] = (
            entry.request.method,
            entry.request.url,
            entry.request.text,
            entry.response.status,
            entry.response.mimeType,
            entry.serverAddress,
            entry.port,
            entry.secure,
            entry.time,
            entry.startTime,
        )
    assert read[MODELS][:4] == ("GET", "http://127.0.0.1:8787/v1/models", None, 200)
    assert read[MODELS][5:7] == ("127.0.0.1", 8787)
    assert read[STREAM][4] == "text/event-stream"
    assert read[PLAIN][2] is not None and json.loads(read[PLAIN][2])["model"] == "fake-1"


def test_mitmproxy_reads_every_entry_back_into_flows(document: dict[str, Any]) -> None:
    stream_body = document.pop("_stream_body")
    flows = {raw["_relayscope"]["id"]: request_to_flow(raw) for raw in document["log"]["entries"]}
    assert set(flows) >= {STREAM, PLAIN, SOCKET, BINARY, MODELS}
    models = flows[MODELS]
    assert (models.request.method, models.request.path) == ("GET", "/v1/models")
    assert models.request.content == b""
    assert models.server_conn.address == ("127.0.0.1", 80)  # mitmproxy picks the port itself
    stream = flows[STREAM]
    assert stream.response is not None
    assert stream.response.content == stream_body  # the SSE body, byte for byte
    assert json.loads(stream.request.get_text() or "")["stream"] is True
    plain = flows[PLAIN]
    assert plain.response is not None and plain.response.json()["id"] == "chatcmpl-2"
