"""OpenAI-format error answers, including for failures mitmproxy itself reports."""

from __future__ import annotations

import json

from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy.layers.http import _http1

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    431: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    426: "invalid_request_error",
    502: "upstream_error",
    504: "upstream_error",
    505: "invalid_request_error",
}

#: Set on a flow whose upstream did not answer in time, so its error page says so.
TIMEOUT_MARK = "relayscope.timeout"


def error_body(status: int, code: str, message: str, param: str | None = None) -> bytes:
    payload = {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(status, "relayscope_error"),
            "code": code,
            "param": param,
        }
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def error_response(status: int, code: str, message: str, param: str | None = None) -> http.Response:
    return http.Response.make(
        status,
        error_body(status, code, message, param),
        {"content-type": "application/json", "x-relayscope-error": code},
    )


def _code_for(status: int, message: str) -> tuple[int, str, str]:
    if _announced_timeouts and status == 502 and message == CLOSED_BY_US:
        seconds = _announced_timeouts.pop(0)
        return (
            504,
            "upstream_timeout",
            (
                f"The provider sent nothing for {seconds:g} s, so Relayscope stopped waiting. "
                "Try again, or raise this provider's timeout in the config."
            ),
        )
    if status == 502:
        return (
            status,
            "upstream_unreachable",
            (
                f"Relayscope could not get an answer from the provider ({message}). Check the "
                "provider's base_url and that it is reachable."
            ),
        )
    if status == 413:
        return status, "request_too_large", f"The request is too large ({message})."
    return status, "invalid_request", f"The request could not be read ({message})."


def _json_error_response(status_code: int, message: str = "") -> bytes:
    status, code, text = _code_for(status_code, message)
    response = http.Response.make(
        status,
        error_body(status, code, text),
        {"content-type": "application/json", "connection": "close", "x-relayscope-error": code},
    )
    return bytes(http1.assemble_response(response))


#: What mitmproxy says when the Watchdog closes a silent provider's connection.
CLOSED_BY_US = "server closed connection"
_announced_timeouts: list[float] = []


def announce_timeout(seconds: float) -> None:
    """The next "server closed connection" error page is our timeout: answer it as a 504.

    Called from a synchronous `error` hook; mitmproxy builds the client's error answer in
    the same uninterrupted step right after that hook, so the pairing cannot interleave.
    """
    _announced_timeouts.append(seconds)


def install() -> None:
    """Make mitmproxy's own error answers OpenAI-format JSON instead of HTML pages.

    mitmproxy builds these in `_http1.make_error_response` after the `error` hook has run,
    and no hook can replace them (see ../shared/notes/mitmproxy.md), so we swap that one
    function. Only HTTP/1 clients reach Relayscope's plain-HTTP listener.
    """
    _http1.make_error_response = _json_error_response
