"""Multipart requests (audio transcriptions, file uploads) through the real worker with the
official openai SDK: routed by their `model` field like JSON calls, recorded with it, the
transcript as the call's output, and files summed up (never mangled) in `show --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, WorkerProcess

# Not UTF-8 anywhere near: every byte value, as in real audio.
AUDIO = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 16


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[FakeProvider, FakeProvider, WorkerProcess]]:
    """`main` is the default provider; `speech` serves `whisper-*`."""
    with (
        FakeProvider(name="main") as main,
        FakeProvider(name="speech") as speech,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "main"\nbase_url = "{main.base_url}"\ndefault = true\n'
            f'[[providers]]\nname = "speech"\nbase_url = "{speech.base_url}"\n'
            'models = ["whisper-*"]\n',
        ) as worker,
    ):
        yield main, speech, worker


def client(worker: WorkerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=worker.base_url, api_key="sk-client", max_retries=0)


def show_json(worker: WorkerProcess, call_id: str) -> tuple[str, dict[str, object]]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "relayscope",
            "show",
            "--db",
            str(worker.db_path),
            call_id,
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(result.stdout)


def test_a_transcription_goes_where_its_model_goes_and_its_text_is_the_output(
    two: tuple[FakeProvider, FakeProvider, WorkerProcess],
) -> None:
    main, speech, worker = two
    with client(worker) as c:
        transcript = c.audio.transcriptions.create(
            file=("hello.wav", AUDIO, "audio/wav"), model="whisper-1"
        )
    assert transcript.text == f"speech heard {len(AUDIO)} bytes of hello.wav with whisper-1."
    assert main.requests == []  # not the default provider
    assert speech.requests[-1].path == "/v1/audio/transcriptions"
    (row,) = worker.wait_for_calls(1)
    assert (row["provider"], row["model"], row["state"]) == ("speech", "whisper-1", "complete")
    assert row["output_text"] == transcript.text
    assert row["request_size"] == len(speech.requests[-1].body)
    text, shown = show_json(worker, row["id"])
    assert "\ufffd" not in text  # the audio is summed up, not mangled
    form = sorted(shown["request_body"], key=lambda part: part["name"])  # type: ignore[arg-type]
    assert form == [
        {"name": "file", "filename": "hello.wav", "content_type": "audio/wav", "size": len(AUDIO)},
        {"name": "model", "value": "whisper-1"},
    ]


def test_a_file_upload_without_a_model_goes_to_the_default_provider(
    two: tuple[FakeProvider, FakeProvider, WorkerProcess],
) -> None:
    main, speech, worker = two
    lines = b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 3
    with client(worker) as c:
        uploaded = c.files.create(file=("train.jsonl", lines), purpose="fine-tune")
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == (
        "train.jsonl",
        len(lines),
        "fine-tune",
    )
    assert speech.requests == [] and main.requests[-1].path == "/v1/files"
    (row,) = worker.wait_for_calls(1)
    assert (row["provider"], row["model"], row["state"]) == ("main", None, "complete")
    _, shown = show_json(worker, row["id"])
    form = {part["name"]: part for part in shown["request_body"]}  # type: ignore[union-attr]
    assert form["purpose"] == {"name": "purpose", "value": "fine-tune"}
    assert form["file"]["filename"] == "train.jsonl" and form["file"]["size"] == len(lines)
