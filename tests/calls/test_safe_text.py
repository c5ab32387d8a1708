"""Tests for relayscope.calls.safe_text: recorded text made safe to print."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from relayscope.calls.safe_text import visible, visible_json

# What a terminal acts on: C0 controls, DEL, C1 controls, separators and bidi controls.
ACTIVE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def test_terminal_sequences_are_shown_as_escapes() -> None:
    assert visible("a\x1b]0;title\x07b") == "a\\x1b]0;title\\x07b"
    assert visible("\x9b2J\x85\x00\x08\x7f") == "\\x9b2J\\x85\\x00\\x08\\x7f"
    assert visible("abc\u202edef\u2028") == "abc\\u202edef\\u2028"
    assert visible("one\r\ntwo\tthree") == "one\\r\\ntwo\\tthree"


def test_multiline_text_keeps_its_lines_but_no_overwrite() -> None:
    assert visible("one\r\ntwo\n\tthree\rX", multiline=True) == "one\ntwo\n\tthree\\rX"


def test_plain_text_and_none() -> None:
    assert visible("Grüße, 日本 😀 $(id) `x`") == "Grüße, 日本 😀 $(id) `x`"
    assert visible(None) == ""
    assert visible(b"\x1b[2J") == "\\x1b[2J"


@given(st.text())
def test_nothing_active_is_left(text: str) -> None:
    assert not ACTIVE.search(visible(text))
    assert not re.search(
        "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028-\u202e]", visible(text, multiline=True)
    )


@given(
    st.recursive(
        st.text() | st.integers() | st.none(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_json_stays_the_same_value(value: object) -> None:
    text = visible_json(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]", text)
