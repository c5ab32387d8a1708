"""Breakpoints: a matching request (or answer) waits for the app's decision: continue, edit
or fail; nothing else is held."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tutils

from relayscope.config import DEMO, Config, Provider
from relayscope.proxy.addons.breakpoints import Holder, RequestBreakpoints, ResponseBreakpoints
from relayscope.proxy.addons.context import CallContext, context_of
from relayscope.proxy.addons.router import Router
from tests.proxy.conftest import RecordingSink, client_flow, error_of

pytestmark = pytest.mark.anyio

CONFIG = Config(
    providers=(Provider("openai", "https://api.openai.test/v1", models=("gpt-*",)), DEMO)
)
CHAT = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "delete the database"}]}


class App:
    """The desktop app's side: the events the worker printed, and commands to send back."""

    def __init__(self, sink: RecordingSink) -> None:
        self.events: list[dict[str, Any]] = []
        self.holder = Holder(self.events.append, sink)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    def set_rules(self, *rules: dict[str, Any], timeout: float = 5.0) -> None:
        self.holder.command({"cmd": "set_breakpoints", "rules": list(rules), "timeout": timeout})

    async def held(self) -> dict[str, Any]:
        """Wait until a call is held; its call_held event."""
        for _ in range(200):
            if held := self.named("call_held"):
                return held[-1]
            await asyncio.sleep(0.005)
        raise AssertionError("no call was held")


@pytest.fixture
def app(sink: RecordingSink) -> App:
    return App(sink)


async def routed(body: dict[str, Any] = CHAT) -> tuple[http.HTTPFlow, CallContext]:
    router = Router(CONFIG)
    flow = client_flow(body=body)
    with taddons.context(router):
        router.requestheaders(flow)
        await router.request(flow)
    ctx = context_of(flow)
    assert ctx is not None
    return flow, ctx


def answered(flow: http.HTTPFlow, body: bytes, status: int = 200) -> None:
    flow.response = tutils.tresp(
        status_code=status,
        headers=http.Headers(content_type="application/json"),
        content=body,
    )


# -- the rules -----------------------------------------------------------------------------


def test_rules_from_the_app_are_confirmed_and_bad_ones_explained(app: App) -> None:
    app.set_rules({"id": "r1", "model": "gpt-*"}, {"id": "r2", "stage": "response"})
    assert app.named("breakpoints_set") == [{"event": "breakpoints_set", "count": 2}]
    app.set_rules({"id": "r3", "stage": "sometime"})
    assert app.named("command_error") and "stage" in app.named("command_error")[0]["message"]
    assert [r.id for r in app.holder.rules] == ["r1", "r2"]  # the bad set changed nothing


async def test_a_request_no_rule_matches_goes_on_at_once(app: App, sink: RecordingSink) -> None:
    app.set_rules({"id": "r1", "model": "claude-*"}, {"id": "r2", "text": "weather"})
    flow, _ = await routed()
    await asyncio.wait_for(RequestBreakpoints(app.holder).request(flow), 1.0)
    assert app.named("call_held") == [] and flow.response is None and sink.calls == []


# -- a held request ------------------------------------------------------------------------


async def test_a_held_request_waits_for_the_app_and_goes_on_with_its_edit(
    app: App, sink: RecordingSink
) -> None:
    app.set_rules({"id": "r1", "text": "delete"})
    flow, ctx = await routed()
    hook = asyncio.create_task(RequestBreakpoints(app.holder).request(flow))
    held = await app.held()
    assert (held["id"], held["stage"], held["rule"]) == (ctx.id, "request", "r1")
    assert (held["provider"], held["model"]) == ("openai", "gpt-5.2")
    assert json.loads(held["body"]) == CHAT  # the app shows what would be sent
    assert ctx.last_activity == float("inf")  # the Watchdog leaves a held call alone
    await asyncio.sleep(0.02)
    assert not hook.done()  # nothing goes upstream until someone decides
    edited = {**CHAT, "messages": [{"role": "user", "content": "list the tables"}]}
    app.holder.command({"cmd": "resume", "id": ctx.id, "body": json.dumps(edited), "by": "Ana"})
    await asyncio.wait_for(hook, 1.0)
    assert json.loads(flow.request.content or b"") == edited and flow.response is None
    assert json.loads(ctx.client_body) == CHAT  # the client's own request is kept
    assert app.named("call_released") == [
        {"event": "call_released", "id": ctx.id, "stage": "request"}
    ]
    # The recording learns what went upstream instead, and that a person changed it.
    [(call_id, fields)] = sink.named("update")
    assert call_id == ctx.id and json.loads(fields["upstream_request_body"]) == edited
    assert "Ana" in fields["quirks"]


