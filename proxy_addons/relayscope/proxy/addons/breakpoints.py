"""Breakpoints: hold a matching request before it goes upstream, or a (non-stream) answer
before it reaches the client, until the app decides: continue, edit, or fail it.

Two addons share one `Holder`: `RequestBreakpoints` runs after the Recorder has written the
pending row (so the held call shows in the app), `ResponseBreakpoints` before the Recorder
records the answer (so an edited answer is what gets recorded).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from relayscope.actions.breakpoints import (
    DEFAULT_HOLD_SECONDS,
    Decision,
    Rule,
    RuleError,
    first_match,
    parse_decision,
    parse_rules,
)
from relayscope.proxy.addons.context import CallContext, context_of
from relayscope.proxy.addons.errors import error_response
from relayscope.proxy.addons.router import set_upstream_body, upstream_body
from relayscope.recording.messages import Event, Stage
from relayscope.recording.writer import Recording

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]
#: `ctx.extra` key: how long breakpoints held the call, in ms (the Recorder records it).
HOLD_MS = "hold_ms"


class Holder:
    """The rules, the held calls, and the commands that release them (from the app)."""

    def __init__(self, emit: Emit, writer: Recording) -> None:
        self.emit = emit
        self.writer = writer
        self.rules: list[Rule] = []
        self.timeout = DEFAULT_HOLD_SECONDS
        self.held: dict[str, asyncio.Future[Decision]] = {}

    def command(self, command: dict[str, Any]) -> None:
        """One command from the app (runs on the event loop)."""
        try:
            if command.get("cmd") == "set_breakpoints":
                self.rules = parse_rules(command.get("rules", []))
                self.timeout = float(command.get("timeout", DEFAULT_HOLD_SECONDS))
                self.emit({"event": "breakpoints_set", "count": len(self.rules)})
                return
            decision = parse_decision(command)
        except (RuleError, TypeError, ValueError) as exc:
            self.emit({"event": "command_error", "message": str(exc)})
            return
        future = self.held.get(str(command.get("id")))
        if future is None or future.done():
            self.emit(
                {
                    "event": "command_error",
                    "message": f"call {command.get('id')} is not held (any more)",
                }
            )
            return
        future.set_result(decision)

    async def hold(
        self, ctx: CallContext, stage: Stage, rule: Rule, body: bytes, status: int | None = None
    ) -> Decision | None:
        """Wait for the app's decision; None if none came within the timeout."""
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.held[ctx.id] = future
        held_since = time.monotonic()
        self.emit(
            {
                "event": "call_held",
                "id": ctx.id,
                "stage": stage,
                "rule": rule.id,
                "provider": ctx.provider,
                "model": ctx.model,
                "endpoint": ctx.endpoint,
                "status": status,
                "body": body.decode("utf-8", "replace"),
                "timeout": self.timeout,
            }
        )
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            ctx.quirks.append(
                f"breakpoint {rule.id}: no decision within {self.timeout:g} s; continued unchanged"
            )
            return None
        finally:
            held_ms = (time.monotonic() - held_since) * 1000.0
            ctx.extra[HOLD_MS] = round(ctx.extra.get(HOLD_MS, 0.0) + held_ms, 3)
            self.held.pop(ctx.id, None)
            self.emit({"event": "call_released", "id": ctx.id, "stage": stage})


class RequestBreakpoints:
    def __init__(self, holder: Holder) -> None:
        self.holder = holder

    async def request(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        if ctx is None or flow.response is not None or not self.holder.rules:
            return
        body = upstream_body(flow.request, ctx)  # decoded, if it came compressed
        rule = first_match(
            self.holder.rules, "request", ctx.provider, ctx.model, ctx.endpoint, body
        )
        if rule is None:
            return
        ctx.last_activity = float("inf")  # the watchdog must not time out a held call
        decision = await self.holder.hold(ctx, "request", rule, body)
        ctx.last_activity = time.monotonic()  # the watchdog's clock starts again
        if decision is None:
            self.holder.writer.update(
                ctx.id, {"quirks": json.dumps(ctx.quirks), "hold_ms": ctx.extra[HOLD_MS]}
            )
            return
        if decision.action == "fail":
            ctx.quirks.append(
                f"breakpoint {rule.id}: failed by {decision.by} with {decision.status}"
            )
            ctx.answered_by_proxy = True
            flow.response = error_response(decision.status, "breakpoint", decision.message)
            return
        fields: dict[str, Any] = {"hold_ms": ctx.extra[HOLD_MS]}
        if decision.body is not None and decision.body != body:
            set_upstream_body(flow.request, ctx, decision.body)
            ctx.quirks.append(f"breakpoint {rule.id}: request edited by {decision.by}")
            fields["upstream_request_body"] = decision.body
        else:
            ctx.quirks.append(f"breakpoint {rule.id}: continued unchanged by {decision.by}")
        fields["quirks"] = json.dumps(ctx.quirks)
        self.holder.writer.update(ctx.id, fields)


class ResponseBreakpoints:
    def __init__(self, holder: Holder) -> None:
        self.holder = holder

    async def response(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        response = flow.response
        if (
            ctx is None
            or response is None
            or ctx.streaming
            or ctx.answered_by_proxy
            or not self.holder.rules
            or flow.websocket is not None
        ):
            return
        body = response.get_content(strict=False) or b""
        rule = first_match(
            self.holder.rules,
            "response",
            ctx.provider,
            ctx.model,
            ctx.endpoint,
            upstream_body(flow.request, ctx),
        )
        if rule is None:
            return
        decision = await self.holder.hold(ctx, "response", rule, body, response.status_code)
        if decision is None:
            return
        if decision.action == "fail":
            flow.response = error_response(decision.status, "breakpoint", decision.message)
            ctx.quirks.append(
                f"breakpoint {rule.id}: answer replaced by {decision.by} "
                f"with {decision.status} (the provider said "
                f"{response.status_code})"
            )
        elif decision.body is not None and decision.body != body:
            response.headers.pop("content-encoding", None)
            response.content = decision.body
            ctx.quirks.append(f"breakpoint {rule.id}: answer edited by {decision.by}")
        else:
            ctx.quirks.append(f"breakpoint {rule.id}: answer passed unchanged by {decision.by}")
