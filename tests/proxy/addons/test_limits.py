"""The limits as units: head sizes, idle clients, folded log lines, out-of-descriptor errors.

The end-to-end figures (a 20 MB header gets a 431, 1,100 silent clients) are in
tests/reliability/test_limits.py; these pin the decisions behind them.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from mitmproxy.proxy import events
from mitmproxy.test import tflow

from relayscope.proxy.addons import limits
from relayscope.proxy.addons.limits import (
    MAX_HEADER_BYTES,
    REFUSE_BEFORE_BODY,
    IdleClients,
    RateLimitedLog,
    quiet_resource_errors,
)


def received(conn: Any, data: bytes) -> bool:
    conn.buf = bytearray(data)
    return limits._head_too_large(conn, events.DataReceived(conn, data))


@pytest.mark.parametrize(
    ("data", "too_large"),
    [
        (b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", False),
        # A head that has not ended within the limit: refused (431) before more is read.
        (b"POST / HTTP/1.1\r\nx-big: " + b"a" * MAX_HEADER_BYTES, True),
        # A small head followed by a large body is not a large head.
        (b"POST / HTTP/1.1\r\ncontent-length: 9\r\n\r\n" + b"b" * (MAX_HEADER_BYTES * 2), False),
        # Bare LF line ends count as the end of a head too.
        (b"GET / HTTP/1.1\nhost: x\n\n" + b"c" * (MAX_HEADER_BYTES * 2), False),
        # Exactly at the limit, still unfinished: not yet decided.
        (b"G" * MAX_HEADER_BYTES, False),
    ],
)
def test_a_head_is_too_large_only_when_it_has_not_ended_within_the_limit(
    data: bytes, too_large: bool
) -> None:
    assert received(SimpleNamespace(), data) is too_large


def test_other_events_never_count_as_a_large_head() -> None:
    conn = SimpleNamespace(buf=bytearray(b"x" * (MAX_HEADER_BYTES + 10)))
    assert not limits._head_too_large(conn, events.ConnectionClosed(conn))  # type: ignore[arg-type]


def test_a_repeated_warning_is_one_line_per_window_with_a_count(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    folded = RateLimitedLog(every=10.0)
    with caplog.at_level(logging.WARNING, logger="relayscope"):
        for _ in range(5):
            folded.warning("idle", "Closed a client connection.")
            now[0] += 1.0
        now[0] += 10.0
        folded.warning("idle", "Closed a client connection.")
        folded.warning("files", "Out of file descriptors.")  # another key: its own line
    assert [r.getMessage() for r in caplog.records] == [
        "Closed a client connection.",
        "Closed a client connection. (4 more like this in the last 10 s)",
        "Out of file descriptors.",
    ]


class TestIdleClients:
    def test_a_request_in_progress_keeps_its_client(self) -> None:
        idle = IdleClients(idle_seconds=0.1)
        flow = tflow.tflow()
        idle.client_connected(flow.client_conn)
        idle.requestheaders(flow)
        assert idle._clients[flow.client_conn.id][1] == 1  # busy
        idle.response(flow)
        assert idle._clients[flow.client_conn.id][1] == 0

    def test_a_request_refused_before_its_body_is_not_in_progress(self) -> None:
        idle = IdleClients()
        flow = tflow.tflow()
        flow.metadata[REFUSE_BEFORE_BODY] = True
        idle.client_connected(flow.client_conn)
        idle.requestheaders(flow)
        assert idle._clients[flow.client_conn.id][1] == 0

    def test_a_websocket_stays_busy_until_it_ends(self) -> None:
        idle = IdleClients()
        flow = tflow.twebsocketflow()
        idle.client_connected(flow.client_conn)
        idle.requestheaders(flow)
        idle.response(flow)  # the 101: the connection goes on
        assert idle._clients[flow.client_conn.id][1] == 1
        idle.websocket_end(flow)
        assert idle._clients[flow.client_conn.id][1] == 0

    def test_an_error_never_leaves_a_negative_count_and_a_gone_client_is_forgotten(
        self,
    ) -> None:
        idle = IdleClients()
        flow = tflow.tflow()
        idle.client_connected(flow.client_conn)
        idle.error(flow)
        idle.error(flow)
        assert idle._clients[flow.client_conn.id][1] == 0
        idle.client_disconnected(flow.client_conn)
        assert idle._clients == {}
        idle.response(flow)  # a late hook for a gone client is harmless

    def test_silent_clients_are_closed_busy_ones_are_kept(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        closed: list[str] = []
        monkeypatch.setattr(limits, "_close_client", lambda client: closed.append(client.id))
        idle = IdleClients(idle_seconds=0.1)
        silent, busy = tflow.tflow(), tflow.tflow()

        async def scenario() -> None:
            idle.running()
            idle.client_connected(silent.client_conn)
            idle.client_connected(busy.client_conn)
            idle.requestheaders(busy)  # a long stream: no response yet
            await asyncio.sleep(0.4)
            await idle.done()

        asyncio.run(scenario())
        assert closed == [silent.client_conn.id]
        assert list(idle._clients) == [busy.client_conn.id]


def test_out_of_descriptors_is_one_sentence_not_a_traceback_per_accept(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "LIMIT_LOG", RateLimitedLog(every=10.0))
    passed_on: list[dict[str, Any]] = []
    loop = asyncio.new_event_loop()
    try:
        loop.set_exception_handler(lambda _loop, context: passed_on.append(context))
        quiet_resource_errors(loop)
        with caplog.at_level(logging.WARNING, logger="relayscope"):
            for _ in range(100):
                loop.call_exception_handler(
                    {"message": "accept failed", "exception": OSError(errno.EMFILE, "Too many")}
                )
        other = {"message": "something else", "exception": ValueError("x")}
        loop.call_exception_handler(other)
    finally:
        loop.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "ulimit -n" in messages[0]
    assert passed_on == [other]  # anything else still reaches the loop's own handler


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and soft > 256:
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        changed = limits.raise_open_file_limit()
        now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = 10240 if hard == resource.RLIM_INFINITY else hard
        assert now == target
        assert changed is None or changed[1] == target
        assert limits.raise_open_file_limit() is None  # already there: nothing to do
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
