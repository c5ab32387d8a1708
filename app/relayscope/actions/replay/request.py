"""Building a request to send: from a recorded call (a replay) or from a body of one's own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from relayscope.calls.record import CallRecord
from relayscope.protocols.openai_format import endpoint_of, read_request
from relayscope.routing import routes as routing

# Hop-by-hop headers and those httpx computes for the new request itself. Accept-Encoding
# goes too: the client may have offered encodings this process cannot decode.
_DROPPED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "accept-encoding",
        "proxy-connection",
    }
)


class ReplayError(Exception):
    """A call cannot be replayed as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """One request to send through the proxy, with the id it will be recorded under.

    ``headers`` are the client's own (no secrets, none of Relayscope's); ``wire_headers()``
    adds the ``X-Relayscope-*`` headers that tag the call for the proxy.
    """

    method: str
    path: str  # as a client sends it to the proxy: "/v1/chat/completions"
    headers: tuple[tuple[str, str], ...]
    body: bytes
    stream: bool
    call_id: str = field(default_factory=routing.new_call_id)
    replay_of: str | None = None
    provider: str | None = None  # None: the proxy routes by model, as for any call
    group_id: str | None = None

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.path)

    def json_body(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def wire_headers(self) -> list[tuple[str, str]]:
        headers = list(self.headers)
        headers.append(("X-Relayscope-Call-Id", self.call_id))
        if self.replay_of:
            headers.append(("X-Relayscope-Replay-Of", self.replay_of))
        if self.provider:
            headers.append(("X-Relayscope-Provider", self.provider))
        if self.group_id:
            headers.append(("X-Relayscope-Group", self.group_id))
        return headers

    def renewed(self) -> ReplayRequest:
        """The same request under a new call id (a resend is a call of its own)."""
        return replace(self, call_id=routing.new_call_id())

    def url(self, base_url: str) -> str:
        """Where to send it: ``base_url`` is the proxy's ``…/v1`` URL."""
        parts = urlsplit(base_url)
        prefix = parts.path.rstrip("/").removesuffix("/v1")
        return f"{parts.scheme}://{parts.netloc}{prefix}{self.path}"


def new_request(
    body: bytes | Mapping[str, Any],
    *,
    path: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    replay_of: str | None = None,
    group_id: str | None = None,
) -> ReplayRequest:
    """A POST of ``body`` (bytes kept as they are, unless ``model`` replaces the model).

    ``path`` defaults to the endpoint the body is for: ``messages`` → chat completions (or
    Anthropic Messages, for a body with a top-level ``system``, ``thinking`` or Anthropic
    content blocks), ``input`` → responses, ``prompt`` → completions.
    """
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    if model is not None:
        raw = _with_model(raw, model)
    path = path or _path_for(raw)
    kept = _extra_headers(headers)
    if raw and not any(k.lower() == "content-type" for k, _ in kept):
        kept.append(("Content-Type", "application/json"))
    return ReplayRequest(
        method="POST",
        path=path,
        headers=tuple(kept),
        body=raw,
        stream=read_request(raw).stream,
        replay_of=replay_of,
        provider=provider,
        group_id=group_id,
    )


def replay_request(
    call: CallRecord,
    *,
    provider: str | None = None,
    model: str | None = None,
    body: bytes | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> ReplayRequest:
    """The request that replays a recorded call: same body, endpoint and streaming mode.

    ``provider`` routes it to a provider by name; ``model`` replaces the body's model;
    ``body`` replaces the whole body (an edited one). The client's headers are kept except
    secrets (the proxy injects the provider's key), hop-by-hop ones and Relayscope's own;
    without ``provider`` the original's ``X-Relayscope-Provider`` header routes it again.
    ``headers`` are added as given (the proxy's access token, or an API key for a provider
    that has none configured).
    """
    if body is None:
        if int(call.get("truncated") or 0) & 1:
            raise ReplayError(
                f"Call {call['id']}'s request was recorded truncated (above max_body_bytes), "
                "so it cannot be sent as it was; edit the body or raise max_body_bytes."
            )
        body = _bytes(call.get("request_body"))
    method, path = str(call.get("method") or "POST"), str(call.get("path") or "")
    if call.get("transport") == "websocket":
        # Codex's socket sends the request as a `response.create` message: replay it as the
        # equivalent HTTP stream, which every provider (and the demo) speaks.
        method, body = "POST", _from_websocket_message(body)
    if model is not None:
        body = _with_model(body, model)
    elif provider is not None:
        body = _without_route_prefix(body, call)
    recorded = _recorded_headers(call.get("request_headers"))
    original_provider = next(
        (v for k, v in recorded if k.lower() == routing.PROVIDER_HEADER and "****" not in v),
        None,
    )
    kept = client_headers(call) + _extra_headers(headers)
    if call.get("transport") == "websocket":
        kept = [(k, v) for k, v in kept if "websocket" not in v.lower()]  # openai-beta
    if body and not any(k.lower() == "content-type" for k, _ in kept):
        kept.append(("Content-Type", "application/json"))
    return ReplayRequest(
        method=method,
        path=path or _path_for(body),
        headers=tuple(kept),
        body=body,
        stream=read_request(body).stream,
        replay_of=str(call["id"]),
        provider=provider or original_provider,
    )


def client_headers(call: CallRecord) -> list[tuple[str, str]]:
    """The recorded call's headers worth sending again: none of the secrets (redacted in
    the database anyway), hop-by-hop ones, WebSocket handshake ones or Relayscope's own."""
    return [
        (name, value)
        for name, value in _recorded_headers(call.get("request_headers"))
        if not _dropped(name.lower())
        and name.lower() not in routing.SECRET_HEADERS
        and "****" not in value  # a value the recorder redacted is useless to send
    ]


def _dropped(lower: str) -> bool:
    return (
        lower in _DROPPED
        or lower.startswith("sec-websocket")
        or lower.startswith(routing.OUR_HEADER_PREFIX)
    )


def _extra_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    # The tagging headers come from the request's own fields (`wire_headers`); the access
    # token (also an X-Relayscope- header) and API keys pass as given.
    return [
        (name, value)
        for name, value in headers
        if name.lower() == routing.TOKEN_HEADER or not _dropped(name.lower())
    ]


def _recorded_headers(value: object) -> list[tuple[str, str]]:
    try:
        pairs = json.loads(value) if isinstance(value, str | bytes) else []
    except (ValueError, RecursionError):
        return []
    return [(str(p[0]), str(p[1])) for p in pairs if isinstance(p, list | tuple) and len(p) == 2]


def _bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ReplayError(f"The request body is not JSON, so {what} ({exc}).") from exc
    if not isinstance(value, dict):
        raise ReplayError(f"The request body is not a JSON object, so {what}.")
    return value


def _with_model(body: bytes, model: str) -> bytes:
    obj = _json_object(body, "its model cannot be changed")
    obj["model"] = model
    return json.dumps(obj, ensure_ascii=False).encode()


def _without_route_prefix(body: bytes, call: CallRecord) -> bytes:
    """A model written `OLD/model` would name the old provider; the new one gets `model`."""
    prefixed = f"{call.get('provider')}/{call.get('model')}"
    if read_request(body).model == prefixed and call.get("model"):
        return _with_model(body, str(call["model"]))
    return body


def _from_websocket_message(body: bytes) -> bytes:
    obj = _json_object(body, "it cannot be replayed")
    obj.pop("type", None)
    obj["stream"] = True
    return json.dumps(obj, ensure_ascii=False).encode()


# What only an Anthropic Messages body has: top-level fields and content block types.
_ANTHROPIC_FIELDS = frozenset({"system", "thinking", "stop_sequences", "top_k"})
_ANTHROPIC_BLOCKS = frozenset({"tool_use", "tool_result", "thinking", "redacted_thinking"})


def _is_anthropic(obj: dict[str, Any]) -> bool:
    """A body with messages that only the Messages API takes (a plain {model, messages,
    max_tokens} could be either, and stays chat completions)."""
    if not _ANTHROPIC_FIELDS.isdisjoint(obj):
        return True
    messages = obj.get("messages")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") in _ANTHROPIC_BLOCKS:
                return True
    return False


def _path_for(body: bytes) -> str:
    try:
        obj = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        obj = {}
    obj = obj if isinstance(obj, dict) else {}
    if "messages" in obj:
        return "/v1/messages" if _is_anthropic(obj) else "/v1/chat/completions"
    if "prompt" in obj:
        return "/v1/completions"
    return "/v1/responses"
