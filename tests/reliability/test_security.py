"""Nobody let in, nothing leaked: keys never reach the database or logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import openai

from tests.fakes.provider import FakeProvider
from tests.reliability.conftest import KEY, config_for
from tests.support.worker import WorkerProcess

CLIENT_SECRETS = {
    "authorization": "Bearer sk-client-secret-abcdefghij",
    "api-key": "azure-style-secret-0123456789",
    "x-api-key": "anthropic-style-secret-0123456789",
    "cookie": "session=cookie-secret-0123456789",
}


def test_no_secret_reaches_the_database_or_the_log(tmp_path: Path) -> None:
    with FakeProvider(name="fake", api_key=KEY) as fake:
        worker = WorkerProcess(tmp_path, config_for(fake)).start()
        try:
            with openai.OpenAI(
                base_url=worker.base_url, api_key="sk-client-secret-abcdefghij", max_retries=0
            ) as client:
                list(
                    client.chat.completions.create(
                        model="fake-1", messages=[{"role": "user", "content": "hi"}], stream=True
                    )
                )
                client.responses.create(model="fake-1", input="hi")
            httpx.post(
                worker.base_url + "/chat/completions",
                headers=CLIENT_SECRETS,
                json={"model": "fail-401", "messages": []},
            )
            httpx.post(
                worker.base_url + "/embeddings",
                headers=CLIENT_SECRETS,
                json={"model": "fake-1", "input": "x"},
            )
            rows = worker.wait_for_calls(4)
        finally:
            worker.stop()
        assert all(
            r["headers"]["authorization"] == f"Bearer {KEY}"
            for r in [{"headers": req.headers} for req in fake.requests]
        )
    files = [worker.db_path, tmp_path / "worker.log"]
    files += [p for p in tmp_path.iterdir() if p.name.startswith("relayscope.db-")]
    blobs = b"".join(path.read_bytes() for path in files if path.exists())
    secrets = [KEY, *(value.split(" ")[-1].split("=")[-1] for value in CLIENT_SECRETS.values())]
    for secret in secrets:
        assert secret.encode() not in blobs, secret
    stored = dict((k.lower(), v) for k, v in json.loads(rows[2]["request_headers"]))
    assert stored["authorization"] == "Bearer ****ghij"
    assert stored["api-key"] == "****6789" and stored["x-api-key"] == "****6789"
    assert stored["cookie"].startswith("****")


def test_database_is_owner_only(worker: WorkerProcess) -> None:
    assert worker.db_path.stat().st_mode & 0o777 == 0o600


QUERY_KEY = "AIzaSy-query-secret-0123456789"


def test_keys_in_query_strings_are_redacted_in_the_record_and_exports(
    worker: WorkerProcess, fake: FakeProvider, tmp_path: Path
) -> None:
    response = httpx.post(
        worker.base_url + f"/chat/completions?api_key={QUERY_KEY}&alt=sse&sig={QUERY_KEY}",
        json={"model": "fake-1", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    # The provider still gets what the client sent: only our copy is redacted.
    assert QUERY_KEY in fake.requests[-1].path
    (row,) = worker.wait_for_calls(1)
    assert row["path"] == "/v1/chat/completions?api_key=****6789&alt=sse&sig=****6789"
    assert row["upstream_url"].endswith("?api_key=****6789&alt=sse&sig=****6789")
    for fmt in ("har", "jsonl"):
        out = tmp_path / f"export.{fmt}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "relayscope",
                "export",
                "--db",
                str(worker.db_path),
                "--format",
                fmt,
                "-o",
                str(out),
            ],
            check=True,
            capture_output=True,
        )
        text = out.read_text()
        assert "****6789" in text and QUERY_KEY not in text, fmt
    blobs = b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("relayscope.db")
    )
    assert QUERY_KEY.encode() not in blobs
