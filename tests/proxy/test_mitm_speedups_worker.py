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
