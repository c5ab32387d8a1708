"""Token counts in chat completions terms, read from each API's usage object."""

from __future__ import annotations

from dataclasses import dataclass

from relayscope.protocols.openai_format.values import first_int, get_key


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts, in chat completions terms (a Responses "input" is a "prompt")."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    #: Input tokens written to the prompt cache (Anthropic's cache_creation_input_tokens).
    cache_write_tokens: int | None = None


def usage_from(obj: object) -> Usage | None:
    """Read a chat/completions or a Responses usage object; None if it holds no counts."""
    if not isinstance(obj, dict):
        return None
    usage = Usage(
        prompt_tokens=first_int(obj.get("prompt_tokens"), obj.get("input_tokens")),
        completion_tokens=first_int(obj.get("completion_tokens"), obj.get("output_tokens")),
        total_tokens=first_int(obj.get("total_tokens")),
        cached_tokens=first_int(
            get_key(obj.get("prompt_tokens_details"), "cached_tokens"),
            get_key(obj.get("input_tokens_details"), "cached_tokens"),
        ),
        reasoning_tokens=first_int(
            get_key(obj.get("completion_tokens_details"), "reasoning_tokens"),
            get_key(obj.get("output_tokens_details"), "reasoning_tokens"),
        ),
    )
    return None if usage == _NO_USAGE else usage


_NO_USAGE = Usage()


def anthropic_usage(obj: object) -> Usage | None:
    """An Anthropic usage object in chat terms. Its input_tokens leave out cache reads and
    writes; our prompt_tokens count every input token (as chat's do), so both are added:
    prompt = input + cache read + cache write, cached = cache read, cache_write = writes."""
    if not isinstance(obj, dict):
        return None
    raw_input = first_int(obj.get("input_tokens"))
    read = first_int(obj.get("cache_read_input_tokens"))
    write = first_int(obj.get("cache_creation_input_tokens"))
    output = first_int(obj.get("output_tokens"))
    if raw_input is None and output is None and read is None and write is None:
        return None
    prompt = None
    if raw_input is not None or read is not None or write is not None:
        prompt = (raw_input or 0) + (read or 0) + (write or 0)
    total = None if prompt is None and output is None else (prompt or 0) + (output or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=output,
        total_tokens=total,
        cached_tokens=read,
        cache_write_tokens=write,
    )
