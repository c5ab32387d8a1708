"""CallContext: what Relayscope knows about one flow, carried in `flow.metadata`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mitmproxy import http

from relayscope.routing.routes import new_call_id

KEY = "relayscope"


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class CallContext:
    id: str = field(default_factory=new_call_id)
    t0: float = field(default_factory=time.monotonic)
    started_at: str = field(default_factory=utc_now_iso)
    endpoint: str = "other"
    provider: str | None = None
    model: str | None = None
    stream: bool = False
    timeout: float = 600.0
    replay_of: str | None = None
    group_id: str | None = None
    answered_by_proxy: bool = False
    upstream_body_changed: bool = False
    quirks: list[str] = field(default_factory=list)
    client_headers: list[tuple[str, str]] = field(default_factory=list)
    # The same by lower-case name (first value): one pass instead of a scan per look-up.
    header: dict[str, str] = field(default_factory=dict)
    client_body: bytes = b""
    # Filled while the response arrives (on the event loop only):
    first_byte: float | None = None
    last_activity: float = 0.0
    streaming: bool = False
    seq: int = 0
    finished: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def ms_since_start(self, now: float | None = None) -> float:
        return round(((now if now is not None else time.monotonic()) - self.t0) * 1000, 3)


def context_of(flow: http.HTTPFlow) -> CallContext | None:
    ctx = flow.metadata.get(KEY)
    return ctx if isinstance(ctx, CallContext) else None
