"""A real headless Chromium runs hostile pages against the real worker: a page on another
local port, the same page under a foreign name, and a DNS rebinding (the page's own origin
changes hands to Relayscope). The provider, which allows every origin, never hears of any
of it, and the pages report that they could read nothing."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.fakes.provider import FakeProvider
from tests.security.conftest import port_of, provider_saw_key
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
HERE = Path(__file__).parent
REPORT_TIMEOUT = 60.0


class PageServer:
    """Serves this folder's attack pages and takes the pages' reports (a queue of dicts)."""

    def __init__(self, port: int = 0) -> None:
        self.reports: queue.Queue[dict[str, Any]] = queue.Queue()
        reports = self.reports

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("?")[0].lstrip("/")
                page = HERE / name
                if name.endswith("_page.html") and page.is_file():
                    self._send(200, page.read_bytes(), "text/html")
                else:
                    self._send(404, b"not here", "text/plain")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                reports.put(json.loads(body))
                self._send(204, b"", "text/plain")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_report(self) -> dict[str, Any]:
        try:
            return self.reports.get(timeout=REPORT_TIMEOUT)
        except queue.Empty:
            raise AssertionError("the page reported nothing; is Chromium working?") from None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def browse(tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """Opens a URL in headless Chromium (evil.test resolves to 127.0.0.1)."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `bash dev/setup.sh` (it installs Debian's chromium).")
    started: list[subprocess.Popen[bytes]] = []

    def browse(url: str) -> None:
        args = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / f'chromium-{len(started)}'}",
            "--host-resolver-rules=MAP evil.test 127.0.0.1",
            url,
        ]
        with (tmp_path / "chromium.log").open("ab") as log:
            started.append(subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True))

    yield browse
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # its own group: Chromium and its helpers
        process.wait()


def assert_read_nothing(report: dict[str, Any]) -> None:
    assert report, "empty report"
    for name, outcome in report.items():
        assert "sk-guarded" not in outcome
        assert not outcome.startswith("read:") or outcome.startswith("read: 403 "), (
            f"the page could read {name}: {outcome[:300]}"
        )
        assert '"choices"' not in outcome and "relayscope_provider" not in outcome


PAGE_ATTEMPTS = {
    "fetch text/plain",
    "fetch json (preflight)",
    "fetch no-cors",
    "model list",
    "websocket",
    "form post",
}


@pytest.mark.parametrize(
    ("page_host", "proxy_host", "code"),
    [
        ("127.0.0.1", "127.0.0.1", "origin_not_allowed"),
        ("evil.test", "evil.test", "host_not_allowed"),
    ],
    ids=["page on another local port", "foreign name"],
)
def test_a_hostile_page_reads_nothing_and_the_provider_hears_nothing(
    page_host: str,
    proxy_host: str,
    code: str,
    worker: WorkerProcess,
    fake: FakeProvider,
    pages: PageServer,
    browse: Callable[[str], None],
) -> None:
    target = f"http://{proxy_host}:{port_of(worker)}"
    report = f"http://127.0.0.1:{pages.port}/report"
    browse(
        f"http://{page_host}:{pages.port}/attack_page.html"
        f"?target={quote(target)}&report={quote(report)}"
    )
    results = pages.next_report()

    assert set(results) == PAGE_ATTEMPTS
    assert all(outcome.startswith("blocked") for outcome in results.values()), results
    assert_read_nothing(results)
    assert fake.requests == [] and not provider_saw_key(fake)
    # Every attempt that reached Relayscope is in the list, marked. The JSON fetch is the
    # preflight alone: the browser never sends the POST after a refused preflight.
    calls = worker.wait_for_calls(6)
    assert {(c["status"], c["error_code"], c["provider"]) for c in calls} == {
        (403, code, "relayscope")
    }
    assert sorted(c["method"] for c in calls) == ["GET", "GET", "OPTIONS", "POST", "POST", "POST"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dns_rebinding_reads_nothing(
    start_worker: Callable[..., WorkerProcess],
    fake: FakeProvider,
    pages: PageServer,
    browse: Callable[[str], None],
) -> None:
    """The page comes from http://evil.test:PORT; then Relayscope takes over PORT, as the
    rebound name would lead there: the page's requests are same-origin for the browser (it
    may read every answer), and reach Relayscope with Host evil.test:PORT."""
    origin = PageServer(free_port())
    report = f"http://127.0.0.1:{pages.port}/report"
    try:
        browse(f"http://evil.test:{origin.port}/rebind_page.html?report={quote(report)}")
        assert "loaded" in pages.next_report()
    finally:
        origin.close()
    worker = start_worker(extra_args=("--port", str(origin.port)))
    assert port_of(worker) == origin.port
    results = pages.next_report()

    assert set(results) == {"model list", "chat", "delete file"}, results
    # Same-origin: the page reads the refusals, and nothing else.
    for outcome in results.values():
        assert outcome.startswith("read: 403 ") and "host_not_allowed" in outcome, results
    assert_read_nothing(results)
    assert fake.requests == [] and not provider_saw_key(fake)
    calls = worker.wait_for_calls(3)
    assert {c["error_code"] for c in calls} == {"host_not_allowed"}
