"""Reading a request: which API its path calls, and its model and streaming options."""

from __future__ import annotations

from dataclasses import dataclass

from relayscope.protocols.openai_format.values import load_json

# Path segments that name an endpoint, wherever the provider's base path puts them.
_ENDPOINT_SEGMENTS = {
    "responses": "responses",
    "completions": "completions",
    "embeddings": "embeddings",
    "models": "models",
}


def endpoint_of(path: str) -> str:
    """Name the API a request path calls: "chat.completions", "responses", "messages"
    (Anthropic), "messages.count_tokens", ... or "other".

    The endpoint is found by its segments, so "/v1/chat/completions", "/chat/completions" and
    "/openai/v1/chat/completions?x=1" all give "chat.completions". "messages" counts only
    right after "v1" or at the start (an Assistants thread's "/v1/threads/ID/messages" is not
    the Messages API).
    """
    parts = path.partition("?")[0].partition("#")[0].split("/")
    for i, part in enumerate(parts):
        if part == "messages" and (i <= 1 or parts[i - 1] == "v1"):
            rest = [p for p in parts[i + 1 :] if p]
            if not rest:
                return "messages"
            return "messages.count_tokens" if rest == ["count_tokens"] else "other"
        if part == "chat":
            if i + 1 < len(parts) and parts[i + 1] == "completions":
                return "chat.completions"
        elif part in _ENDPOINT_SEGMENTS:
            return _ENDPOINT_SEGMENTS[part]
    return "other"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the proxy needs to know about a request body."""

    model: str | None
    stream: bool
    include_usage: bool  # stream_options.include_usage is true
    is_json: bool  # the body parsed as a JSON object


def read_request(body: bytes | None) -> RequestInfo:
    """Read model and streaming options from a request body; never raises."""
    obj = load_json(body)
    if not isinstance(obj, dict):
        return RequestInfo(model=None, stream=False, include_usage=False, is_json=False)
    model = obj.get("model")
    options = obj.get("stream_options")
    return RequestInfo(
        model=model if isinstance(model, str) else None,
        stream=obj.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        is_json=True,
    )
