"""Watchdog addon: gives up on providers that stay silent longer than their timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time

from mitmproxy import ctx as mitm_ctx
from mitmproxy import http

from relayscope.proxy.addons.context import context_of
from relayscope.proxy.addons.errors import TIMEOUT_MARK


class Watchdog:
    """Cuts a flow whose provider sent nothing for `timeout` seconds (before or mid-answer).

    Before the answer starts the client gets a 504 `upstream_timeout`; mid-stream the stream
    is cut (as the provider would have cut it) and the call is recorded as interrupted.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.live: dict[str, http.HTTPFlow] = {}
        self._task: asyncio.Task[None] | None = None

    def running(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is None:
            self.live[flow.id] = flow

    def response(self, flow: http.HTTPFlow) -> None:
        self.live.pop(flow.id, None)

    def error(self, flow: http.HTTPFlow) -> None:
        self.live.pop(flow.id, None)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            for flow_id, flow in list(self.live.items()):
                ctx = context_of(flow)
                if ctx is None or ctx.finished:
                    self.live.pop(flow_id, None)
                elif now - ctx.last_activity > ctx.timeout:
                    flow.metadata[TIMEOUT_MARK] = True
                    self.live.pop(flow_id, None)
                    _close_upstream(flow)


def _close_upstream(flow: http.HTTPFlow) -> None:
    # flow.kill() cannot stop a flow in transit (mitmproxy issue #4711), so close the
    # provider's connection the way mitmproxy's own commands do.
    proxyserver = mitm_ctx.master.addons.get("proxyserver")
    handler = proxyserver.connections.get(flow.client_conn.id) if proxyserver else None
    if handler is not None and flow.server_conn in handler.transports:
        handler.close_connection(flow.server_conn)
