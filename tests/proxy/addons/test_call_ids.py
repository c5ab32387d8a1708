"""ChosenCallIds as a unit: a client may name its call, never after one already recorded."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from mitmproxy import http

from relayscope.proxy.addons import call_ids
from relayscope.proxy.addons.call_ids import ChosenCallIds
from relayscope.proxy.addons.errors import error_response
from relayscope.proxy.addons.local_guard import refusal_of, refuse
from relayscope.routing.routes import CALL_ID_HEADER
from relayscope.store.call_store import open_database
from tests.proxy.conftest import client_flow, error_of

RECORDED = "0199f0e1d2c3-a1b2c3d4"  # the shape of ids Relayscope mints (routes.new_call_id)
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "relayscope.db"
    database = open_database(path)
    database["calls"].insert({"id": RECORDED, "started_at": "2026-12-02T10:00:00Z"})
    database.conn.close()
    return path


def chosen(call_id: str | None) -> http.HTTPFlow:
    headers = {CALL_ID_HEADER: call_id} if call_id is not None else {}
    return client_flow(body=CHAT, headers=headers)


def run(addon: ChosenCallIds, flow: http.HTTPFlow) -> http.HTTPFlow:
    asyncio.run(addon.request(flow))
    return flow


def test_no_chosen_id_passes_untouched(db: Path) -> None:
    flow = run(ChosenCallIds(db), chosen(None))
    assert flow.response is None and refusal_of(flow) is None


def test_a_new_id_passes_and_keeps_its_header(db: Path) -> None:
    flow = run(ChosenCallIds(db), chosen("019a1b2c3d4e-0000beef"))
    assert flow.response is None
    assert flow.request.headers[CALL_ID_HEADER] == "019a1b2c3d4e-0000beef"


def test_an_id_already_recorded_is_refused_with_409(db: Path) -> None:
    flow = run(ChosenCallIds(db), chosen(RECORDED))
    assert flow.response is not None and flow.response.status_code == 409
    assert refusal_of(flow) is flow.response  # the Router records the refusal
    error = error_of(flow.response)
    assert error["code"] == "call_id_taken" and error["param"] == "X-Relayscope-Call-Id"
    assert RECORDED in error["message"] and "Leave the header out" in error["message"]


def test_the_same_id_twice_before_its_row_is_committed_is_refused(db: Path) -> None:
    addon = ChosenCallIds(db)
    first = run(addon, chosen("019a1b2c3d4e-0000cafe"))
    second = run(addon, chosen("019a1b2c3d4e-0000cafe"))
    assert first.response is None
    assert second.response is not None and second.response.status_code == 409


def test_ids_remembered_are_bounded(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_ids, "RECENT_IDS", 3)
    addon = ChosenCallIds(db)
    for n in range(10):
        run(addon, chosen(f"019a1b2c3d4e-0000000{n}"))
    assert list(addon._recent) == [f"019a1b2c3d4e-0000000{n}" for n in (7, 8, 9)]
    # The oldest one is forgotten here; the database (where its row will be) answers for it.
    assert run(addon, chosen("019a1b2c3d4e-00000000")).response is None


def test_an_unreadable_database_lets_the_call_through_under_a_new_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "not-a-database.db"
    broken.write_bytes(b"this is not SQLite" * 100)
    with caplog.at_level(logging.WARNING):
        flow = run(ChosenCallIds(broken), chosen("019a1b2c3d4e-00000007"))
    assert flow.response is None
    assert CALL_ID_HEADER not in flow.request.headers  # Relayscope picks the id instead
    assert "Cannot check the chosen call id 019a1b2c3d4e-00000007" in caplog.text


def test_an_invalid_id_is_left_to_the_router(db: Path) -> None:
    addon = ChosenCallIds(db)
    flow = run(addon, chosen(RECORDED + "/../../etc"))
    assert flow.response is None  # not looked up; the Router ignores ids it would not accept
    assert not addon._recent


def test_a_flow_already_refused_is_not_looked_up(db: Path) -> None:
    addon = ChosenCallIds(db)
    flow = chosen(RECORDED)
    earlier = error_response(403, "origin_refused", "A web page may not use Relayscope.", None)
    refuse(flow, earlier)
    run(addon, flow)
    assert flow.response is earlier
