"""LocalGuard addon: no web page in a browser on this machine can use the keys Relayscope adds.

A browser reaches 127.0.0.1 like any client, so "loopback only" protects nothing by itself:
a page on another port sends `fetch()` or `<form>` POSTs, a WebSocket, or (DNS rebinding)
reaches us under a name of its own. Every such request carries a sign a plain client never
sends: an `Origin` header, a `Sec-Fetch-Site` of a page, or a foreign `Host`. The guard
decides in `requestheaders`, before the Router picks a provider or adds a key, and answers
refusals and CORS preflights itself (the Router only records them: `refusal_of`).

mitmproxy reads a request's body before any answer can be sent (an HTTP/1 answer waits for
the request's end), so a refused body is still read, within the proxy's body limits.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass

from mitmproxy import http

from relayscope.config import Config
from relayscope.proxy.addons.errors import error_response

KEY = "relayscope.guard"

#: Host names that always mean this machine (the port is not checked: see `_host_ok`).
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
#: `Sec-Fetch-Site` values a browser sets on requests a page made (`none` is the person
#: typing the URL, which no page can do for them).
PAGE_SITES = frozenset({"cross-site", "same-site", "same-origin"})
PREFLIGHT_METHODS = "GET, POST, DELETE, OPTIONS"
PREFLIGHT_MAX_AGE = "600"
_BAD_BYTE = re.compile(rb"[\0\r\n]")


@dataclass(slots=True)
class Verdict:
    """What the guard decided for one flow (in `flow.metadata[KEY]`)."""

    #: The guard's own answer: a refusal, or an allowed origin's preflight answer.
    answer: http.Response | None = None
    #: An allowed origin that asked: answers carry CORS headers for it alone.
    origin: str | None = None
    preflight: bool = False


def refusal_of(flow: http.HTTPFlow) -> http.Response | None:
    """The answer the guard chose for this flow, if it must not be forwarded."""
    verdict = flow.metadata.get(KEY)
    return verdict.answer if isinstance(verdict, Verdict) else None


def refuse(flow: http.HTTPFlow, answer: http.Response) -> None:
    """Answer a flow with a refusal decided before the Router (which records it)."""
    flow.metadata[KEY] = Verdict(answer)
    flow.response = answer


class LocalGuard:
    """Refuses browser pages and foreign Host names; answers CORS for trusted origins only."""

    def __init__(self, config: Config) -> None:
        self.allowed_hosts = frozenset(config.proxy.allowed_hosts)
        self.allowed_origins = frozenset(config.proxy.allowed_origins)
        self.where = f"the [proxy] section of {config.path or 'config.toml'}"

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        verdict = flow.metadata[KEY] = self.check(flow)
        if verdict.answer is not None:
            # Answered here, so nothing is forwarded even if no later hook looked.
            flow.response = verdict.answer

    def check(self, flow: http.HTTPFlow) -> Verdict:
        request = flow.request
        if request.method == "PRI":
            return Verdict()  # an HTTP/2 preface (no headers): the Router answers it, a 505
        if (refusal := self._malformed(request)) is not None:
            return Verdict(refusal)
        if _on_loopback(flow) and not self._host_ok(request.headers["host"]):
            return Verdict(self._host_refusal(request.headers["host"]))
        origin = request.headers.get("origin")
        if origin is not None:
            if origin.strip().lower() not in self.allowed_origins:
                return Verdict(self._origin_refusal(origin))
            origin = origin.strip()
        elif (site := request.headers.get("sec-fetch-site", "").lower()) in PAGE_SITES:
            return Verdict(self._page_refusal(site))
        if request.method == "OPTIONS" and "access-control-request-method" in request.headers:
            if origin is None:
                return Verdict(self._page_refusal("preflight"))
            # Never forwarded: the provider would get the key with a browser's question.
            return Verdict(http.Response.make(204, b"", {}), origin, preflight=True)
        return Verdict(origin=origin)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None:
            return
        # The provider's CORS headers would let a page read answers made with the key.
        for name in [n for n in response.headers if n.lower().startswith("access-control-")]:
            del response.headers[name]
        verdict = flow.metadata.get(KEY)
        if not isinstance(verdict, Verdict) or verdict.origin is None:
            return
        response.headers["access-control-allow-origin"] = verdict.origin
        vary = response.headers.get("vary")
        response.headers["vary"] = f"{vary}, Origin" if vary else "Origin"
        if verdict.preflight:
            asked = flow.request.headers.get("access-control-request-headers")
            response.headers["access-control-allow-methods"] = PREFLIGHT_METHODS
            if asked:
                response.headers["access-control-allow-headers"] = asked
            response.headers["access-control-max-age"] = PREFLIGHT_MAX_AGE
        else:
            response.headers["access-control-expose-headers"] = "*"

    def _host_ok(self, host: str) -> bool:
        """A loopback name, or one the person allowed. The port is not compared: a rebinding
        page needs a name of its own (refused here), a page on another local port sends an
        Origin (refused), and SSH tunnels or port forwards legitimately change the port."""
        host = host.strip().lower()
        name = _name_of(host)
        if name in LOOPBACK_NAMES or host in self.allowed_hosts or name in self.allowed_hosts:
            return True
        try:
            return ipaddress.ip_address(name.strip("[]")).is_loopback
        except ValueError:
            return False

    def _malformed(self, request: http.Request) -> http.Response | None:
        hosts = request.headers.get_all("host")
        if len(hosts) != 1 or not hosts[0].strip():
            return error_response(
                400,
                "host_missing",
                "The request needs exactly one Host header (HTTP/1.1 clients send it); "
                "Relayscope does not forward requests without one.",
            )
        for name, value in request.headers.fields:
            if _BAD_BYTE.search(name) or _BAD_BYTE.search(value):
                return error_response(
                    400,
                    "invalid_header",
                    f"The header {_quoted(name.decode('latin-1'))} contains a NUL, CR or LF "
                    "byte; Relayscope does not forward such requests.",
                )
        return None

    def _host_refusal(self, host: str) -> http.Response:
        name = _name_of(host.strip().lower())
        return error_response(
            403,
            "host_not_allowed",
            f"Relayscope refused a request for the host {_quoted(host)}: on this machine it "
            "answers only to 127.0.0.1, localhost and [::1], so a web page cannot reach it "
            "under a name of its own (DNS rebinding). If you reach Relayscope by that name on "
            f'purpose, add "{name}" to allowed_hosts in {self.where}.',
        )

    def _origin_refusal(self, origin: str) -> http.Response:
        if origin.strip().lower() == "null":
            source = "a page with no origin (a local file, a sandboxed frame or a redirect)"
            fix = "Such pages cannot be allowed; serve the web app from an origin you trust"
            fix += f" and add that origin to allowed_origins in {self.where}."
        else:
            source = f"the web page at {_quoted(origin)}"
            fix = f'If you trust this web app, add "{origin.strip().lower()}" to '
            fix += f"allowed_origins in {self.where}."
        return error_response(
            403,
            "origin_not_allowed",
            f"Relayscope refused a request from {source}: web pages in a browser may not use "
            f"the provider keys Relayscope adds. {fix}",
        )

    def _page_refusal(self, site: str) -> http.Response:
        return error_response(
            403,
            "origin_not_allowed",
            f"Relayscope refused a request a web page made in a browser ({site}): web pages "
            "may not use the provider keys Relayscope adds. A web app you trust must send its "
            f"Origin and be listed in allowed_origins in {self.where}.",
        )


def _on_loopback(flow: http.HTTPFlow) -> bool:
    """The client reached us on a loopback address (however we listen): a rebinding page
    does too, while other machines reach a LAN address and need the access token."""
    sockname = flow.client_conn.sockname
    return _loopback_address(str(sockname[0])) if sockname else True


@functools.lru_cache(maxsize=64)  # the addresses we listen on: a handful
def _loopback_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return True
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def _name_of(host: str) -> str:
    """`localhost:8787` → `localhost`, `[::1]:8787` → `[::1]`."""
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _quoted(value: str) -> str:
    """A client's value in a message: quoted, cut short, control characters escaped."""
    return json.dumps(value[:120])