async def test_a_held_request_failed_by_the_app_answers_the_client_with_that_error(
    app: App,
) -> None:
    app.set_rules({"id": "r1", "model": "gpt-*"})
    flow, ctx = await routed()
    hook = asyncio.create_task(RequestBreakpoints(app.holder).request(flow))
    await app.held()
    app.holder.command({"cmd": "fail", "id": ctx.id, "status": 503, "message": "Not today."})
    await asyncio.wait_for(hook, 1.0)
    assert flow.response is not None and flow.response.status_code == 503
    error = error_of(flow.response)
    assert (error["code"], error["message"]) == ("breakpoint", "Not today.")
    assert ctx.answered_by_proxy


async def test_a_request_nobody_decides_on_goes_on_unchanged_after_the_hold_time(
    app: App, sink: RecordingSink
) -> None:
    app.set_rules({"id": "r1"}, timeout=0.05)
    flow, ctx = await routed()
    await asyncio.wait_for(RequestBreakpoints(app.holder).request(flow), 1.0)
    assert flow.response is None and json.loads(flow.request.content or b"") == CHAT
    assert app.named("call_released") and ctx.id not in app.holder.held
    assert ctx.quirks and sink.named("update")  # the recording says it was held
    assert ctx.last_activity != float("inf")  # the Watchdog watches it again


async def test_a_decision_for_a_call_that_is_not_held_is_refused(app: App) -> None:
    app.holder.command({"cmd": "resume", "id": "0196a1b2c3d4-0a1b2c3d"})
    app.holder.command({"cmd": "fail", "id": "x", "status": 200})
    errors = app.named("command_error")
    assert len(errors) == 2 and "0196a1b2c3d4-0a1b2c3d" in errors[0]["message"]


# -- a held answer -------------------------------------------------------------------------


async def test_a_held_answer_reaches_the_client_as_the_app_edited_it(app: App) -> None:
    app.set_rules({"id": "r9", "stage": "response"})
    flow, ctx = await routed()
    answered(flow, b'{"choices":[{"message":{"content":"Yes."}}]}')
    hook = asyncio.create_task(ResponseBreakpoints(app.holder).response(flow))
    held = await app.held()
    assert (held["stage"], held["status"]) == ("response", 200)
    assert "Yes." in held["body"]
    app.holder.command({"cmd": "resume", "id": ctx.id, "body": '{"choices":[]}'})
    await asyncio.wait_for(hook, 1.0)
    assert flow.response is not None and flow.response.content == b'{"choices":[]}'
    assert ctx.quirks  # the recording will say the answer was edited


async def test_a_held_answer_failed_by_the_app_is_replaced_by_the_error(app: App) -> None:
    app.set_rules({"id": "r9", "stage": "response"})
    flow, ctx = await routed()
    answered(flow, b'{"choices":[]}')
    hook = asyncio.create_task(ResponseBreakpoints(app.holder).response(flow))
    await app.held()
    app.holder.command({"cmd": "fail", "id": ctx.id, "status": 500})
    await asyncio.wait_for(hook, 1.0)
    assert flow.response is not None and flow.response.status_code == 500
    assert error_of(flow.response)["code"] == "breakpoint"


@pytest.mark.parametrize("why", ["streaming", "answered_by_proxy"])
async def test_streams_and_relayscopes_own_answers_are_never_held(app: App, why: str) -> None:
    app.set_rules({"id": "r9", "stage": "response"})
    flow, ctx = await routed()
    answered(flow, b"data: {}\n\n")
    setattr(ctx, why, True)
    await asyncio.wait_for(ResponseBreakpoints(app.holder).response(flow), 1.0)
    assert app.named("call_held") == []


async def test_a_request_rule_does_not_hold_answers(app: App) -> None:
    app.set_rules({"id": "r1", "stage": "request"})
    flow, _ = await routed()
    answered(flow, b"{}")
    await asyncio.wait_for(ResponseBreakpoints(app.holder).response(flow), 1.0)
    assert app.named("call_held") == []
