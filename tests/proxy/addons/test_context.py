"""CallContext: what Relayscope knows about one flow, found again from any hook."""

from __future__ import annotations

import time

from relayscope.proxy.addons.context import KEY, CallContext, context_of, utc_now_iso
from relayscope.routing.routes import valid_call_id
from tests.proxy.conftest import client_flow


def test_each_call_gets_its_own_valid_sortable_id() -> None:
    first, second = CallContext(), CallContext()
    assert valid_call_id(first.id) and valid_call_id(second.id)
    assert first.id != second.id
    assert first.id[:12] <= second.id[:12]  # milliseconds since the epoch, in hex


def test_times_are_measured_from_the_start_of_the_call() -> None:
    ctx = CallContext()
    assert ctx.ms_since_start(ctx.t0 + 1.5) == 1500.0
    assert 0.0 <= ctx.ms_since_start() < 1000.0
    assert ctx.started_at.endswith("Z") and ctx.started_at[:4] == time.strftime("%Y")
    assert len(utc_now_iso()) == len("2026-12-02T06:00:00.000Z")


def test_a_flow_carries_its_context_and_nothing_else_passes_for_one() -> None:
    flow = client_flow()
    assert context_of(flow) is None
    flow.metadata[KEY] = {"id": "not a context"}  # e.g. a flow loaded from a file
    assert context_of(flow) is None
    ctx = flow.metadata[KEY] = CallContext()
    assert context_of(flow) is ctx
