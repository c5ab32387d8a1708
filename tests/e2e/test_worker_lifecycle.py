"""The worker as a process: start-up messages, shutdown, parent pipe, crash recovery."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from relayscope.protocols import encodings
from tests.e2e.conftest import FAKE_KEY
from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, WorkerProcess, completion_id

MESSAGES = [{"role": "user", "content": "hello"}]


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relayscope", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_demo_works_with_no_config_and_sigterm_exits_cleanly(tmp_path: Path) -> None:
    worker = WorkerProcess(tmp_path, events=False).start()
    with openai.OpenAI(base_url=worker.base_url, api_key="anything", max_retries=0) as client:
        chunks = list(
            client.chat.completions.create(model="demo-fast", messages=MESSAGES, stream=True)
        )
        plain = client.chat.completions.create(model="demo-fast", messages=MESSAGES)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content and "hello" in text
    assert plain.usage is not None and plain.usage.total_tokens > 0
    assert worker.stop(signal.SIGTERM) == 0
    store = worker.store()
    rows = store.list_calls()
    store.close()
    assert [(r["provider"], r["state"]) for r in rows] == [("demo", "complete")] * 2


def test_listening_line_is_printed_with_the_real_port(tmp_path: Path) -> None:
    with WorkerProcess(tmp_path, events=False) as worker:
        assert worker.base_url.startswith("http://127.0.0.1:")
        port = int(worker.base_url.rsplit(":", 1)[1].split("/")[0])
        assert port != 0
        assert httpx.get(worker.base_url + "/models").status_code == 200


def test_parent_pipe_closing_stops_the_worker(tmp_path: Path) -> None:
    worker = WorkerProcess(tmp_path, extra_args=("--parent-pipe",)).start()
    assert worker.proc is not None and worker.proc.stdin is not None
    worker.proc.stdin.close()
    assert worker.proc.wait(10) == 0
    assert worker.stop() == 0
    port = int(worker.base_url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a new listener would
        probe.bind(("127.0.0.1", port))  # the port is free again


def test_port_in_use_is_one_clear_sentence(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("proxy", "--db", str(tmp_path / "x.db"), "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"relayscope: Port {port} on 127.0.0.1 is in use by another program; stop it or "
        "choose another port (--port, or [proxy] port in the config)."
    )


def test_config_mistake_stops_startup_with_one_sentence(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[providers]]\nname = "x"\nmodels = ["gpt-*"]\n')
    result = run_cli("proxy", "--config", str(config), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"relayscope: {config}: provider 'x' needs base_url = \"https://…/v1\"."]


def test_remote_listening_needs_an_explicit_flag_and_a_token(tmp_path: Path) -> None:
    result = run_cli("proxy", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "--allow-remote" in result.stderr
    result = run_cli("proxy", "--host", "0.0.0.0", "--allow-remote", "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "--access-token" in result.stderr


def test_access_token_is_required_and_never_forwarded(tmp_path: Path) -> None:
    token = "local-access-token-42"
    with (
        FakeProvider() as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n',
            extra_args=("--access-token", token),
        ) as worker,
    ):
        body = {"model": "fake-1", "messages": MESSAGES}
        denied = httpx.post(worker.base_url + "/chat/completions", json=body)
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "relayscope_token_required"
        allowed = httpx.post(
            worker.base_url + "/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {token}"},
        )
        assert allowed.status_code == 200
        assert "authorization" not in fake.requests[-1].headers
        assert len(fake.requests) == 1  # the denied call never left the machine
        # Refused before its body was read, and not recorded: without the token nobody
        # can make Relayscope store anything (the log says it happened).
        rows = worker.wait_for_calls(1)
        assert [r["status"] for r in rows] == [200]
    assert "Refused a request without the access token from 127.0.0.1" in worker.log()


def test_sigkill_mid_stream_leaves_calls_interrupted_after_restart(
    tmp_path: Path,
) -> None:
    with FakeProvider(chunk_delay=0.05, words=200, api_key=FAKE_KEY) as fake:
        config = (
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\n'
            f'api_key = "{FAKE_KEY}"\ndefault = true\n'
        )
        worker = WorkerProcess(tmp_path, config).start()
        received = threading.Semaphore(0)
        seen: dict[str, int] = {}  # completion id -> events its client got before the kill

        def stream() -> None:
            with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as c:
                try:
                    for index, chunk in enumerate(
                        c.chat.completions.create(model="fake-1", messages=MESSAGES, stream=True)
                    ):
                        seen[chunk.id] = index + 1
                        if index == 0:
                            received.release()
                except (openai.APIError, httpx.HTTPError):
                    pass

        threads = [threading.Thread(target=stream) for _ in range(5)]
        for thread in threads:
            thread.start()
        for _ in threads:  # every stream under way (at load 12, 0.5 s after the first, 2 were)
            assert received.acquire(timeout=20)
        time.sleep(0.5)
        worker.stop(signal.SIGKILL)
        for thread in threads:
            thread.join(10)
        # Each stream's completion id (in every event) says which recorded call it became.
        sent = {
            json.loads(events[0].removeprefix(b"data: "))["id"]: len(events)
            for events in (fake.sent_events(i) for i in range(fake.stream_count))
        }

        restarted = WorkerProcess(tmp_path, config).start()
        restarted.stop()
    store = restarted.store()
    assert store.integrity_ok()
    rows = store.list_calls()
    chunks = [store.chunks(r["id"]) for r in rows]
    store.close()
    assert len(rows) == 5
    assert {r["state"] for r in rows} == {"interrupted"}
    assert all(r["chunk_count"] == len(c) > 0 for r, c in zip(rows, chunks, strict=True))
    recorded = {completion_id(c): len(c) for c in chunks}
    assert recorded.keys() == sent.keys() == seen.keys()
    assert all(n <= sent[cid] for cid, n in recorded.items()), (sent, recorded)
    # At most the last batch window is lost: ~50 ms at one chunk per 50 ms, three chunks
    # allowed for a loaded machine. Each call is held against what its own client had got
    # (the five started up to a few chunks apart), not against what the fake had sent, which
    # also counts what was still on the wire or unread by the worker.
    assert all(seen[cid] - n <= 3 for cid, n in recorded.items()), (seen, recorded)


def test_client_disconnect_mid_stream_is_recorded_as_interrupted(
    worker: WorkerProcess, fake: FakeProvider
) -> None:
    body = {"model": "slow", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", worker.base_url + "/chat/completions", json=body) as response:
        for _ in zip(range(3), response.iter_lines(), strict=False):
            pass
    (row,) = worker.wait_for_calls(1)
    assert row["state"] == "interrupted"
    assert "client disconnected" in row["error"]
    assert row["chunk_count"] >= 1


@pytest.mark.parametrize("cap", [2048])
def test_bodies_over_the_cap_are_recorded_truncated_and_flagged(
    tmp_path: Path, fake: FakeProvider, cap: int
) -> None:
    config = (
        f'[proxy]\nmax_body_bytes = {cap}\n[[providers]]\nname = "fake"\n'
        f'base_url = "{fake.base_url}"\napi_key = "{FAKE_KEY}"\ndefault = true\n'
    )
    big = "x" * 10_000
    with WorkerProcess(tmp_path, config) as worker:
        response = httpx.post(
            worker.base_url + "/chat/completions",
            json={"model": "fake-1", "messages": [{"role": "user", "content": big}]},
        )
        assert response.status_code == 200
        assert len(fake.requests[-1].body) > 10_000  # the provider got all of it
        (row,) = worker.wait_for_calls(1)
    assert len(row["request_body"]) == cap
    assert row["truncated"] & 1 and row["request_size"] > 10_000


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_compressed_stream_passes_compressed_and_is_recorded_decoded(
    worker: WorkerProcess, fake: FakeProvider, encoding: str
) -> None:
    model = f"{encoding}-stream"
    with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
        chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text  # the SDK decoded the stream it was passed
    # On the wire a client whose stream needs no rewriting (it asked for usage itself) gets
    # the provider's compressed bytes, unchanged.
    body = {
        "model": model,
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream(
        "POST",
        worker.base_url + "/chat/completions",
        json=body,
        headers={"accept-encoding": encoding},
    ) as response:
        assert response.headers["content-encoding"] == encoding
        wire = b"".join(response.iter_raw())
    assert encodings.decode(wire, encoding) == b"".join(fake.sent_events(1))
    rows = worker.wait_for_calls(2, state="complete")
    store = worker.store()
    for index, row in enumerate(rows):
        recorded = [c["data"].encode() for c in store.chunks(row["id"])]
        assert recorded == fake.sent_events(index)  # one chunk per event, byte for byte
        assert encoding in row["quirks"]
    store.close()
    assert rows[0]["output_text"] == text


@pytest.mark.parametrize("endpoint", ["chat", "responses"])
def test_a_stream_read_to_its_end_is_complete_when_the_client_hangs_up_first(
    worker: WorkerProcess, fake: FakeProvider, endpoint: str
) -> None:
    """The openai SDK stops reading at `[DONE]` / `response.completed` and closes; the
    provider (`linger`) ends its body a second later. Nothing was lost: complete, noted."""
    text = ""
    with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
        if endpoint == "chat":
            stream = client.chat.completions.create(model="linger", messages=MESSAGES, stream=True)
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            stream.close()
    if endpoint == "responses":  # read up to response.completed, then hang up
        body = {"model": "linger", "input": "hello", "stream": True}
        with httpx.stream("POST", worker.base_url + "/responses", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data:") and '"response.completed"' in line:
                    text = json.loads(line[5:])["response"]["output"][0]["content"][0]["text"]
                    break
    (row,) = worker.wait_for_calls(1, timeout=15)
    assert row["state"] == "complete", row["error"]
    assert row["error"] is None and row["cut_by"] is None
    assert row["note"] == "The client closed the connection after the stream's end."
    assert row["output_text"] == text


def test_a_stream_cut_before_its_end_is_still_interrupted(
    worker: WorkerProcess, fake: FakeProvider
) -> None:
    with (
        openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client,
        client.chat.completions.create(model="slow", messages=MESSAGES, stream=True) as stream,
    ):
        next(iter(stream))
    (row,) = worker.wait_for_calls(1, timeout=15)
    assert row["state"] == "interrupted"
    assert row["cut_by"] == "client" and row["error_code"] == "client_disconnected"
    assert row["note"] is None


def test_ctrl_c_to_the_process_group_loses_no_call(tmp_path: Path) -> None:
    """A terminal's Ctrl+C reaches the worker and its recording process at once."""
    worker = WorkerProcess(tmp_path, events=False, new_session=True).start()
    recorder = worker.recording_pid()
    with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
        for _ in range(20):
            client.chat.completions.create(model="demo-fast", messages=MESSAGES)
    assert worker.proc is not None
    os.killpg(worker.proc.pid, signal.SIGINT)
    assert worker.stop(timeout=15) == 0, worker.log()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{recorder}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # nothing may stay behind (a zombie would be the worker's fault too)
    assert not Path(f"/proc/{recorder}").exists(), worker.log()
    assert "Traceback" not in worker.log(), worker.log()[-3000:]
    store = worker.store()
    rows = store.list_calls()
    store.close()
    assert len(rows) == 20 and {r["state"] for r in rows} == {"complete"}


def test_a_killed_recording_process_is_restarted_and_traffic_never_stops(
    worker: WorkerProcess,
) -> None:
    with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
        client.chat.completions.create(model="fake-1", messages=MESSAGES)
        worker.wait_for_calls(1)
        first = worker.recording_pid()
        os.kill(first, signal.SIGKILL)
        error = worker.wait_for_event("record_error")
        assert "restarted" in error["message"]
        answer = client.chat.completions.create(model="fake-1", messages=MESSAGES)
        assert answer.choices[0].message.content
        stream = client.chat.completions.create(model="fake-1", messages=MESSAGES, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    rows = worker.wait_for_calls(3)
    assert [r["state"] for r in rows] == ["complete"] * 3
    assert rows[2]["chunk_count"] > 0
    assert worker.recording_pid() != first
