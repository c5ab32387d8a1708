"""multipart/form-data request bodies (audio transcriptions, file uploads): their fields, read
to route and record a call like a JSON one, and a summary of each part for people.

A small parser of our own (RFC 7578): it finds the parts by their boundary in one pass over the
bytes, never decodes a file's content, and stops after `MAX_PARTS` parts, so a 25 MB audio
upload costs a few `bytes.find` calls. Part headers are read with the standard library's email
header parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import HTTP
from typing import Any, Final

from relayscope.protocols.openai_format import RequestInfo

__all__ = ["MAX_PARTS", "Part", "boundary_of", "call_form", "parse", "request_info", "summary"]

#: Parts read at most (an OpenAI form has a handful).
MAX_PARTS: Final = 256
#: A field without a filename shows its value up to this many bytes (a prompt, a model name).
MAX_VALUE_BYTES: Final = 4096
_HEADERS = BytesHeaderParser(policy=HTTP)


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a form: a field (`value` holds its text) or a file (only its size)."""

    name: str | None
    filename: str | None
    content_type: str | None
    size: int
    value: str | None  # the text of a short field without a filename, else None

    def as_dict(self) -> dict[str, Any]:
        if self.value is not None:
            return {"name": self.name, "value": self.value}
        return {
            "name": self.name,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }


def boundary_of(content_type: str | None) -> bytes | None:
    """The boundary of a `multipart/form-data` content type, else None."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 200:
        return None
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError:
        return None


def parse(body: bytes, content_type: str | None) -> list[Part] | None:
    """The parts of a form body, in order; None if it is not multipart/form-data. A body cut
    short (at the recording's size limit) gives the parts that were whole."""
    boundary = boundary_of(content_type)
    if boundary is None:
        return None
    delimiter = b"--" + boundary
    position = body.find(delimiter)
    parts: list[Part] = []
    while position >= 0 and len(parts) < MAX_PARTS:
        start = position + len(delimiter)
        if body[start : start + 2] == b"--":  # the closing delimiter
            break
        line_end = body.find(b"\r\n", start)
        end = body.find(b"\r\n" + delimiter, line_end) if line_end >= 0 else -1
        if end < 0:
            break
        parts.append(_part(body[line_end + 2 : end]))
        position = end + 2
    return parts


def _part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n"):  # no headers at all
        head, content = b"", raw[2:]
    else:
        head, _, content = raw.partition(b"\r\n\r\n")
    headers = _HEADERS.parsebytes(head + b"\r\n\r\n")
    name = headers.get_param("name", header="content-disposition")
    filename = headers.get_filename()
    content_type = headers.get("content-type")
    value: str | None = None
    if filename is None and len(content) <= MAX_VALUE_BYTES:
        try:
            value = content.decode("utf-8")
        except UnicodeDecodeError:
            value = None
    return Part(
        name=name if isinstance(name, str) else None,
        filename=filename,
        content_type=str(content_type) if content_type else None,
        size=len(content),
        value=value,
    )


def fields(parts: list[Part]) -> dict[str, str]:
    """The text fields by name (the first of each name)."""
    out: dict[str, str] = {}
    for part in parts:
        if part.name and part.value is not None:
            out.setdefault(part.name, part.value)
    return out


def request_info(body: bytes, content_type: str | None) -> RequestInfo | None:
    """Model and streaming of a form request, as `read_request` reads a JSON one."""
    parts = parse(body, content_type)
    if parts is None:
        return None
    form = fields(parts)
    model = form.get("model") or None
    return RequestInfo(
        model=model, stream=form.get("stream") == "true", include_usage=False, is_json=False
    )


def summary(body: bytes | str | None, content_type: str | None) -> list[dict[str, Any]] | None:
    """Each part as a dict: `{"name", "value"}` for a text field, `{"name", "filename",
    "content_type", "size"}` for a file. None if the body is not a form."""
    if body is None:
        return None
    raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    parts = parse(raw, content_type)
    return None if parts is None else [part.as_dict() for part in parts]


def call_form(row: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The summary of a recorded call's request body, if the client sent a form."""
    return summary(row.get("request_body"), _content_type(row.get("request_headers")))


def _content_type(headers: object) -> str | None:
    try:
        pairs = json.loads(headers) if isinstance(headers, str) else None
    except (ValueError, RecursionError):
        return None
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == "content-type":
            return str(pair[1])
    return None
