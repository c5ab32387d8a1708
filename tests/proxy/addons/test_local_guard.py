"""LocalGuard's decisions as units (the end-to-end vectors are in tests/security)."""

from __future__ import annotations

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from relayscope.config import Config, ProxySettings
from relayscope.proxy.addons.local_guard import LocalGuard

GUARD = LocalGuard(
    Config(
        proxy=ProxySettings(
            allowed_hosts=("relayscope.lan", "box:9000"), allowed_origins=("http://app.test",)
        )
    )
)


def flow(
    host: str, sockname: tuple[object, ...] = ("127.0.0.1", 8787), **headers: str
) -> http.HTTPFlow:
    f = tflow.tflow()
    if "access_control_request_method" in headers:
        f.request.method = "OPTIONS"
    f.request.headers.clear()
    f.request.headers["host"] = host
    for name, value in headers.items():
        f.request.headers[name.replace("_", "-")] = value
    f.client_conn.sockname = sockname
    return f


def code(f: http.HTTPFlow) -> str | None:
    answer = GUARD.check(f).answer
    return answer.headers["x-relayscope-error"] if answer is not None else None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8787",
        "localhost",
        "LocalHost:1",
        "[::1]:8787",
        "127.1.2.3:8787",
        "relayscope.lan:8787",
        "box:9000",
    ],
)
def test_loopback_and_allowed_names_pass(host: str) -> None:
    assert code(flow(host)) is None


@pytest.mark.parametrize(
    "host", ["evil.test:8787", "box:9001", "localhost.evil.test", "0.0.0.0:8787", "[::2]:8787"]
)
def test_other_names_are_refused_on_loopback(host: str) -> None:
    assert code(flow(host)) == "host_not_allowed"


@pytest.mark.parametrize(
    "sockname", [("::1", 8787, 0, 0), ("::ffff:127.0.0.1", 8787, 0, 0), ("127.0.0.5", 8787)]
)
def test_every_loopback_address_checks_the_host(sockname: tuple[object, ...]) -> None:
    assert code(flow("evil.test", sockname)) == "host_not_allowed"


def test_a_lan_connection_is_left_to_the_access_token_but_not_to_pages() -> None:
    lan = ("192.168.1.5", 8787)
    assert code(flow("workstation.lan:8787", lan)) is None
    assert code(flow("workstation.lan:8787", lan, origin="http://x.test")) == "origin_not_allowed"


def test_origin_rules() -> None:
    assert code(flow("localhost", origin="null")) == "origin_not_allowed"
    assert code(flow("localhost", origin="HTTP://App.Test")) is None
    assert code(flow("localhost", sec_fetch_site="same-origin")) == "origin_not_allowed"
    assert code(flow("localhost", sec_fetch_site="none")) is None


def test_a_preflight_is_answered_for_an_allowed_origin_only() -> None:
    allowed = GUARD.check(
        flow("localhost", origin="http://app.test", access_control_request_method="POST")
    )
    assert allowed.preflight and allowed.answer is not None
    assert allowed.answer.status_code == 204
    without_origin = flow("localhost", access_control_request_method="POST")
    # A preflight without an Origin is no client's.
    assert code(without_origin) == "origin_not_allowed"


def test_answers_lose_the_providers_cors_headers_and_gain_the_allowed_origins() -> None:
    provider_headers = {"access-control-allow-origin": "*", "vary": "Accept-Encoding"}
    page = flow("localhost", origin="http://app.test")
    GUARD.requestheaders(page)
    page.response = http.Response.make(200, b"{}", provider_headers)
    GUARD.responseheaders(page)
    assert page.response.headers["access-control-allow-origin"] == "http://app.test"
    assert page.response.headers["vary"] == "Accept-Encoding, Origin"
    client = flow("localhost")
    GUARD.requestheaders(client)
    client.response = http.Response.make(200, b"{}", provider_headers)
    GUARD.responseheaders(client)
    assert "access-control-allow-origin" not in client.response.headers
    assert client.response.headers["vary"] == "Accept-Encoding"
