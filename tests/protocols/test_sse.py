"""Tests for relayscope.protocols.sse: events from bytes split anywhere, and raws that add up to the body."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayscope.protocols.sse import SSEDecoder, SSEEvent

Fields = tuple[str | None, str | None, str | None, bool]

# Seed 003 (New API), as a client receives it.
SEED_003_STREAM = (
    b'data: {"id":"chatcmpl-xxx","object":"chat.completion.chunk","created":1677652288,'
    b'"model":"gpt-4","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}\n'
    b"\n"
    b'data: {"id":"chatcmpl-xxx","object":"chat.completion.chunk","created":1677652288,'
    b'"model":"gpt-4","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n'
    b"\n"
    b'data: {"id":"chatcmpl-xxx","object":"chat.completion.chunk","created":1677652288,'
    b'"model":"gpt-4","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}]}\n'
    b"\n"
    b'data: {"id":"chatcmpl-xxx","object":"chat.completion.chunk","created":1677652288,'
    b'"model":"gpt-4","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n'
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)

RESPONSES_STREAM = (
    b"event: response.created\n"
    b'data: {"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}\n'
    b"\n"
    b"event: response.output_text.delta\n"
    b'data: {"type":"response.output_text.delta","output_index":0,'
    b'"delta":"\xe4\xbd\xa0\xe5\xa5\xbd"}\n'
    b"\n"
    b"event: response.completed\n"
    b'data: {"type":"response.completed","response":{"id":"resp_1","status":"completed"}}\n'
    b"\n"
)

MIXED_STREAM = (
    b": keep-alive\n\n"
    b"id: 7\nevent: update\ndata: first\ndata:  second\n\n"
    b"\n\n"
    b"data: caf\xc3\xa9 \xf0\x9f\x98\x80\r\n\r\n"
    b"data: cr\r\r"
    b"retry: 10\n: note\ndata: last\n\n"
)
MIXED_FIELDS: list[Fields] = [
    (None, None, None, True),
    ("first\n second", "update", "7", False),
    ("café 😀", None, None, False),
    ("cr", None, None, False),
    ("last", None, None, False),
]


def decode(chunks: Iterable[bytes]) -> tuple[list[SSEEvent], SSEEvent | None]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events, decoder.flush()


def joined(events: list[SSEEvent], last: SSEEvent | None) -> bytes:
    return b"".join(event.raw for event in events) + (last.raw if last else b"")


def fields(event: SSEEvent) -> Fields:
    return (event.data, event.event, event.id, event.comment)


def is_blank(event: SSEEvent) -> bool:
    """Only blank lines (and maybe the BOM): what may be left for flush() after the last event."""
    return event.raw.removeprefix(b"\xef\xbb\xbf").strip(b"\r\n") == b""


def split_at(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in pairwise(bounds)]


# --- what gateways send -------------------------------------------------------------------


def test_seed_chat_stream_gives_one_event_per_chunk_with_exact_raws() -> None:
    events, last = decode([SEED_003_STREAM])

    assert last is None
    assert len(events) == 5
    assert events[0].raw == SEED_003_STREAM.split(b"\n\n")[0] + b"\n\n"
    assert events[1].data is not None and '"content":"Hello"' in events[1].data
    assert events[-1].data == "[DONE]"
    assert all(event.event is None and not event.comment for event in events)
    assert joined(events, last) == SEED_003_STREAM


def test_responses_events_carry_their_event_names() -> None:
    events, last = decode([RESPONSES_STREAM])

    assert last is None
    assert [event.event for event in events] == [
        "response.created",
        "response.output_text.delta",
        "response.completed",
    ]
    assert events[1].data is not None and "你好" in events[1].data
    assert joined(events, last) == RESPONSES_STREAM


def test_keep_alive_comment_is_an_event_of_its_own() -> None:
    events, _ = decode([b": ping\n\n: ping again\n:\n\ndata: x\n\n"])

    assert [fields(event) for event in events] == [
        (None, None, None, True),
        (None, None, None, True),
        ("x", None, None, False),
    ]


def test_multi_line_data_joins_with_newlines() -> None:
    events, _ = decode([b'data: {\ndata:   "a": 1\ndata:\ndata: }\n\n'])

    assert events[0].data == '{\n  "a": 1\n\n}'


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"data:x", ("x", None, None, False)),
        (b"data:  x", (" x", None, None, False)),
        (b"data", ("", None, None, False)),
        (b"data:", ("", None, None, False)),
        (b"event:name", (None, "name", None, False)),
        (b"id: 42", (None, None, "42", False)),
        (b"id: a\x00b", (None, None, None, False)),
        (b"retry: 3000", (None, None, None, False)),
        (b"unknown: field", (None, None, None, False)),
        (b"DATA: case matters", (None, None, None, False)),
    ],
)
def test_field_lines_follow_the_spec(line: bytes, expected: Fields) -> None:
    events, _ = decode([line + b"\n\n"])

    assert [fields(event) for event in events] == [expected]


def test_last_event_and_id_lines_win() -> None:
    events, _ = decode([b"event: a\nid: 1\nevent: b\nid: 2\ndata: x\n\n"])

    assert fields(events[0]) == ("x", "b", "2", False)


def test_comment_with_data_is_not_a_keep_alive() -> None:
    events, _ = decode([b": note\ndata: x\n\n"])

    assert fields(events[0]) == ("x", None, None, False)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_style(newline: bytes) -> None:
    body = b"".join(
        line + newline for line in [b"event: e", b"data: 1", b"data: 2", b"", b"data: 3", b""]
    )

    events, last = decode([body])

    assert [fields(event) for event in events] == [
        ("1\n2", "e", None, False),
        ("3", None, None, False),
    ]
    assert last is None
    assert joined(events, last) == body


def test_crlf_split_between_cr_and_lf_is_one_line_ending() -> None:
    events, last = decode([b"data: a\r", b"\ndata: b\r\n\r", b"\n", b"data: c\r\n\r\n"])

    assert [event.data for event in events] == ["a\nb", "c"]
    assert last is None


def test_cr_ending_an_event_at_a_chunk_end_hands_it_out_at_once() -> None:
    decoder = SSEDecoder()

    first = decoder.feed(b"data: a\r\r")
    second = decoder.feed(b"\ndata: b\r\r")

    assert [event.raw for event in first] == [b"data: a\r\r"]
    assert [event.raw for event in second] == [b"\ndata: b\r\r"]
    assert [event.data for event in first + second] == ["a", "b"]
    assert decoder.flush() is None


def test_blank_lines_between_events_go_to_the_next_event() -> None:
    events, last = decode([b"\n\n\ndata: a\n\n\r\n\n\rdata: b\n\n"])

    assert [event.raw for event in events] == [b"\n\n\ndata: a\n\n", b"\r\n\n\rdata: b\n\n"]
    assert last is None


def test_leading_bom_is_skipped_but_kept_in_raw() -> None:
    body = b"\xef\xbb\xbfdata: a\n\ndata: b\n\n"

    events, last = decode([body[:1], body[1:2], body[2:]])

    assert [event.data for event in events] == ["a", "b"]
    assert events[0].raw == b"\xef\xbb\xbfdata: a\n\n"
    assert joined(events, last) == body


def test_bom_after_the_first_event_is_data() -> None:
    events, _ = decode([b"data: a\n\n\xef\xbb\xbfdata: b\n\n"])

    assert [fields(event) for event in events][1] == (None, None, None, False)


def test_invalid_utf8_is_replaced_in_fields_and_kept_in_raw() -> None:
    body = b"data: \xff\xe4\xbd\n\n"

    events, _ = decode([body])

    assert events[0].data == "\ufffd\ufffd"
    assert events[0].raw == body


def test_multi_byte_character_split_across_chunks() -> None:
    body = "data: 你好😀\n\n".encode()

    for cut in range(len(body) + 1):
        events, _ = decode([body[:cut], body[cut:]])
        assert [event.data for event in events] == ["你好😀"]


# --- flush ----------------------------------------------------------------------------------


def test_flush_returns_an_unterminated_event_exactly() -> None:
    decoder = SSEDecoder()

    events = decoder.feed(b'data: a\n\nevent: cut\ndata: {"partial\n')
    last = decoder.flush()

    assert [event.data for event in events] == ["a"]
    assert last == SSEEvent(b'event: cut\ndata: {"partial\n', '{"partial', "cut", None, False)
    assert decoder.flush() is None


def test_flush_of_a_half_line_and_of_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.flush() is None

    decoder.feed(b"data: [DO")

    assert decoder.flush() == SSEEvent(b"data: [DO", "[DO", None, None, False)


def test_flush_of_trailing_blank_lines_keeps_them_as_a_fieldless_event() -> None:
    events, last = decode([b"data: a\n\n\n"])

    assert [event.raw for event in events] == [b"data: a\n\n"]
    assert last == SSEEvent(b"\n", None, None, None, False)


def test_decoder_starts_over_after_flush() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\ndata: cut")
    decoder.flush()

    events = decoder.feed(b"\xef\xbb\xbfdata: b\n\n")

    assert [event.data for event in events] == ["b"]


def test_empty_chunks_change_nothing() -> None:
    events, last = decode([b"", b"data: a\n", b"", b"\n", b""])

    assert [event.data for event in events] == ["a"]
    assert last is None


# --- any split ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [SEED_003_STREAM, RESPONSES_STREAM, MIXED_STREAM])
def test_every_single_split_point_gives_the_same_events(body: bytes) -> None:
    whole, _ = decode([body])

    for cut in range(len(body) + 1):
        events, last = decode([body[:cut], body[cut:]])
        assert joined(events, last) == body
        assert [fields(e) for e in events if not is_blank(e)] == [fields(e) for e in whole]


def test_mixed_stream_fields() -> None:
    events, last = decode([MIXED_STREAM])

    assert [fields(event) for event in events] == MIXED_FIELDS
    assert last is None


def test_every_pair_of_split_points_gives_the_same_events() -> None:
    body = b": hi\r\n\r\n\ndata: a\r\ndata: \xc3\xa9\r\rid: 1\n\ndata: z"

    whole, whole_last = decode([body])
    assert [fields(event) for event in whole] == [
        (None, None, None, True),
        ("a\né", None, None, False),
        (None, None, "1", False),
    ]
    assert whole_last is not None and whole_last.data == "z"
    for first in range(len(body) + 1):
        for second in range(first, len(body) + 1):
            events, last = decode(split_at(body, [first, second]))
            assert joined(events, last) == body
            assert [fields(e) for e in events] == [fields(e) for e in whole]
            assert last is not None and fields(last) == fields(whole_last)


def test_byte_at_a_time_matches_whole() -> None:
    body = SEED_003_STREAM + MIXED_STREAM

    events, last = decode(body[i : i + 1] for i in range(len(body)))

    assert joined(events, last) == body
    assert [fields(event) for event in events] == [fields(e) for e in decode([body])[0]]


def test_one_large_event_in_many_small_chunks() -> None:
    body = b"data: " + b"x" * 200_000 + b"\r\n\r\n"

    events, last = decode(body[i : i + 1000] for i in range(0, len(body), 1000))

    assert len(events) == 1 and events[0].data == "x" * 200_000 and last is None


# --- properties -----------------------------------------------------------------------------

_VALUE = st.text(st.characters(exclude_characters="\r\n\x00", exclude_categories=("Cs",)))
_NEWLINE = st.sampled_from(["\n", "\r\n", "\r"])


@dataclass(frozen=True)
class _Line:
    name: str  # "data", "event", "id", "retry", "x-other" or ":" for a comment
    value: str
    spaced: bool  # a space after the colon

    def render(self) -> str:
        if self.name == ":":
            return ":" + self.value
        return self.name + (": " if self.spaced else ":") + self.value

    def parsed(self) -> str:
        return self.value if self.spaced or not self.value.startswith(" ") else self.value[1:]


_LINE = st.builds(
    _Line,
    st.sampled_from(["data", "data", "event", "id", "retry", "x-other", ":"]),
    _VALUE,
    st.booleans(),
)


def _expected(lines: list[_Line]) -> Fields:
    data = [line.parsed() for line in lines if line.name == "data"]
    events = [line.parsed() for line in lines if line.name == "event"]
    ids = [line.parsed() for line in lines if line.name == "id"]
    return (
        "\n".join(data) if data else None,
        events[-1] if events else None,
        ids[-1] if ids else None,
        all(line.name == ":" for line in lines),
    )


@st.composite
def _streams(draw: st.DrawFn) -> tuple[bytes, list[Fields], Fields | None]:
    """A stream, the fields of its events, and the fields flush() should give (or None)."""
    text = "\ufeff" if draw(st.booleans()) else ""
    expected: list[Fields] = []
    for _ in range(draw(st.integers(0, 5))):
        text += "".join(draw(st.lists(_NEWLINE, max_size=2)))  # blank lines before the event
        lines = draw(st.lists(_LINE, min_size=1, max_size=4))
        newline = draw(_NEWLINE)
        text += "".join(line.render() + newline for line in lines) + newline
        expected.append(_expected(lines))
    tail = draw(st.lists(_LINE, max_size=3))
    newline = draw(_NEWLINE)
    text += "".join(line.render() + newline for line in tail)
    if tail and draw(st.booleans()):
        text = text[: -len(newline)]
    return text.encode(), expected, _expected(tail) if tail else None


@settings(max_examples=200, deadline=None)
@given(stream=_streams(), data=st.data())
def test_random_streams_decode_the_same_under_any_split(
    stream: tuple[bytes, list[Fields], Fields | None], data: st.DataObject
) -> None:
    body, expected, expected_last = stream
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=8))

    events, last = decode(split_at(body, cuts))

    assert joined(events, last) == body
    assert [fields(event) for event in events if not is_blank(event)] == expected
    if expected_last is None:
        assert last is None or is_blank(last)
    else:
        assert last is not None and fields(last) == expected_last
    if b"\r" not in body:
        whole, _ = decode([body])
        assert [event.raw for event in events] == [event.raw for event in whole]


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), data=st.data())
def test_garbage_bytes_never_break_the_invariant(body: bytes, data: st.DataObject) -> None:
    noisy = body.replace(b"x", b"\n").replace(b"y", b"\r").replace(b"z", b"data: ")
    cuts = data.draw(st.lists(st.integers(0, len(noisy)), max_size=8))

    events, last = decode(split_at(noisy, cuts))
    whole, whole_last = decode([noisy])

    assert joined(events, last) == noisy
    assert [fields(e) for e in events if not is_blank(e)] == [fields(e) for e in whole]
    if whole_last is not None and not is_blank(whole_last):
        assert last is not None and fields(last) == fields(whole_last)
