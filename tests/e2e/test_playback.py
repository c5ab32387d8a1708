"""Playback: recorded calls served back as a provider, with their content, timing and faults."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import sqlite3
import statistics
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

SLOW = [{"role": "user", "content": "tell me slowly"}]
CUT = [{"role": "user", "content": "this one breaks"}]
LIMITED = [{"role": "user", "content": "too many"}]


def timed_stream(
    base_url: str, model: str, messages: list[dict[str, str]]
) -> tuple[str, list[float]]:
    arrivals, text = [], []
    with openai.OpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
        for chunk in client.chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            stream=True,
        ):
            arrivals.append(time.monotonic())
            if chunk.choices:
                text.append(chunk.choices[0].delta.content or "")
    return "".join(text), [b - a for a, b in itertools.pairwise(arrivals)]


@pytest.fixture(scope="module")
def recording(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, str], str, list[float]]:
    """Record a slow stream, a cut stream and a 429 from the fake provider, once for the
    module; return the folder, the ids, the streamed text and its gaps."""
    tmp_path = tmp_path_factory.mktemp("recorded")
    with (
        FakeProvider(name="live", chunk_delay=0.05) as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "live"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ) as worker,
    ):
        text, gaps = timed_stream(worker.base_url, "fake-1", SLOW)
        with pytest.raises((openai.APIError, httpx.HTTPError)):
            timed_stream(worker.base_url, "cut-stream", CUT)
        limited = httpx.post(
            worker.base_url + "/chat/completions", json={"model": "fail-429", "messages": LIMITED}
        )
        assert limited.status_code == 429
        rows = worker.wait_for_calls(3)
    return tmp_path, {r["model"]: r["id"] for r in rows}, text, gaps


@pytest.fixture
def recorded(
    recording: tuple[Path, dict[str, str], str, list[float]], tmp_path: Path
) -> tuple[Path, dict[str, str], str, list[float]]:
    """A copy of the module's recording for this test alone: a player records its own calls
    in the same database, and each test counts them from the same three."""
    folder, ids, text, gaps = recording
    shutil.copy(folder / "config.toml", tmp_path / "config.toml")
    with (
        contextlib.closing(sqlite3.connect(folder / "relayscope.db")) as source,
        contextlib.closing(sqlite3.connect(tmp_path / "relayscope.db")) as copy,
    ):
        source.backup(copy)
    return tmp_path, ids, text, gaps


def test_recorded_calls_play_back_with_their_content_timing_and_faults(
    recorded: tuple[Path, dict[str, str], str, list[float]],
) -> None:
    folder, ids, text, live_gaps = recorded
    args = tuple(arg for call_id in ids.values() for arg in ("--call", call_id))
    with WorkerProcess(folder, None, subcommand="playback", extra_args=args) as player:
        replayed, gaps = timed_stream(player.base_url, "fake-1", SLOW)
        with pytest.raises((openai.APIError, httpx.HTTPError)):
            timed_stream(player.base_url, "cut-stream", CUT)
        limited = httpx.post(
            player.base_url + "/chat/completions", json={"model": "fail-429", "messages": LIMITED}
        )
        missing = httpx.post(
            player.base_url + "/chat/completions",
            json={
                "model": "fake-1",
                "messages": [{"role": "user", "content": "never recorded"}],
                "stream": True,
            },
        )
        rows = player.wait_for_calls(7)
    assert replayed == text
    assert len(gaps) == len(live_gaps)
    deviations = [abs(a - b) for a, b in zip(gaps, live_gaps, strict=True)]
    # The gaps are played as recorded: typically within 10 ms; a single gap may lose a few tens
    # of ms to a busy two-core machine's scheduler (33 ms seen once under load), never 100.
    assert statistics.median(deviations) < 0.010 and max(deviations) < 0.080
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "playback_no_match"
    assert ids["fake-1"] in error["message"] and "message #0 differs" in error["message"]
    played = rows[3:]
    assert {r["provider"] for r in played} == {"playback"}
    assert [r["state"] for r in played] == ["complete", "interrupted", "error", "error"]


def test_playback_twice_as_fast(recorded: tuple[Path, dict[str, str], str, list[float]]) -> None:
    folder, ids, _, live_gaps = recorded
    with WorkerProcess(
        folder, None, subcommand="playback", extra_args=("--call", ids["fake-1"], "--speed", "2")
    ) as player:
        _, gaps = timed_stream(player.base_url, "fake-1", SLOW)
    assert abs(statistics.median(gaps) - statistics.median(live_gaps) / 2) < 0.01


def test_playback_without_calls_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="No recorded calls to play back"):
        WorkerProcess(tmp_path, None, subcommand="playback").start()


def test_exact_match_replays_what_the_client_saw(
    recorded: tuple[Path, dict[str, str], str, list[float]],
) -> None:
    """The recording asked the provider for usage the client had not asked for; the replay
    matches the client's own request exactly and hides that usage again."""
    folder, ids, text, _ = recorded
    with WorkerProcess(
        folder,
        None,
        subcommand="playback",
        extra_args=("--call", ids["fake-1"], "--match", "exact"),
    ) as player:
        body = {"model": "fake-1", "messages": SLOW, "stream": True}
        response = httpx.post(player.base_url + "/chat/completions", json=body)
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    assert not any('"usage"' in e for e in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == text


def test_demo_recordings_are_played_back_not_answered_by_the_live_demo(tmp_path: Path) -> None:
    """A newcomer without keys has only demo calls: playing them back must use the recording
    (a matching request) and say `playback_no_match` for anything else, never ask the demo."""
    asked = [{"role": "user", "content": "hello demo"}]
    with WorkerProcess(tmp_path) as worker:  # no config: the demo provider only
        text, _ = timed_stream(worker.base_url, "demo-1", asked)
        (recorded_call,) = worker.wait_for_calls(1)
    assert recorded_call["provider"] == "demo" and text
    args = ("--call", recorded_call["id"])
    with WorkerProcess(tmp_path, None, subcommand="playback", extra_args=args) as player:
        replayed, _ = timed_stream(player.base_url, "demo-1", asked)
        other = httpx.post(
            player.base_url + "/chat/completions",
            json={"model": "demo-1", "messages": [{"role": "user", "content": "something new"}]},
        )
        models = httpx.get(player.base_url + "/models").json()
        rows = player.wait_for_calls(4)
    assert replayed == text
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "playback_no_match"
    assert [m["id"] for m in models["data"]] == ["demo-1"]  # once, from the recordings
    played = [r for r in rows if r["id"] != recorded_call["id"] and r["endpoint"] != "models"]
    assert [(r["provider"], r["status"]) for r in played] == [("playback", 200), ("playback", 404)]
