"""The two mitmproxy debug checks the worker switches off are really off in a fresh worker
process (a mitmproxy upgrade that moves them makes this fail, not the proxy slow)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.worker import ROOT

PROBE = """
import relayscope.proxy.worker  # what `relayscope proxy` imports
from mitmproxy import http
from mitmproxy.proxy.layers.http import HttpStream
from mitmproxy.proxy.layers.http._http1 import Http1Server

wrapped = [f.__qualname__ for f in (HttpStream.state_stream_response_body, Http1Server.send)
           if hasattr(f, "__wrapped__")]
try:  # a timestamp that is not a float: what the type check rejects
    http.Response(b"HTTP/1.1", 200, b"OK", http.Headers(), b"", None, 0.0, "not a float")
    typed = False
except TypeError:
    typed = True
print(wrapped, typed)
"""


def test_the_worker_runs_mitmproxy_without_its_debug_checks() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[] False"


def test_without_the_switch_mitmproxy_checks_types() -> None:
    """The probe can fail: in a plain interpreter the checks are there."""
    probe = PROBE.replace("import relayscope.proxy.worker", "import mitmproxy.addons.proxyserver")
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out.startswith("['") and out.endswith("True")


CHUNK_PROBE = """
import relayscope.proxy.worker
from mitmproxy import http, options
from mitmproxy.proxy import commands, context
from mitmproxy.proxy.layers.http import ResponseData, ResponseHeaders
from mitmproxy.proxy.layers.http._http1 import Http1Server
from mitmproxy.test import tflow

opts = options.Options()
mode = opts.mode
mode.append("changed")
assert opts.mode == ["regular"] and opts.listen_port is None  # a list is still copied
flow = tflow.tflow()
server = Http1Server(context.Context(flow.client_conn, opts))
sent = []
for chunked in (True, False, True):  # keep-alive: each response framed by its own headers
    response = http.Response.make(200, b"", {"transfer-encoding": "chunked"} if chunked else {})
    events = (ResponseHeaders(1, response), ResponseData(1, b"ab"), ResponseData(1, b""))
    for event in events:
        sent += [bytes(c.data) for c in server.send(event) if isinstance(c, commands.SendData)]
print([data for data in sent if not data.startswith(b"HTTP/1.1")])
"""


def test_chunks_are_framed_per_response_and_options_read_as_before() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHUNK_PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    chunk, end = "b'2\\r\\nab\\r\\n'", "b'0\\r\\n\\r\\n'"
    assert out == f"[{chunk}, {end}, b'ab', {chunk}, {end}]"  # as mitmproxy frames them
