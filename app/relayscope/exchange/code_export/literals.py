"""Recorded values written as inert code: one shell word, or one Python literal, that is
exactly the value and can neither end early nor hide what follows."""

from __future__ import annotations

import shlex
from typing import Any


def shell_word(value: str) -> str:
    """One shell word that is exactly `value` and prints as what it is.

    Printable text goes in POSIX single quotes (nothing inside is expanded: no `$(…)`, no
    backticks, and a `'` is closed, escaped and reopened). Text with a control character
    (a newline, ESC, U+2028, a bidi control) uses `$'…'` quoting with `\\xHH` escapes for
    its UTF-8 bytes, so pasting or printing the command never sends those characters to a
    terminal. A NUL cannot be part of a command-line argument and is left out.
    """
    value = value.replace("\0", "")
    if all(char.isprintable() for char in value):
        return shlex.quote(value)
    out = []
    for char in value:
        if char in "\\'":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
    return "$'" + "".join(out) + "'"


_FLOAT_WORDS = {"nan": 'float("nan")', "inf": 'float("inf")', "-inf": 'float("-inf")'}


_PYTHON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _python_escape(char: str) -> str:
    if char in _PYTHON_ESCAPES:
        return _PYTHON_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def string_literal(text: str) -> str:
    """A double-quoted Python string literal holding only printable characters.

    Every character a terminal, an editor or the tokenizer could take for something else
    (newlines, U+2028, NUL, ESC, bidi controls, lone surrogates) is written as an escape, so a
    recorded value can neither end the literal nor hide or reorder the code around it.
    """
    return (
        '"'
        + "".join(
            char if char.isprintable() and char not in '"\\' else _python_escape(char)
            for char in text
        )
        + '"'
    )


def literal(value: Any, indent: int = 0) -> str:
    """A Python literal that reads like the JSON it came from (double quotes, 4 spaces)."""
    if isinstance(value, str):
        return string_literal(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _FLOAT_WORDS.get(repr(value), repr(value))
    inner = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{inner}{string_literal(str(k))}: {literal(v, indent + 4)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = [f"{inner}{literal(v, indent + 4)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    return string_literal(str(value))
