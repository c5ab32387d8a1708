"""A `relayscope` command whose standard output is closed early (`| head -1`) ends quietly:
no traceback, exit code 141 (128 + SIGPIPE, as a shell reports for `cat` in the same place)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relayscope.recording.writer import RecordingWriter

ROOT = Path(__file__).resolve().parents[1]
CALLS = 300  # each JSON line is over 1 KB: far more than a pipe holds


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipe") / "relayscope.db"
    writer = RecordingWriter(path).open()
    for i in range(CALLS):
        call_id = f"01PIPE{i:05d}"
        writer.start(
            {
                "id": call_id,
                "started_at": f"2026-11-21T12:{i // 60:02d}:{i % 60:02d}.000Z",
                "method": "POST",
                "path": "/v1/chat/completions",
                "endpoint": "chat.completions",
                "provider": "p",
                "model": "m",
                "stream": 0,
                "request_body": json.dumps({"model": "m", "messages": []}),
            }
        )
        writer.finish(
            call_id,
            {"status": 500, "state": "error", "duration_ms": 10.0, "error": "x" * 1200},
        )
    writer.close()
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("calls", "--json", "-n", str(CALLS)),
        ("calls", "-n", str(CALLS)),
        ("export", "--format", "jsonl"),
    ],
)
def test_a_closed_pipe_ends_the_command_quietly(db: Path, args: tuple[str, ...]) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(db.parent / "config")}
    reader, writer = os.pipe()
    with subprocess.Popen(
        [sys.executable, "-m", "relayscope", *args, "--db", str(db)],
        cwd=ROOT,
        env=env,
        stdout=writer,
        stderr=subprocess.PIPE,
    ) as process:
        os.close(writer)
        with os.fdopen(reader, "rb") as out:
            first = out.readline()  # like `head -1`: one line, then the pipe is closed
        _, stderr = process.communicate(timeout=60)
    assert first.strip()
    assert stderr.decode() == ""
    assert process.returncode == 141


def test_in_a_shell_pipeline(db: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(db.parent / "config")}
    command = f"{sys.executable} -m relayscope calls --json -n {CALLS} --db '{db}' | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert json.loads(done.stdout)["id"].startswith("01PIPE")
    assert done.stderr == b""
    assert done.returncode == 141


def test_every_command_module_is_registered_once() -> None:
    from relayscope.cli.main import COMMANDS, build_parser

    modules = {
        path.stem
        for path in (ROOT / "app" / "relayscope" / "cli").glob("*.py")
        if not path.stem.startswith("_") and path.stem not in ("main", "desktop")
    }
    assert {command.__name__.rsplit(".", 1)[1] for command in COMMANDS.values()} == modules
    assert build_parser().parse_args(["calls"]).command == "calls"
