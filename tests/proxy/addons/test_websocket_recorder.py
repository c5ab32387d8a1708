"""WebSocketRecorder: a refused upgrade becomes a 426 (Codex then falls back to HTTP at once);
an accepted socket's messages are recorded in order, each with its direction."""

from __future__ import annotations

import json

import pytest
from mitmproxy import http, websocket
from mitmproxy.test import taddons, tutils
from wsproto.frame_protocol import Opcode

from relayscope.config import DEMO, Config, Provider
from relayscope.proxy.addons.context import CallContext, context_of
from relayscope.proxy.addons.router import Router
from relayscope.proxy.addons.websocket_recorder import WebSocketRecorder
from tests.proxy.conftest import RecordingSink, client_flow, error_of

pytestmark = pytest.mark.anyio

# Codex's socket names no model when it opens: the default provider takes it.
CONFIG = Config(providers=(Provider("openai", "https://api.openai.test/v1", default=True), DEMO))
UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
CREATE = json.dumps({"type": "response.create", "model": "gpt-5.2-codex", "input": []}).encode()


async def upgrade(sink: RecordingSink) -> tuple[http.HTTPFlow, CallContext, WebSocketRecorder]:
    """Codex opens its Responses socket through the Router."""
    router, recorder = Router(CONFIG), WebSocketRecorder(sink)
    flow = client_flow("/v1/responses", b"", method="GET", headers=UPGRADE)
    with taddons.context(router, recorder):
        router.requestheaders(flow)
        await router.request(flow)
    ctx = context_of(flow)
    assert ctx is not None and flow.response is None  # on its way to the provider
    return flow, ctx, recorder


async def test_a_provider_refusing_the_upgrade_is_answered_426(sink: RecordingSink) -> None:
    flow, ctx, recorder = await upgrade(sink)
    flow.response = tutils.tresp(status_code=404, content=b"Not Found")
    recorder.response(flow)
    assert flow.response.status_code == 426
    assert error_of(flow.response)["code"] == "websocket_not_supported"
    assert ctx.quirks  # the recording says what the client got instead


async def test_a_plain_http_call_is_none_of_its_business(sink: RecordingSink) -> None:
    router, recorder = Router(CONFIG), WebSocketRecorder(sink)
    flow = client_flow(body={"model": "gpt-5.2", "input": "hi"}, path="/v1/responses")
    with taddons.context(router, recorder):
        router.requestheaders(flow)
        await router.request(flow)
        flow.response = tutils.tresp(status_code=404)
        recorder.response(flow)
    assert flow.response.status_code == 404 and sink.calls == []


async def test_each_message_is_recorded_in_order_with_its_direction(sink: RecordingSink) -> None:
    flow, _, recorder = await upgrade(sink)
    flow.response = tutils.tresp(status_code=101, content=b"")
    flow.websocket = websocket.WebSocketData()
    recorder.response(flow)
    assert flow.response.status_code == 101  # accepted: passed on as it is
    sent = [
        (True, CREATE),
        (False, b'{"type":"response.created"}'),
        (False, b'{"type":"response.output_text.delta","delta":"Hi"}'),
        (False, b'{"type":"response.completed"}'),
    ]
    for from_client, content in sent:
        message = websocket.WebSocketMessage(Opcode.TEXT, from_client, content)
        flow.websocket.messages.append(message)
        recorder.websocket_message(flow)
    chunks = sink.named("chunk")
    assert [(c.raw, c.direction) for c in chunks] == [
        (content, "client" if from_client else "server") for from_client, content in sent
    ]
    times = [c.t_ms for c in chunks]
    assert times == sorted(times)  # each with its arrival time
