"""HAR import: our own exports come back as they were; other tools' HARs come in safely."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from relayscope.exchange.export import export_to_path
from relayscope.exchange.har_import import (
    HarImportError,
    _Importer,
    call_from_entry,
    import_har,
    is_api_entry,
)
from relayscope.recording.writer import RecordingWriter
from relayscope.store.call_store import CallFilter, CallStore
from tests.exchange.test_export import (
    AGGREGATED,
    SOCKET,
    STREAM,
    STREAM_CHUNKS,
    seed_calls,
)

# Columns an import cannot or should not keep: how the call reached the database.
NOT_KEPT = {"transport"}


def exported_har(tmp_path: Path) -> tuple[CallStore, Path]:
    store = CallStore(seed_calls(tmp_path / "original.db"))
    har = tmp_path / "calls.har"
    export_to_path(store, "har", har)
    return store, har


def test_round_trip_brings_back_the_same_calls(tmp_path: Path) -> None:
    original, har = exported_har(tmp_path)
    result = import_har(har, tmp_path / "fresh.db")
    assert (result.total, result.imported, result.skipped) == (8, 8, {})
    fresh = CallStore(tmp_path / "fresh.db")
    for before in original.list_calls(limit=100):
        after = fresh.get_call(before["id"])  # ids are kept
        assert after is not None, before["id"]
        assert after["transport"] == "har-import"
        differences = {
            column: (before[column], after[column])
            for column in before
            if column not in NOT_KEPT and before[column] != after[column]
        }
        assert differences == {}, before["id"]
        assert fresh.chunks(before["id"]) == original.chunks(before["id"])
    assert fresh.count_calls(CallFilter(text="hello")) == original.count_calls(
        CallFilter(text="hello")
    )
    original.close()
    fresh.close()


def test_round_trip_details_that_matter_most(tmp_path: Path) -> None:
    original, har = exported_har(tmp_path)
    import_har(har, tmp_path / "fresh.db")
    fresh = CallStore(tmp_path / "fresh.db")
    stream = fresh.get_call(STREAM)
    assert stream is not None
    assert (stream["output_text"], stream["total_tokens"], stream["chunk_count"]) == (
        "Hello world",
        11,
        5,
    )
    data = b"".join(c["data"].encode() for c in fresh.chunks(STREAM))
    assert data == b"".join(STREAM_CHUNKS)
    assert [c["t_ms"] for c in fresh.chunks(STREAM)] == [40.0, 50.0, 60.0, 70.0, 80.0]
    assert [c["direction"] for c in fresh.chunks(SOCKET)] == [
        "client",
        "server",
        "server",
        "server",
    ]
    aggregated = fresh.get_call(AGGREGATED)
    assert aggregated is not None and aggregated["output_text"] == "Hello world"
    original.close()
    fresh.close()


def test_importing_the_same_har_again_adds_nothing(tmp_path: Path) -> None:
    original, har = exported_har(tmp_path)
    original.close()
    result = import_har(har, tmp_path / "original.db")
    assert result.imported == 0
    assert result.skipped == {"already in the database": 8}
    assert "skipped 8 (8 already in the database)" in result.summary()


# --- HARs from other tools -----------------------------------------------------------------

PROVIDER_KEY = "sk-real-secret-abcdef123456"
QUERY_KEY = "AIzaQuerySecret9876"
SSE_BODY = (
    'data: {"id":"c9","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Bon"}}]}\n\n'
    'data: {"id":"c9","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"jour"},'
    '"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
    "\n\ndata: [DONE]\n\n"
)


def chrome_entry(url: str, *, method: str = "POST", **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "startedDateTime": "2026-01-02T03:04:05.678+01:00",
        "time": 300.0,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "h2",
            "headers": [
                {"name": ":authority", "value": "api.openai.com"},
                {"name": "authorization", "value": f"Bearer {PROVIDER_KEY}"},
                {"name": "cookie", "value": f"session={PROVIDER_KEY}"},
                {"name": "user-agent", "value": "Mozilla/5.0"},
            ],
            "cookies": [{"name": "session", "value": PROVIDER_KEY}],
            "queryString": [],
            "headersSize": -1,
            "bodySize": 60,
            "postData": {
                "mimeType": "application/json",
                "text": '{"model":"gpt-4o","stream":true,'
                '"messages":[{"role":"user","content":"salut"}]}',
            },
        },
        "response": {
            "status": 200,
            "statusText": "",
            "httpVersion": "h2",
            "headers": [
                {"name": "content-type", "value": "text/event-stream"},
                {"name": "set-cookie", "value": f"__cf={PROVIDER_KEY}"},
            ],
            "cookies": [],
            "content": {"size": len(SSE_BODY), "mimeType": "text/event-stream", "text": SSE_BODY},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 180,
        },
        "cache": {},
        "timings": {
            "blocked": 1.0,
            "dns": -1,
            "connect": -1,
            "ssl": -1,
            "send": 1.0,
            "wait": 98.0,
            "receive": 200.0,
        },
    }
    for key, value in overrides.items():
        entry[key] = value
    return entry


def browser_har(tmp_path: Path) -> Path:
    failed = chrome_entry("https://api.openai.com/v1/chat/completions")
    failed["response"] = {**failed["response"], "status": 0, "content": {"size": 0, "mimeType": ""}}
    failed["_error"] = "net::ERR_CONNECTION_RESET"
    responses = chrome_entry("https://gateway.example/openai/v1/responses")
    responses["request"]["postData"]["text"] = '{"model":"gpt-5.2","input":"hi"}'
    responses["response"]["content"] = {
        "size": 10,
        "mimeType": "application/json",
        "text": json.dumps(
            {
                "id": "resp_9",
                "object": "response",
                "status": "completed",
                "output": [
                    {"type": "message", "content": [{"type": "output_text", "text": "Hello!"}]}
                ],
                "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
            }
        ),
    }
    entries = [
        chrome_entry(f"https://api.openai.com/v1/chat/completions?key={QUERY_KEY}&x=1"),
        chrome_entry("https://www.example.com/index.html", method="GET"),
        responses,
        failed,
    ]
    path = tmp_path / "browser.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    return path


def test_a_browser_har_imports_its_api_calls_without_secrets(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    result = import_har(browser_har(tmp_path), db)
    assert (result.imported, result.skipped) == (3, {"not OpenAI-format API calls": 1})
    assert PROVIDER_KEY.encode() not in db.read_bytes()
    assert QUERY_KEY.encode() not in db.read_bytes()
    store = CallStore(db)
    stream, responses, failed = store.list_calls(descending=False)
    assert stream["path"] == "/v1/chat/completions?key=****9876&x=1"
    headers = dict(json.loads(stream["request_headers"]))
    assert headers["authorization"] == "Bearer ****3456"
    assert headers["cookie"] == "****3456"
    assert dict(json.loads(stream["response_headers"]))["set-cookie"] == "****3456"
    assert (stream["transport"], stream["provider"], stream["model"], stream["stream"]) == (
        "har-import",
        "api.openai.com",
        "gpt-4o",
        1,
    )
    assert stream["started_at"] == "2026-01-02T02:04:05.678Z"
    assert stream["id"].startswith(f"{1767319445678:012x}-")
    assert (stream["output_text"], stream["total_tokens"], stream["finish_reason"]) == (
        "Bonjour",
        7,
        "stop",
    )
    # Three events, spread from the first byte (blocked + send + wait) over the receive time.
    chunks = store.chunks(stream["id"])
    assert [c["t_ms"] for c in chunks] == [100.0, 200.0, 300.0]
    assert "".join(c["data"] for c in chunks) == SSE_BODY
    assert (stream["ttft_ms"], stream["duration_ms"], stream["state"]) == (100.0, 300.0, "complete")
    assert (responses["endpoint"], responses["output_text"], responses["prompt_tokens"]) == (
        "responses",
        "Hello!",
        3,
    )
    assert responses["provider"] == "gateway.example"
    assert (failed["state"], failed["status"], failed["error"]) == (
        "interrupted",
        None,
        "net::ERR_CONNECTION_RESET",
    )
    assert store.count_calls(CallFilter(text="salut")) == 2  # the stream and the failed call
    store.close()


def test_all_entries_imports_the_rest_too(tmp_path: Path) -> None:
    result = import_har(browser_har(tmp_path), tmp_path / "r.db", all_entries=True)
    assert (result.imported, result.skipped) == (4, {})
    store = CallStore(tmp_path / "r.db")
    assert [r["endpoint"] for r in store.list_calls(descending=False)][1] == "other"
    store.close()


@pytest.mark.parametrize(
    ("url", "api"),
    [
        ("https://api.openai.com/v1/chat/completions", True),
        ("http://127.0.0.1:8787/v1/responses", True),
        ("https://x.example/openai/deployments/d/v1/embeddings?api-version=1", True),
        ("https://api.openai.com/v1/models/gpt-4o", True),
        ("https://www.example.com/", False),
        ("https://www.example.com/blog/chat/completions/today", False),
    ],
)
def test_which_entries_look_like_an_openai_format_api(url: str, api: bool) -> None:
    assert is_api_entry({"request": {"url": url}}) is api


def test_a_websocket_entry_becomes_directed_chunks() -> None:
    entry = chrome_entry("wss://api.openai.com/v1/responses", method="GET")
    del entry["request"]["postData"]
    start = 1767319445.678  # the entry's startedDateTime, in epoch seconds
    created = '{"type":"response.create","model":"gpt-5.2","input":"hi"}'
    entry["_webSocketMessages"] = [
        {"type": "send", "time": start + 0.005, "opcode": 1, "data": created},
        {
            "type": "receive",
            "time": start + 0.020,
            "opcode": 1,
            "data": '{"type":"response.output_text.delta","output_index":0,"delta":"Yo"}',
        },
    ]
    call = call_from_entry(entry)
    assert call.start["request_body"] == created.encode()
    assert call.start["model"] == "gpt-5.2"
    assert [(c.direction, round(c.t_ms)) for c in call.chunks] == [("client", 5), ("server", 20)]
    assert call.chunks[0].data is None and call.chunks[1].data is not None


def test_not_a_har_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "bad.har"
    bad.write_text("{not json")
    with pytest.raises(HarImportError, match=r"bad\.har: not a HAR file \(it is not valid JSON"):
        import_har(bad, tmp_path / "r.db")
    bad.write_text('{"entries": []}')
    with pytest.raises(HarImportError, match=r"no log\.entries list"):
        import_har(bad, tmp_path / "r.db")
    with pytest.raises(HarImportError, match="cannot read it"):
        import_har(tmp_path / "missing.har", tmp_path / "r.db")


def test_import_leaves_a_running_proxys_live_calls_alone(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    proxy = RecordingWriter(db).open()
    proxy.start({"id": "019a3f2c5b00-00000000", "started_at": "2026-11-21T12:00:00.000Z"})
    proxy.close()  # the row stays pending, as if the proxy were still streaming it
    import_har(browser_har(tmp_path), db)
    store = CallStore(db)
    live = store.get_call("019a3f2c5b00-00000000")
    assert live is not None and live["state"] == "pending"
    store.close()


def test_progress_and_cancel(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            cancel.set()

    result = import_har(
        browser_har(tmp_path), tmp_path / "r.db", on_progress=progress, cancel=cancel
    )
    assert seen == [(1, 4), (2, 4)]
    assert result.cancelled and result.imported == 1
    assert result.summary().endswith("(cancelled).")
    store = CallStore(tmp_path / "r.db")
    assert store.count_calls() == 1
    store.close()


def test_a_big_har_is_fed_to_the_writer_a_little_ahead_of_its_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Importer, "AHEAD", 3)
    entries = [chrome_entry("https://api.openai.com/v1/chat/completions") for _ in range(60)]
    path = tmp_path / "big.har"
    path.write_text(json.dumps({"log": {"entries": entries}}))
    result = import_har(path, tmp_path / "r.db")
    assert result.imported == 60 and len(set(result.ids)) == 60
    store = CallStore(tmp_path / "r.db")
    assert store.count_calls() == 60
    assert {r["output_text"] for r in store.list_calls(limit=100)} == {"Bonjour"}
    store.close()
