"""Every way a web page in a browser reached the provider with the user's key (issue 14),
sent to the real worker: the provider never hears of it, the page gets a 403 it cannot read
(no CORS header), and the attempt is in the call list, marked."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest

from tests.fakes.provider import FakeProvider
from tests.security.conftest import CHAT, port_of, provider_saw_key
from tests.support.worker import WorkerProcess, marked, recorded


@dataclass(frozen=True)
class Vector:
    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    code: str = "origin_not_allowed"
    setting: str = "allowed_origins"
    # A foreign Host: "{port}" is replaced by the proxy's port.
    host: str | None = None


VECTORS = [
    Vector(
        "fetch text/plain from a page on another local port",
        "POST",
        "/v1/chat/completions",
        {
            "origin": "http://127.0.0.1:5500",
            "content-type": "text/plain;charset=UTF-8",
            "sec-fetch-site": "same-site",
            "sec-fetch-mode": "no-cors",
        },
        CHAT,
    ),
    Vector(
        "fetch from a page on *.localhost",
        "POST",
        "/v1/chat/completions",
        {"origin": "http://evil.localhost:3000", "content-type": "text/plain"},
        CHAT,
    ),
    Vector(
        "fetch from a file opened from disk (Origin: null)",
        "POST",
        "/v1/chat/completions",
        {"origin": "null", "content-type": "text/plain", "sec-fetch-site": "cross-site"},
        CHAT,
    ),
    Vector(
        "HTML form post",
        "POST",
        "/v1/chat/completions",
        {
            "origin": "https://evil.example",
            "content-type": "application/x-www-form-urlencoded",
            "sec-fetch-site": "cross-site",
            "sec-fetch-mode": "navigate",
        },
        b'{"model": "fake-1", "messages": [], "x": "="}',
    ),
    Vector(
        "link or <img> from a page (Sec-Fetch-Site, no Origin)",
        "GET",
        "/v1/models/fake-1",
        {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"},
    ),
    Vector(
        "CORS preflight",
        "OPTIONS",
        "/v1/chat/completions",
        {
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    ),
    Vector(
        "WebSocket upgrade from a page",
        "GET",
        "/v1/responses",
        {
            "origin": "https://evil.example",
            "connection": "Upgrade",
            "upgrade": "websocket",
            "sec-websocket-version": "13",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    ),
    Vector(
        "DNS rebinding: same-origin POST under a foreign name",
        "POST",
        "/v1/chat/completions",
        {
            "origin": "http://evil.test:{port}",
            "content-type": "application/json",
            "sec-fetch-site": "same-origin",
        },
        CHAT,
        code="host_not_allowed",
        setting="allowed_hosts",
        host="evil.test:{port}",
    ),
    Vector(
        "DNS rebinding: same-origin GET of a file (no Origin)",
        "GET",
        "/v1/files/file-abc",
        {"sec-fetch-site": "same-origin"},
        code="host_not_allowed",
        setting="allowed_hosts",
        host="evil.test:{port}",
    ),
    Vector(
        "DNS rebinding: DELETE of a file",
        "DELETE",
        "/v1/files/file-abc",
        {"origin": "http://evil.test:{port}"},
        code="host_not_allowed",
        setting="allowed_hosts",
        host="evil.test:{port}",
    ),
    Vector(
        "DNS rebinding: the merged model list (Relayscope asks every provider with its key)",
        "GET",
        "/v1/models",
        code="host_not_allowed",
        setting="allowed_hosts",
        host="rebind.evil.test:{port}",
    ),
]


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_browser_vector_never_reaches_the_provider(
    vector: Vector, shared_worker: WorkerProcess, shared_fake: FakeProvider
) -> None:
    worker, fake = shared_worker, shared_fake
    fake.clear()
    path = marked(vector.path)
    port = str(port_of(worker))
    headers = {k: v.replace("{port}", port) for k, v in vector.headers.items()}
    if vector.host:
        headers["host"] = vector.host.replace("{port}", port)
    response = httpx.request(
        vector.method,
        f"http://127.0.0.1:{port}{path}",
        headers=headers,
        content=vector.body,
        timeout=10,
    )

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == vector.code
    assert error["type"] == "permission_error"
    assert vector.setting in error["message"] and "[proxy]" in error["message"]
    assert str(worker.config_path) in error["message"]
    # A page may not read the answer (no CORS header), though the provider allows any origin.
    assert not [n for n in response.headers if n.lower().startswith("access-control-")]
    assert "upgrade" not in response.headers
    # The provider never heard of it: no request at all, so no key either.
    assert fake.requests == []
    assert not provider_saw_key(fake)

    call = recorded(worker, path)
    assert call["state"] == "error"
    assert call["status"] == 403
    assert call["provider"] == "relayscope"
    assert call["error_code"] == vector.code
    assert vector.setting in call["error"]
    assert call["method"] == vector.method and call["path"] == path


def test_the_key_is_nowhere_in_the_recording(worker: WorkerProcess, fake: FakeProvider) -> None:
    """A refused page's own Authorization header is recorded redacted, and the provider's key
    (never added) appears nowhere."""
    response = httpx.post(
        f"{worker.base_url}/chat/completions",
        headers={"origin": "https://evil.example", "authorization": "Bearer page-guess"},
        content=CHAT,
    )
    assert response.status_code == 403
    worker.wait_for_calls(1)
    data = worker.db_path.read_bytes()
    for path in worker.db_path.parent.glob("relayscope.db*"):
        data += path.read_bytes()
    assert b"sk-guarded-secret" not in data
    assert "sk-guarded-secret" not in worker.log()
