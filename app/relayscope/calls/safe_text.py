"""Recorded text made safe to print: control characters become visible escapes like `\\x1b`.

A recorded model name, header or answer is chosen by a client or a provider. Printed raw, an
ESC starts a terminal sequence (OSC sets the window title or a hyperlink, CSI clears the
screen), a carriage return or backspace overwrites what was printed before, and bidi controls
reorder it. `visible()` is the one function the CLI (and the proxy's log lines) pass such text
through; `visible_json()` does the same for JSON output without changing what it means.
"""

from __future__ import annotations

import re

__all__ = ["escape_char", "visible", "visible_json"]

# C0 controls (minus \t and \n, handled apart), DEL, C1 controls (U+0085 NEL and U+009B CSI
# among them), the Unicode line and paragraph separators, and the bidi controls that make text
# read in an order other than the one it has (CVE-2021-42574, "Trojan Source").
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
_UNSAFE_MULTILINE = re.compile(f"\r\n|[{_UNSAFE}]")
_UNSAFE_ONE_LINE = re.compile(f"[\t\n{_UNSAFE}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_char(char: str) -> str:
    """`\\n`, `\\r`, `\\t`, else `\\xHH` or `\\uHHHH`: how an unsafe character is shown."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _replace(match: re.Match[str]) -> str:
    text = match.group(0)
    return "\n" if text == "\r\n" else escape_char(text)


def visible(text: object, *, multiline: bool = False) -> str:
    """`text` with every terminal control character shown as an escape.

    With `multiline`, newlines and tabs stay (answer text has lines) and a CRLF reads as one
    newline; without it (a table cell, a header value) they are escaped too, so one recorded
    value is always one line.
    """
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8", "replace")
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE_ONE_LINE
    return pattern.sub(_replace, str(text))


# json.dumps(ensure_ascii=False) escapes C0 controls but keeps C1 controls, separators and
# bidi controls raw. They can only stand inside JSON strings, where \uXXXX means the same.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def visible_json(text: str) -> str:
    """JSON text (from json.dumps) with no raw control character left; the same JSON value."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
