"""Incremental Server-Sent Events decoder: bytes split anywhere in, byte-exact events out."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent"]

_BOM = b"\xef\xbb\xbf"
# An event ends where one line ending is directly followed by another (the empty line).
# "\r(?!\n)" stops a CRLF from being read as a CR line ending plus an LF empty line.
_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")
_BLANK_LINES = re.compile(rb"[\r\n]*")
# Longest terminator match (4 bytes) plus the lookahead byte: a search that failed on a
# buffer cannot succeed earlier than this many bytes before its old end once more arrives.
_RESCAN = 4


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event: its exact bytes plus its parsed fields.

    ``raw`` ends with the event's terminating blank line and starts with any blank lines that
    came before the event, so the raws of all events (and the final ``flush()``) add up to the
    stream byte for byte.
    """

    raw: bytes
    data: str | None
    event: str | None
    id: str | None
    comment: bool


class SSEDecoder:
    """Turns a byte stream, split at any points, into complete SSEEvents.

    An event is handed out as soon as its terminating blank line arrives. Blank lines between
    events (and a UTF-8 BOM at the start of the stream) go to the front of the next event's
    ``raw``. One corner is chunking dependent: when the last byte of a chunk is a CR that ends
    an event, an LF arriving next belongs to the next event's ``raw`` (the fields are the same).
    """

    __slots__ = ("_at_start", "_buf", "_has_cr", "_resume")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._buf = bytearray()
        self._resume = 0  # where the terminator search may resume in the buffer
        self._has_cr = False  # the buffer may hold a CR, so the slower general scan is needed
        self._at_start = True  # no event handed out yet: a BOM may still open the stream

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete (often none, often several)."""
        if not chunk:
            return []
        if (
            not self._buf
            and chunk.endswith(b"\n\n")
            and chunk.find(b"\n\n") == len(chunk) - 2
            and chunk[:1] not in (b"\n", b"\xef")  # no leading blank line, no BOM
            and b"\r" not in chunk
        ):
            # The shape gateways send: exactly one whole event per network chunk.
            self._at_start = False
            return [_parse(chunk, chunk[:-2])]
        self._has_cr = self._has_cr or b"\r" in chunk
        if self._buf:
            self._buf += chunk
            events, used = self._scan(self._buf)
            del self._buf[:used]
        else:
            # The usual case: nothing pending, so scan the chunk itself without copying it.
            events, used = self._scan(chunk)
            self._buf += memoryview(chunk)[used:]
        if not self._buf:
            self._has_cr = False
        return events

    def flush(self) -> SSEEvent | None:
        """End of stream: the bytes that never got a terminating blank line, or None.

        The event's ``raw`` is exactly those bytes. Blank lines left after the last event come
        back as an event without fields, so the raws still add up to the stream.
        """
        if not self._buf:
            return None
        raw = bytes(self._buf)
        start = self._content_start(raw, 0)
        event = _parse(raw, raw[start:].rstrip(b"\r\n"))
        self._reset()
        return event

    def _scan(self, buf: bytes | bytearray) -> tuple[list[SSEEvent], int]:
        """Cut every complete event out of ``buf``; return them and how many bytes they used."""
        events: list[SSEEvent] = []
        pos, end = 0, len(buf)
        resume = self._resume
        while pos < end:
            start = self._content_start(buf, pos)
            body_end, event_end = _find_event_end(buf, max(start, resume), self._has_cr)
            if event_end < 0:
                break
            events.append(_parse(bytes(buf[pos:event_end]), buf[start:body_end]))
            self._at_start = False
            pos, resume = event_end, 0
        self._resume = max(0, end - pos - _RESCAN)
        return events, pos

    def _content_start(self, buf: bytes | bytearray, pos: int) -> int:
        """Offset of the first byte after the BOM and blank lines that precede an event."""
        if self._at_start and buf.startswith(_BOM, pos):
            pos += 3
        if pos < len(buf) and buf[pos] in b"\r\n":
            match = _BLANK_LINES.match(buf, pos)
            assert match is not None  # the pattern matches the empty string
            pos = match.end()
        return pos


def _find_event_end(buf: bytes | bytearray, start: int, has_cr: bool) -> tuple[int, int]:
    """(end of the event's last line, end of its blank line), or (-1, -1) if not there yet."""
    if not has_cr:
        found = buf.find(b"\n\n", start)
        return (found, found + 2) if found >= 0 else (-1, -1)
    match = _EVENT_END.search(buf, start)
    return (match.start(), match.end()) if match else (-1, -1)


def _parse(raw: bytes, body: bytes | bytearray) -> SSEEvent:
    """Parse an event's lines (``body``, without its final line ending) per the SSE spec."""
    text = body.decode("utf-8", "replace")
    if text.startswith("data:") and "\n" not in text and "\r" not in text:
        value = text[5:]  # the fast path: a single "data:" line, as most gateways send
        return SSEEvent(raw, value[1:] if value.startswith(" ") else value, None, None, False)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data: list[str] = []
    event: str | None = None
    event_id: str | None = None
    comment = True
    for line in text.split("\n"):
        if line.startswith(":"):
            continue
        comment = False
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:  # the spec ignores ids holding NUL
            event_id = value
    return SSEEvent(raw, "\n".join(data) if data else None, event, event_id, comment)
