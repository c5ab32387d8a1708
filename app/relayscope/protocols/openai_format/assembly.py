"""Assembling one call's answer, from its stream or its whole body, by the API it called."""

from __future__ import annotations

from relayscope.protocols.openai_format.answer import Assembled
from relayscope.protocols.openai_format.chat import ChoicesStream, from_choices_body
from relayscope.protocols.openai_format.events import EventStream
from relayscope.protocols.openai_format.messages import MessagesStream, from_message
from relayscope.protocols.openai_format.responses import ResponsesStream, from_response
from relayscope.protocols.openai_format.values import error_of, load_json


class StreamAssembler:
    """Assembles one call's answer from its stream, one SSE event's data at a time.

    ``result()`` may be called at any point, e.g. on a stream that was cut short.
    """

    __slots__ = ("_stream",)

    def __init__(self, endpoint: str) -> None:
        self._stream: EventStream
        if endpoint == "responses":
            self._stream = ResponsesStream()
        elif endpoint == "messages":
            self._stream = MessagesStream()
        else:
            self._stream = ChoicesStream()

    @property
    def has_output(self) -> bool:
        """An event that carries output has been fed (see `holds_output`)."""
        return self._stream.output_seen

    def feed(self, data: str | None, event: str | None = None) -> None:
        """Take one SSE event's data and event name; events without data are ignored."""
        if data is not None:
            self._stream.feed(data, event)

    def result(self) -> Assembled:
        """The answer as assembled so far."""
        return self._stream.result()


def assemble_body(endpoint: str, body: bytes | None) -> Assembled:
    """Read a whole (non-stream) JSON response body; garbage gives an empty Assembled.

    ``done`` is true whenever the body is a JSON object: a whole body is a finished answer.
    """
    obj = load_json(body)
    if not isinstance(obj, dict):
        return Assembled()
    if endpoint == "responses" or obj.get("object") == "response":
        out = from_response(obj, None)
    elif endpoint == "messages" or obj.get("type") in ("message", "error"):
        out = from_message(obj)
    else:
        out = from_choices_body(obj)
        text = obj.get("text")  # an audio transcription or translation
        if "choices" not in obj and isinstance(text, str):
            out.output_text = text
    out.error = out.error or error_of(obj.get("error"))
    out.done = True
    return out
