"""Two of mitmproxy's debug-only checks, switched off as `python -O` would switch them off.

mitmproxy guards both with `__debug__`: every HTTP message type-checks its fields when it is
built (`MessageData.__post_init__`), and every handler of its layers' state machines checks
the type of the event it gets (`mitmproxy.proxy.utils.expect`). Together they cost the proxy
about a sixth of its requests per second (measured side by side: docs/benchmarks.md).

`python -O` would remove them too, but it runs from optimized bytecode caches that are often
missing (PYTHONDONTWRITEBYTECODE, read-only installs): every start then compiles mitmproxy
from source, 0.45 s → 1.2 s before the first answer. So the worker switches the two checks
off itself. `expect` is applied when mitmproxy's layer modules are imported, so this must
run before that: `relayscope.proxy.__init__` calls `apply()`, which every import of the
worker passes through. Pinned by `mitmproxy>=12.2,<13`; tests/proxy/test_mitm_speedups_worker.py
checks that both still take effect.

Two per-chunk costs of a streamed response go too, with the same results (a py-spy profile
of one stream through the worker: 10% and 5% of its samples):

- `Http1Server.send` looked the response's `transfer-encoding` header up again for every
  chunk it framed (a `Headers` scan that lower-cases every header name); it is now looked up
  once per response, when its head is sent, which is when our addons have finished changing
  it (`Recorder.responseheaders`).
- every option read (`HttpStream` reads `store_streamed_bodies` once per chunk) deep-copies
  the value; for an immutable value (bool, number, text, None) the copy is the value itself,
  so it is returned without `copy.deepcopy`.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from typing import Any

import mitmproxy.http
import mitmproxy.optmanager
import mitmproxy.proxy.utils


def _expect_nothing(*event_types: type) -> Callable[[Any], Any]:
    def decorator(handler: Any) -> Any:
        return handler

    return decorator


def _no_type_checks(self: object) -> None:
    return None


_IMMUTABLE = frozenset({bool, int, float, str, bytes, type(None)})


def _current(self: Any) -> Any:
    """`_Option.current` without `copy.deepcopy` for values it would return as they are."""
    value = self.default if self.value is mitmproxy.optmanager.unset else self.value
    return value if type(value) in _IMMUTABLE else copy.deepcopy(value)


def _framing_once() -> None:
    """`Http1Server.send` deciding chunked framing once per response instead of per chunk."""
    from mitmproxy.proxy import commands
    from mitmproxy.proxy.layers.http._events import ResponseData
    from mitmproxy.proxy.layers.http._http1 import Http1Server

    send = Http1Server.send

    def send_framed_once(self: Any, event: Any) -> Any:
        if not isinstance(event, ResponseData):
            yield from send(self, event)
            return
        assert event.stream_id == self.stream_id
        response = self.response
        assert response
        known = self.__dict__.get("_relayscope_chunked")
        if known is None or known[0] is not response:
            chunked = "chunked" in response.headers.get("transfer-encoding", "").lower()
            known = self._relayscope_chunked = (response, chunked)
        data = event.data
        raw = b"%x\r\n%s\r\n" % (len(data), data) if known[1] else data
        if raw:
            yield commands.SendData(self.conn, raw)

    Http1Server.send = send_framed_once  # type: ignore[method-assign]


def apply() -> bool:
    """Switch the checks off; False if mitmproxy's layers were imported too early for it."""
    if "mitmproxy.proxy.layers" in sys.modules:
        return False
    mitmproxy.proxy.utils.expect = _expect_nothing
    mitmproxy.http.MessageData.__post_init__ = _no_type_checks  # type: ignore[method-assign]
    mitmproxy.optmanager._Option.current = _current  # type: ignore[method-assign]
    _framing_once()  # imports the layers: after `expect` is replaced
    return True
