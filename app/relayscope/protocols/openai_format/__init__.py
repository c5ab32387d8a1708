"""Readers and stream assembly for the APIs we record: OpenAI chat completions, responses,
completions, and Anthropic Messages.

``request`` reads a request (its endpoint, model and streaming options), ``usage`` token
counts in chat terms, ``chat``, ``responses`` and ``messages`` each API's stream events and
bodies, ``events`` what every stream shares and which events carry output, ``assembly`` picks
the reader for an endpoint; ``answer`` is the answer they all give, ``values`` small readers.
"""

from __future__ import annotations

from relayscope.protocols.openai_format.answer import Assembled
from relayscope.protocols.openai_format.assembly import StreamAssembler, assemble_body
from relayscope.protocols.openai_format.events import holds_output
from relayscope.protocols.openai_format.request import RequestInfo, endpoint_of, read_request
from relayscope.protocols.openai_format.usage import Usage, anthropic_usage, usage_from

__all__ = [
    "Assembled",
    "RequestInfo",
    "StreamAssembler",
    "Usage",
    "anthropic_usage",
    "assemble_body",
    "endpoint_of",
    "holds_output",
    "read_request",
    "usage_from",
]
