"""Nobody let in, nothing leaked: keys never reach the database or logs."""

from __future__ import annotations

import json
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
