"""errors: OpenAI-format error answers, and mitmproxy's own error pages replaced by them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mitmproxy.proxy.layers.http import _http1

from relayscope.proxy.addons import errors


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """errors.install() for one test: mitmproxy's function and the pending timeouts restored."""
    monkeypatch.setattr(_http1, "make_error_response", _http1.make_error_response)
    monkeypatch.setattr(errors, "_announced_timeouts", [])
    errors.install()
    yield


def parse(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, JSON body) of an HTTP/1.1 response as sent on the wire."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    version, status, _ = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    assert int(headers["content-length"]) == len(body)
    return int(status), headers, json.loads(body)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (404, "invalid_request_error"),
        (502, "upstream_error"),
        (418, "relayscope_error"),
    ],
)
def test_an_error_has_the_openai_shape_and_a_type_for_its_status(status: int, kind: str) -> None:
    body = json.loads(errors.error_body(status, "some_code", "Ça ne va pas.", "model"))
    assert body == {
        "error": {"message": "Ça ne va pas.", "type": kind, "code": "some_code", "param": "model"}
    }


def test_an_error_response_is_json_and_names_its_code_in_a_header() -> None:
    response = errors.error_response(404, "model_not_found", "No provider serves 'x'.", "model")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-relayscope-error"] == "model_not_found"
    assert json.loads(response.content or b"")["error"]["code"] == "model_not_found"


@pytest.mark.usefixtures("installed")
def test_mitmproxys_connection_failure_page_becomes_a_json_502() -> None:
    status, headers, body = parse(_http1.make_error_response(502, "Connection refused (Errno 111)"))
    assert status == 502
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert body["error"]["code"] == "upstream_unreachable"
    assert body["error"]["type"] == "upstream_error"
    assert "Connection refused" in body["error"]["message"]  # the reason is passed on


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(("status", "code"), [(413, "request_too_large"), (400, "invalid_request")])
def test_other_error_pages_keep_their_status(status: int, code: str) -> None:
    got, _, body = parse(_http1.make_error_response(status, "bad header"))
    assert (got, body["error"]["code"]) == (status, code)


@pytest.mark.usefixtures("installed")
def test_an_announced_timeout_turns_the_next_closed_connection_page_into_a_504() -> None:
    errors.announce_timeout(30.0)
    status, _, body = parse(_http1.make_error_response(502, errors.CLOSED_BY_US))
    assert (status, body["error"]["code"]) == (504, "upstream_timeout")
    assert "30 s" in body["error"]["message"]  # the provider's timeout, to raise it
    # The announcement is used once: the next closed connection is the provider's doing.
    status, _, body = parse(_http1.make_error_response(502, errors.CLOSED_BY_US))
    assert (status, body["error"]["code"]) == (502, "upstream_unreachable")


@pytest.mark.usefixtures("installed")
def test_an_announced_timeout_does_not_relabel_other_failures() -> None:
    errors.announce_timeout(5.0)
    status, _, _ = parse(_http1.make_error_response(502, "Connection refused"))
    assert status == 502
    status, _, _ = parse(_http1.make_error_response(502, errors.CLOSED_BY_US))
    assert status == 504  # still waiting for its own page
