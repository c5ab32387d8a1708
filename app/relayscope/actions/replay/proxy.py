"""The proxy and the database around a send: is the proxy there, is the call recorded yet."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.store.call_store import CallStore


def proxy_reachable(base_url: str, *, timeout: float = 1.0) -> bool:
    """True when something accepts connections at ``base_url`` (no request is sent, so
    nothing is recorded)."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until_recorded(
    store: CallStore, call_id: str, *, timeout: float = 10.0
) -> CallRecord | None:
    """The call's row once the proxy has finished it (None if it never shows up in time)."""
    deadline = time.monotonic() + timeout
    row = store.get_call(call_id)
    while row is None or call_facts.is_live(row):
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)
        row = store.get_call(call_id)
    return row
