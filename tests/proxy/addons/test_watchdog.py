"""Watchdog: a provider silent for longer than its timeout has its connection closed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from mitmproxy import connection, http
from mitmproxy.test import taddons

from relayscope.proxy.addons.context import KEY, CallContext
from relayscope.proxy.addons.errors import TIMEOUT_MARK
from relayscope.proxy.addons.watchdog import Watchdog
from tests.proxy.conftest import client_flow

pytestmark = pytest.mark.anyio

TIMEOUT = 0.05


class ConnectionHandler:
    """The part of mitmproxy's connection handler the Watchdog uses: one upstream transport."""

    def __init__(self, server: connection.Server) -> None:
        self.transports: dict[connection.Connection, object] = {server: object()}
        self.closed: list[connection.Connection] = []

    def close_connection(self, conn: connection.Connection) -> None:
        self.closed.append(conn)


class Proxyserver:
    """Stands in for mitmproxy's `proxyserver` addon: client connection id → its handler."""

    def __init__(self) -> None:
        self.connections: dict[str, ConnectionHandler] = {}


@pytest.fixture
async def watching() -> AsyncIterator[tuple[Watchdog, Proxyserver]]:
    watchdog, proxyserver = Watchdog(interval=0.01), Proxyserver()
    with taddons.context(proxyserver, watchdog):
        watchdog.running()
        yield watchdog, proxyserver
        await watchdog.done()


def waiting_flow(
    proxyserver: Proxyserver, *, silent_for: float
) -> tuple[http.HTTPFlow, CallContext]:
    """A routed flow whose provider has said nothing for `silent_for` seconds."""
    flow = client_flow()
    ctx = flow.metadata[KEY] = CallContext(timeout=TIMEOUT)
    ctx.last_activity = time.monotonic() - silent_for
    proxyserver.connections[flow.client_conn.id] = ConnectionHandler(flow.server_conn)
    return flow, ctx


async def test_a_silent_provider_is_cut_off_and_the_flow_marked_timed_out(
    watching: tuple[Watchdog, Proxyserver],
) -> None:
    watchdog, proxyserver = watching
    flow, _ = waiting_flow(proxyserver, silent_for=0.0)
    watchdog.request(flow)
    await asyncio.sleep(TIMEOUT + 0.1)
    assert flow.metadata.get(TIMEOUT_MARK) is True
    assert proxyserver.connections[flow.client_conn.id].closed == [flow.server_conn]
    assert flow.id not in watchdog.live  # cut once


async def test_a_provider_that_keeps_sending_is_left_alone(
    watching: tuple[Watchdog, Proxyserver],
) -> None:
    watchdog, proxyserver = watching
    flow, ctx = waiting_flow(proxyserver, silent_for=0.0)
    ctx.timeout = 0.3  # room for a loaded machine's late wake-ups
    watchdog.request(flow)
    for _ in range(15):  # 0.45 s in all, never 0.3 s without a chunk
        await asyncio.sleep(0.03)
        ctx.last_activity = time.monotonic()
    assert TIMEOUT_MARK not in flow.metadata
    assert proxyserver.connections[flow.client_conn.id].closed == []


async def test_a_held_call_never_times_out(watching: tuple[Watchdog, Proxyserver]) -> None:
    watchdog, proxyserver = watching
    flow, ctx = waiting_flow(proxyserver, silent_for=10.0)
    ctx.last_activity = float("inf")  # what a breakpoint sets while a person decides
    watchdog.request(flow)
    await asyncio.sleep(TIMEOUT + 0.1)
    assert TIMEOUT_MARK not in flow.metadata


@pytest.mark.parametrize("hook", ["response", "error"])
async def test_a_flow_that_ended_is_no_longer_watched(
    watching: tuple[Watchdog, Proxyserver], hook: str
) -> None:
    watchdog, proxyserver = watching
    flow, _ = waiting_flow(proxyserver, silent_for=10.0)
    watchdog.request(flow)
    getattr(watchdog, hook)(flow)
    await asyncio.sleep(0.05)
    assert TIMEOUT_MARK not in flow.metadata and watchdog.live == {}


async def test_a_call_finished_in_the_meantime_is_dropped_without_a_timeout(
    watching: tuple[Watchdog, Proxyserver],
) -> None:
    watchdog, proxyserver = watching
    flow, ctx = waiting_flow(proxyserver, silent_for=10.0)
    ctx.finished = True
    watchdog.request(flow)
    await asyncio.sleep(0.05)
    assert TIMEOUT_MARK not in flow.metadata and watchdog.live == {}


def test_a_request_answered_by_the_proxy_is_not_watched() -> None:
    watchdog = Watchdog()
    flow = client_flow()
    flow.metadata[KEY] = CallContext()
    flow.response = http.Response.make(404)
    watchdog.request(flow)
    assert watchdog.live == {}
