"""The worker's events and the app's commands: one typed module both sides read."""

from __future__ import annotations

import json

from relayscope.recording.messages import FAILURE_CODES, encode, parse_event


def test_events_are_parsed_and_noise_is_none() -> None:
    assert parse_event(b'{"event":"call_started","id":"a"}\n') == {
        "event": "call_started",
        "id": "a",
    }
    assert parse_event("Relayscope listening on http://127.0.0.1:1/v1") is None
    assert parse_event(b"{not json}") is None
    assert parse_event(b"[1]") is None
    assert parse_event(b'{"event":"mystery"}') is None


def test_an_event_missing_a_required_field_is_none() -> None:
    assert parse_event(b'{"event":"call_started"}') is None
    assert parse_event(b'{"event":"listening","url":"u","host":"h","port":"80"}') is None
    assert parse_event(b'{"event":"breakpoints_set","count":true}') is None
    assert parse_event(b'{"event":"record_error","message":null}') == {
        "event": "record_error",
        "message": None,
    }


def test_a_failure_without_a_known_code_is_other() -> None:
    event = parse_event(b'{"event":"failed","message":"Something broke."}')
    assert event == {"event": "failed", "code": "other", "message": "Something broke."}
    assert "port_in_use" in FAILURE_CODES


def test_commands_are_one_line_of_json() -> None:
    line = encode({"cmd": "resume", "id": "a", "body": "é\n", "by": "the app"})
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {"cmd": "resume", "id": "a", "body": "é\n", "by": "the app"}
