"""What keeps working: clients without a browser (SDKs, curl, Codex), and the web apps and
host names a person allowed in `[proxy] allowed_origins` / `allowed_hosts`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.fakes.provider import FakeProvider
from tests.security.conftest import CHAT, KEY, guarded_config, port_of, websocket_turn
from tests.support.worker import WorkerProcess, marked, recorded

TRUSTED = "http://localhost:5173"


@pytest.fixture(scope="module")
def trusting_worker(
    tmp_path_factory: pytest.TempPathFactory, shared_fake: FakeProvider
) -> Iterator[WorkerProcess]:
    proxy = f'allowed_origins = ["{TRUSTED}"]\nallowed_hosts = ["relayscope.lan"]'
    tmp = tmp_path_factory.mktemp("trusting")
    with WorkerProcess(tmp, guarded_config(shared_fake, proxy)) as process:
        yield process


@pytest.fixture
def fake(shared_fake: FakeProvider) -> FakeProvider:
    shared_fake.clear()
    return shared_fake


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-")}


def test_the_sdk_works_and_gets_no_cors_headers(
    trusting_worker: WorkerProcess, fake: FakeProvider, closing: Any
) -> None:
    client = closing(OpenAI(base_url=trusting_worker.base_url, api_key="unused", max_retries=0))
    raw = client.chat.completions.with_raw_response.create(
        model="fake-1", messages=[{"role": "user", "content": "hello"}]
    )
    assert raw.parse().choices[0].message.content
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    # The provider allows every origin; Relayscope passes none of that on.
    assert not [n for n in raw.headers if n.lower().startswith("access-control-")]
    stream = client.chat.completions.create(
        model="fake-1", messages=[{"role": "user", "content": "hello"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "[::1]:{port}", "127.0.0.1", "LOCALHOST:{port}", "127.0.0.2"]
)
def test_curl_with_any_loopback_host_works(
    trusting_worker: WorkerProcess, fake: FakeProvider, host: str
) -> None:
    port = port_of(trusting_worker)
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        headers={"host": host.replace("{port}", str(port)), "content-type": "application/json"},
        content=CHAT,
    )
    assert response.status_code == 200, response.text
    assert len(fake.requests) == 1


def test_the_person_typing_the_url_in_a_browser_is_not_a_page(
    trusting_worker: WorkerProcess, fake: FakeProvider
) -> None:
    response = httpx.get(
        f"{trusting_worker.base_url}/models/fake-1",
        headers={"sec-fetch-site": "none", "sec-fetch-mode": "navigate"},
    )
    assert response.status_code == 200
    assert response.json()["id"] == "fake-1"


def test_an_allowed_host_name_works(trusting_worker: WorkerProcess, fake: FakeProvider) -> None:
    response = httpx.post(
        f"{trusting_worker.base_url}/chat/completions",
        headers={"host": f"Relayscope.lan:{port_of(trusting_worker)}"},
        content=CHAT,
    )
    assert response.status_code == 200
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_an_allowed_origin_may_call_and_read_the_answer(
    trusting_worker: WorkerProcess, fake: FakeProvider
) -> None:
    response = httpx.post(
        f"{trusting_worker.base_url}/chat/completions",
        headers={"origin": TRUSTED, "content-type": "application/json"},
        content=CHAT,
    )
    assert response.status_code == 200
    assert response.json()["choices"]
    # For that origin alone, never the provider's "*".
    assert cors_headers(response) == {
        "access-control-allow-origin": TRUSTED,
        "access-control-expose-headers": "*",
    }
    assert response.headers["vary"] == "Origin"


def test_an_allowed_origins_preflight_is_answered_here(
    trusting_worker: WorkerProcess, fake: FakeProvider
) -> None:
    path = marked("/v1/chat/completions")
    response = httpx.options(
        f"{trusting_worker.base_url.removesuffix('/v1')}{path}",
        headers={
            "origin": TRUSTED,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert cors_headers(response) == {
        "access-control-allow-origin": TRUSTED,
        "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
    }
    assert fake.requests == []  # never forwarded, so never with the key
    call = recorded(trusting_worker, path)
    assert (call["method"], call["status"], call["provider"]) == ("OPTIONS", 204, "relayscope")


def test_an_allowed_origin_under_a_foreign_host_is_still_refused(
    trusting_worker: WorkerProcess, fake: FakeProvider
) -> None:
    response = httpx.post(
        f"{trusting_worker.base_url}/chat/completions",
        headers={"origin": TRUSTED, "host": "evil.test"},
        content=CHAT,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "host_not_allowed"
    assert fake.requests == []


def test_another_origin_is_refused_even_when_some_are_allowed(
    trusting_worker: WorkerProcess, fake: FakeProvider
) -> None:
    response = httpx.post(
        f"{trusting_worker.base_url}/chat/completions",
        headers={"origin": "http://localhost:5174"},
        content=CHAT,
    )
    assert response.status_code == 403
    assert '"http://localhost:5174" to allowed_origins' in response.json()["error"]["message"]
    assert fake.requests == []


def test_websockets_follow_the_same_rule(
    trusting_worker: WorkerProcess, fake: FakeProvider
) -> None:
    status, messages = websocket_turn(trusting_worker, "https://evil.example")
    assert status == 403 and messages == []
    assert fake.requests == []
    status, messages = websocket_turn(trusting_worker, TRUSTED)
    assert status == 101
    assert any("response.completed" in m for m in messages)
    status, messages = websocket_turn(trusting_worker, None)  # Codex sends no Origin
    assert status == 101
    assert any("response.completed" in m for m in messages)
