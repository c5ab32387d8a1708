"""Breakpoints through the worker's parent pipe: hold, edit, fail, time out."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

BODY = {"model": "fake-1", "messages": [{"role": "user", "content": "original prompt"}]}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[FakeProvider, WorkerProcess]]:
    with (
        FakeProvider() as fake,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n',
            extra_args=("--parent-pipe",),
        ) as worker,
    ):
        yield fake, worker


def in_background(
    worker: WorkerProcess, body: dict[str, Any]
) -> tuple[threading.Thread, list[httpx.Response]]:
    answers: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(
            httpx.post(worker.base_url + "/chat/completions", json=body, timeout=30)
        )
    )
    thread.start()
    return thread, answers


def test_held_request_is_edited_then_continues(setup: tuple[FakeProvider, WorkerProcess]) -> None:
    fake, worker = setup
    worker.send({"cmd": "set_breakpoints", "rules": [{"id": "r1", "text": "original"}]})
    worker.wait_for_event("breakpoints_set", count=1)
    thread, answers = in_background(worker, BODY)
    held = worker.wait_for_event("call_held", stage="request")
    assert json.loads(held["body"]) == BODY and fake.requests == []  # nothing left yet
    edited = {**BODY, "messages": [{"role": "user", "content": "edited prompt"}]}
    worker.send({"cmd": "resume", "id": held["id"], "body": json.dumps(edited), "by": "Ada"})
    thread.join(10)
    assert answers[0].status_code == 200
    assert fake.requests[-1].json() == edited
    assert "You said: edited prompt" in answers[0].json()["choices"][0]["message"]["content"]
    (row,) = worker.wait_for_calls(1)
    assert json.loads(row["request_body"]) == BODY  # what the client sent
    assert json.loads(row["upstream_request_body"]) == edited  # what the provider got
    assert "request edited by Ada" in row["quirks"]


def test_held_request_failed_with_a_chosen_error(
    setup: tuple[FakeProvider, WorkerProcess],
) -> None:
    fake, worker = setup
    worker.send({"cmd": "set_breakpoints", "rules": [{"id": "r1", "model": "fake-*"}]})
    worker.wait_for_event("breakpoints_set")
    thread, answers = in_background(worker, BODY)
    held = worker.wait_for_event("call_held")
    worker.send({"cmd": "fail", "id": held["id"], "status": 429, "message": "try later"})
    thread.join(10)
    assert answers[0].status_code == 429
    assert answers[0].json()["error"]["message"] == "try later"
    assert fake.requests == []
    (row,) = worker.wait_for_calls(1)
    assert (row["status"], row["state"]) == (429, "error")


def test_held_answer_is_edited_before_the_client_gets_it(
    setup: tuple[FakeProvider, WorkerProcess],
) -> None:
    _, worker = setup
    worker.send({"cmd": "set_breakpoints", "rules": [{"id": "r2", "stage": "response"}]})
    worker.wait_for_event("breakpoints_set")
    thread, answers = in_background(worker, BODY)
    held = worker.wait_for_event("call_held", stage="response")
    answer = json.loads(held["body"])
    answer["choices"][0]["message"]["content"] = "replaced answer"
    worker.send({"cmd": "resume", "id": held["id"], "body": json.dumps(answer)})
    thread.join(10)
    assert answers[0].json()["choices"][0]["message"]["content"] == "replaced answer"
    (row,) = worker.wait_for_calls(1)
    assert row["output_text"] == "replaced answer" and "answer edited" in row["quirks"]


def test_no_decision_within_the_timeout_continues_unchanged(
    setup: tuple[FakeProvider, WorkerProcess],
) -> None:
    fake, worker = setup
    worker.send({"cmd": "set_breakpoints", "timeout": 0.5, "rules": [{"id": "r1"}]})
    worker.wait_for_event("breakpoints_set")
    thread, answers = in_background(worker, BODY)
    thread.join(10)
    assert answers[0].status_code == 200 and fake.requests[-1].json() == BODY
    (row,) = worker.wait_for_calls(1)
    assert "no decision within 0.5 s" in row["quirks"]


def test_bad_commands_are_reported_not_fatal(setup: tuple[FakeProvider, WorkerProcess]) -> None:
    _, worker = setup
    worker.send({"cmd": "set_breakpoints", "rules": [{"stage": "sideways"}]})
    assert "stage" in worker.wait_for_event("command_error")["message"]
    worker.send({"cmd": "resume", "id": "nope"})
    worker.wait_for_event("command_error", message="call nope is not held (any more)")
    assert httpx.post(worker.base_url + "/chat/completions", json=BODY).status_code == 200


@pytest.mark.parametrize("stage", ["request", "response"])
def test_the_hold_is_recorded_and_part_of_the_duration(
    setup: tuple[FakeProvider, WorkerProcess], stage: str
) -> None:
    """A call held for 1.5 s lasted 1.5 s for its client: Duration says so, hold_ms says why."""
    _, worker = setup
    worker.send({"cmd": "set_breakpoints", "rules": [{"id": "r1", "stage": stage}]})
    worker.wait_for_event("breakpoints_set")
    started = time.monotonic()
    thread, answers = in_background(worker, BODY)
    held = worker.wait_for_event("call_held", stage=stage)
    time.sleep(1.5)
    worker.send({"cmd": "resume", "id": held["id"]})
    thread.join(10)
    waited_ms = (time.monotonic() - started) * 1000
    assert answers[0].status_code == 200
    (row,) = worker.wait_for_calls(1)
    assert 1500 <= row["hold_ms"] < waited_ms
    assert row["hold_ms"] < row["duration_ms"] <= waited_ms
    assert row["duration_ms"] - row["hold_ms"] < 1000  # the provider's part stays small
    if stage == "request":  # the first byte came after the hold, and so did the first token
        assert row["first_byte_ms"] > row["hold_ms"] and row["ttft_ms"] > row["hold_ms"]
