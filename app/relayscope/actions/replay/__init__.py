"""Builds a request from a recorded (or edited) call and sends it back through the proxy.

``request`` builds the request (a replay, or a body of one's own), ``editing`` reads and
changes a body as an editor holds it, ``sending`` sends it, ``results`` is what comes back,
``proxy`` checks the proxy and waits for the recording.
"""

from __future__ import annotations

from relayscope.actions.replay.editing import JsonError, edit_body, parse_json_body
from relayscope.actions.replay.proxy import proxy_reachable, wait_until_recorded
from relayscope.actions.replay.request import (
    ReplayError,
    ReplayRequest,
    client_headers,
    new_request,
    replay_request,
)
from relayscope.actions.replay.results import (
    EventKind as EventKind,
)
from relayscope.actions.replay.results import (
    OnEvent,
    ReplayEvent,
    ReplayResult,
    parse_retry_after,
)
from relayscope.actions.replay.sending import DEFAULT_BASE_URL, async_client, send, send_async
from relayscope.actions.replay.sending import MAX_RETRY_WAIT as MAX_RETRY_WAIT

__all__ = [
    "DEFAULT_BASE_URL",
    "JsonError",
    "OnEvent",
    "ReplayError",
    "ReplayEvent",
    "ReplayRequest",
    "ReplayResult",
    "async_client",
    "client_headers",
    "edit_body",
    "new_request",
    "parse_json_body",
    "parse_retry_after",
    "proxy_reachable",
    "replay_request",
    "send",
    "send_async",
    "wait_until_recorded",
]
