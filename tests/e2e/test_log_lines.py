"""The proxy's per-call log lines show a client's hostile model name and path as escapes."""

from __future__ import annotations

import json
import re
import socket

import httpx

from tests.support.worker import WorkerProcess

EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b31m\r\x08\u202eevil"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")


def _raw_request(base_url: str, target: str, body: bytes) -> None:
    """A request sent byte for byte (httpx refuses control characters in a URL)."""
    host, port = httpx.URL(base_url).host, httpx.URL(base_url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode("latin-1")
            + b"Content-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        while sock.recv(65536):
            pass


def test_log_lines_show_the_clients_control_characters_as_escapes(worker: WorkerProcess) -> None:
    body = json.dumps({"model": "fake-1" + EVIL, "messages": [{"role": "user", "content": "hi"}]})
    httpx.post(worker.base_url + "/chat/completions", content=body, timeout=30)
    _raw_request(worker.base_url, "/v1/chat/completions?q=%1b\x1b[2J\x07", body.encode())
    worker.wait_for_calls(2)
    log = worker.log()
    assert "?q=%1b\\x1b[2J\\x07 fake fake-1" in log, log
    assert "fake-1\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\r\\x08\\u202eevil" in log, log
    assert not UNSAFE.search(log), [m.group(0) for m in UNSAFE.finditer(log)]
