"""The worker's events and the app's commands: one typed module both sides read."""

from __future__ import annotations

import json

from relayscope.recording.messages import FAILURE_CODES, encode, parse_event, parse_events


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


def test_lines_parsed_together_are_what_each_gives_alone() -> None:
    good = [
        b'{"event":"call_started","id":"a"}',
        b'{"event":"call_updated","id":"a","chunk_count":3,"state":"streaming"}',
        b'{"event":"failed","message":"Something broke."}',
        b'{"event":"call_finished","id":"a","state":"complete","status":200}',
    ]
    assert parse_events(good) == [parse_event(line) for line in good]
    assert all(parse_events(good))
    # Each kind of bad line among the good ones: it alone is None, the others still parse.
    for bad in (
        b"Relayscope listening on http://127.0.0.1:1/v1",
        b'{"event":"call_upd',  # cut
        b"",
        b"[1]",
        b"1, 2",  # two values on one line
        b'{"event":"call_started"}',  # no id
        b'{"event":"call_started","id":7}',
        b'{"event":"mystery","id":"b"}',
    ):
        lines = [*good[:2], bad, *good[2:]]
        assert parse_events(lines) == [*parse_events(good[:2]), None, *parse_events(good[2:])]
    # Bytes that are not UTF-8 are replaced, line by line, as parse_event does.
    lines = [good[0], b'{"event":"call_started","id":"b\xff"}', good[1]]
    assert parse_events(lines) == [parse_event(line) for line in lines]
    assert parse_events(lines)[1] == {"event": "call_started", "id": "b\ufffd"}
    assert parse_events([]) == []


def test_commands_are_one_line_of_json() -> None:
    line = encode({"cmd": "resume", "id": "a", "body": "é\n", "by": "the app"})
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {"cmd": "resume", "id": "a", "body": "é\n", "by": "the app"}
