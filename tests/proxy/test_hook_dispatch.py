"""The worker's cached hook dispatch calls the same handlers, in the same order, with the same
error handling as mitmproxy's own `trigger_event`, and sees addons added after it first ran."""

from __future__ import annotations

import logging
import types
from typing import Any

import pytest
from mitmproxy import exceptions, http, master, options
from mitmproxy.proxy.layers.http import HttpRequestHook, HttpResponseHook
from mitmproxy.test import tflow

from relayscope.proxy.hook_dispatch import cache_dispatch, hook_args

pytestmark = pytest.mark.anyio


class Recording:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name = name
        self.calls = calls

    def request(self, flow: http.HTTPFlow) -> None:
        self.calls.append(f"{self.name}.request {flow.request.path}")


class AsyncRecording(Recording):
    async def request(self, flow: http.HTTPFlow) -> None:  # type: ignore[override]
        self.calls.append(f"{self.name}.async-request {flow.request.path}")


class Failing(Recording):
    def request(self, flow: http.HTTPFlow) -> None:
        self.calls.append(f"{self.name}.raises")
        raise ValueError("addon bug")


class Halting(Recording):
    def response(self, flow: http.HTTPFlow) -> None:
        self.calls.append(f"{self.name}.halts")
        raise exceptions.AddonHalt


class Responding(Recording):
    def response(self, flow: http.HTTPFlow) -> None:
        self.calls.append(f"{self.name}.response")


class WithModule:
    """An addon that imported a module under a hook's name (mitmproxy skips it)."""

    request = types.ModuleType("request")


class Parent(Recording):
    def __init__(self, name: str, calls: list[str], *children: object) -> None:
        super().__init__(name, calls)
        self.addons = list(children)


def tree(calls: list[str]) -> list[object]:
    return [
        Recording("first", calls),
        Parent(
            "parent",
            calls,
            AsyncRecording("child-async", calls),
            WithModule(),
            Failing("child-failing", calls),
            Recording("child-after-failure", calls),  # skipped: same top-level addon
            Parent("grandparent", calls, Recording("grandchild", calls)),
        ),
        Recording("after-parent", calls),  # runs: the failure stayed in its own addon
        Halting("halting", calls),
        Responding("never-reached", calls),
    ]


async def dispatch(cached: bool, caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    calls: list[str] = []
    m = master.Master(options.Options())
    m.addons.add(*tree(calls))
    if cached:
        cache_dispatch(m.addons)
    flow = tflow.tflow(resp=True)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        for _ in range(2):  # the second pass runs from the cached table
            await m.addons.handle_lifecycle(HttpRequestHook(flow))
            await m.addons.handle_lifecycle(HttpResponseHook(flow))
        m.addons.add(Recording("added-later", calls))
        await m.addons.handle_lifecycle(HttpRequestHook(flow))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    return calls, errors


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_cached_dispatch_calls_what_mitmproxy_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected = await dispatch(False, caplog)
    got = await dispatch(True, caplog)
    assert got == expected
    calls, errors = got
    # What the comparison covers: children after parents, async handlers awaited, a failure
    # logged and confined to its addon, AddonHalt ending the hook, and an added addon seen.
    assert calls[:8] == [
        "first.request /path",
        "parent.request /path",
        "child-async.async-request /path",
        "child-failing.raises",
        "after-parent.request /path",
        "halting.request /path",
        "never-reached.request /path",
        "halting.halts",
    ]
    assert "never-reached.response" not in calls
    assert calls[-1] == "added-later.request /path"
    assert errors == ["Addon error: addon bug"] * 3


def test_hook_args_are_mitmproxys() -> None:
    flow = tflow.tflow(resp=True)
    for hook in (HttpRequestHook(flow), HttpResponseHook(flow)):
        assert hook_args(hook) == hook.args()


class Counting:
    def __init__(self) -> None:
        self.lookups = 0

    def __getattr__(self, name: str) -> Any:
        self.lookups += 1
        raise AttributeError(name)


async def test_handlers_are_looked_up_once_per_hook() -> None:
    """The point of the cache: a hook's handlers are found once, not at every flow."""
    counting = Counting()
    m = master.Master(options.Options())
    m.addons.add(counting)
    cache_dispatch(m.addons)
    flow = tflow.tflow(resp=True)
    await m.addons.trigger_event(HttpRequestHook(flow))
    first = counting.lookups
    assert first > 0
    for _ in range(5):
        await m.addons.trigger_event(HttpRequestHook(flow))
    assert counting.lookups == first
