"""Router addon: picks the provider, rewrites the target, injects its key, strips our headers."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from typing import Any
from urllib.parse import unquote

import httpx
from mitmproxy import http

from relayscope.config import Config, Provider
from relayscope.protocols import encodings, multipart
from relayscope.protocols.openai_format import endpoint_of, read_request
from relayscope.proxy.addons import limits
from relayscope.proxy.addons.context import KEY, CallContext, context_of
from relayscope.proxy.addons.errors import error_response
from relayscope.proxy.addons.local_guard import refusal_of
from relayscope.routing import routes as routing
from relayscope.routing.quirks import RequestPlan, plan_request

log = logging.getLogger(__name__)

NO_PLAN = RequestPlan()
MODEL_ENDPOINTS = frozenset(
    {
        "chat.completions",
        "responses",
        "completions",
        "embeddings",
        "messages",
        "messages.count_tokens",
    }
)
#: A compressed request body is decoded (to route and record it) up to this size at least.
MIN_DECODE_LIMIT = 64 * 1024 * 1024
#: `ctx.extra` key: the Content-Encoding of a request body forwarded still compressed.
COMPRESSED = "request_encoding"


class Router:
    """Decides where each request goes; answers what it cannot route with an OpenAI error."""

    def __init__(self, config: Config, local_ports: dict[str, int] | None = None) -> None:
        self.config = config
        # Providers served inside the proxy (demo, playback) → their loopback port.
        self.local_ports = local_ports or {}

    def _local_url(self, provider: Provider, path: str) -> str:
        return f"http://127.0.0.1:{self.local_ports.get(provider.name, 9)}{path}"

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        flow.metadata[KEY] = CallContext()
        token = self.config.proxy.access_token
        if token and not _token_ok({k.lower(): v for k, v in flow.request.headers.items()}, token):
            # Answered before the body is read, and not recorded: without the token nobody
            # gets to make Relayscope hold or store anything.
            flow.metadata[limits.REFUSE_BEFORE_BODY] = token_refusal()
            peer = flow.client_conn.peername
            limits.LIMIT_LOG.warning(
                "token",
                f"Refused a request without the access token from {peer[0] if peer else '?'} "
                "(401, not recorded).",
            )
            return
        # A body past max_body_bytes is not held: routed from its start, streamed on.
        flow.metadata[limits.STREAM_REQUEST] = self.route_streamed
        flow.metadata[limits.STREAM_LIMIT] = self.config.proxy.max_body_bytes

    async def request(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        if ctx is None:
            ctx = flow.metadata[KEY] = CallContext()
        if ctx.extra.get("request_streamed"):
            return  # routed by route_streamed before its body was through
        request = flow.request
        ctx.client_headers = list(request.headers.items(multi=True))
        header = ctx.header = {}
        for name, value in reversed(ctx.client_headers):
            header[name.lower()] = value
        ctx.client_body = request.raw_content or b""
        ctx.extra["client_path"] = request.path
        ctx.endpoint = endpoint_of(request.path)
        refusal = self._refuse(flow, ctx) or self._decode_body(ctx)
        if refusal is not None:
            self._answer(flow, ctx, refusal)
            return
        info = read_request(ctx.client_body)
        if not info.is_json and "multipart/" in header.get("content-type", ""):
            info = multipart.request_info(ctx.client_body, header["content-type"]) or info
        ctx.model, ctx.stream = info.model, info.stream
        ctx.replay_of = header.get(routing.REPLAY_HEADER)
        ctx.group_id = header.get(routing.GROUP_HEADER)
        chosen_id = header.get(routing.CALL_ID_HEADER)
        if routing.valid_call_id(chosen_id):
            ctx.id = str(chosen_id)
        chosen_provider = header.get(routing.PROVIDER_HEADER)
        if ctx.endpoint in MODEL_ENDPOINTS and ctx.client_body and not info.is_json:
            self._answer(
                flow,
                ctx,
                error_response(
                    400,
                    "invalid_json",
                    "The request body is not a JSON object, so it cannot name a model. "
                    'Send a JSON body like {"model": "…", …}.',
                    None,
                ),
            )
            return
        if (
            ctx.endpoint == "models"
            and request.method == "GET"
            and not chosen_provider
            and request.path.split("?")[0].rstrip("/") == "/v1/models"
        ):
            self._answer(flow, ctx, await self._merged_models())
            ctx.provider = "*"
            return
        route = routing.choose_provider(self.config, chosen_provider, info.model)
        if _is_websocket(request.method, header):
            ctx.extra["websocket"] = True
            if isinstance(route, routing.RouteError) or route.provider.is_local:
                self._answer(flow, ctx, websocket_refusal())
                return
        if isinstance(route, routing.RouteError):
            self._answer(
                flow, ctx, error_response(route.status, route.code, route.message, route.param)
            )
            return
        self._send_to(flow, ctx, route)

    def _refuse(self, flow: http.HTTPFlow, ctx: CallContext) -> http.Response | None:
        """Requests Relayscope will not forward: browser pages and foreign Host names (the
        LocalGuard's answer), wrong token, paths outside /v1 or climbing out of it."""
        if (guarded := refusal_of(flow)) is not None:
            return guarded
        token = self.config.proxy.access_token
        if token and not _token_ok(ctx.header, token):
            return token_refusal()
        path = flow.request.path
        if flow.request.method == "PRI" and path == "*":
            # An HTTP/2 prior-knowledge preface, read as HTTP/1: mitmproxy has no plaintext h2.
            return error_response(
                505,
                "http2_not_supported",
                "Relayscope's plain-HTTP listener speaks HTTP/1.1 (h2c upgrade falls back to "
                "it); configure the client for HTTP/1.1.",
            )
        if not (path == "/v1" or path.startswith(("/v1/", "/v1?"))):
            return error_response(
                404,
                "not_found",
                f"Relayscope forwards OpenAI-format paths under /v1, not {path[:200]!r}. "
                "Set your client's base URL to http://HOST:PORT/v1.",
            )
        if path.startswith("/v1/v1/"):
            # Anthropic SDKs and Claude Code add /v1/messages to their base URL themselves.
            return error_response(
                404,
                "not_found",
                f"The path {json.dumps(path[:200])} has /v1 twice: the client adds /v1 to its "
                "base URL itself. Set the base URL without /v1, like "
                "ANTHROPIC_BASE_URL=http://127.0.0.1:8787.",
            )
        if _climbs(path):
            return error_response(
                400,
                "invalid_path",
                f"The path {json.dumps(path[:200])} contains a '.' or '..' segment (perhaps "
                "percent-encoded); Relayscope does not forward such paths, as they could reach "
                "beyond the provider's base URL. Send the plain path, like /v1/chat/completions.",
            )
        return None

    def _decode_body(self, ctx: CallContext) -> http.Response | None:
        """A compressed body (Content-Encoding gzip, deflate, br, zstd) goes to the provider as
        it came; Relayscope reads and records it decoded. One that does not decode is refused
        with a sentence: it cannot be routed, and the provider could not read it either."""
        encoding = encodings.normalise(ctx.header.get("content-encoding", ""))
        wire = ctx.client_body
        if not encoding or not wire:
            return None
        limit = max(self.config.proxy.max_body_bytes, MIN_DECODE_LIMIT)
        try:
            ctx.client_body = encodings.decode(wire, encoding, limit=limit)
        except encodings.DecodeLimitExceeded:
            return error_response(
                413,
                "request_too_large",
                f"The {encoding} request body decodes to more than {limit:,} bytes; "
                "Relayscope reads at most that much to route a request.",
            )
        except ValueError as exc:
            return error_response(
                400,
                "invalid_content_encoding",
                f"The request body says Content-Encoding: {encoding} but does not decode as "
                f"that ({exc}); send it uncompressed, or compressed as the header says.",
            )
        ctx.extra[COMPRESSED] = encoding
        ctx.extra["request_size"] = len(wire)  # the bytes on the wire
        ctx.quirks.append(f"request body compressed with {encoding}; recorded decoded")
        return None

    def _answer(self, flow: http.HTTPFlow, ctx: CallContext, response: http.Response) -> None:
        ctx.answered_by_proxy = True
        ctx.provider = ctx.provider or "relayscope"
        flow.response = response

    def route_streamed(self, flow: http.HTTPFlow, prefix: bytes) -> http.Response | None:
        """Route a request whose body is larger than max_body_bytes from its first bytes
        (`prefix`, at least max_body_bytes); the rest streams to the provider as sent, so
        the body is neither held nor changed (no quirks, no model-prefix removal). Returns
        a refusal to answer at once instead."""
        ctx = context_of(flow) or CallContext()
        flow.metadata[KEY] = ctx
        request = flow.request
        ctx.client_headers = list(request.headers.items(multi=True))
        ctx.header = {name.lower(): value for name, value in reversed(ctx.client_headers)}
        cap = self.config.proxy.max_body_bytes
        ctx.client_body = prefix[:cap]
        ctx.extra.update(client_path=request.path, request_streamed=True, request_size=0)
        ctx.endpoint = endpoint_of(request.path)
        refusal = self._refuse(flow, ctx)
        if refusal is not None:
            return refusal
        ctx.model, ctx.stream = _model_and_stream(prefix[:65536])
        ctx.replay_of = ctx.header.get(routing.REPLAY_HEADER)
        ctx.group_id = ctx.header.get(routing.GROUP_HEADER)
        if routing.valid_call_id(chosen_id := ctx.header.get(routing.CALL_ID_HEADER)):
            ctx.id = str(chosen_id)
        route = routing.choose_provider(
            self.config, ctx.header.get(routing.PROVIDER_HEADER), ctx.model
        )
        if isinstance(route, routing.RouteError):
            return error_response(route.status, route.code, route.message, route.param)
        self._send_to(flow, ctx, route, streamed=True)
        ctx.quirks.append(
            f"request body over max_body_bytes ({cap:,}) streamed to the provider as sent"
        )

        def count(data: bytes) -> bytes:
            ctx.extra["request_size"] += len(data)
            return data

        request.stream = count
        return None

    def _send_to(
        self, flow: http.HTTPFlow, ctx: CallContext, route: routing.Route, *, streamed: bool = False
    ) -> None:
        provider = route.provider
        request = flow.request
        ctx.provider = provider.name
        ctx.model = route.model
        ctx.timeout = provider.timeout
        if streamed:
            pass  # the body goes on as sent: nothing in it can be changed
        elif route.model_rewritten and route.model is not None:
            set_upstream_body(request, ctx, _with_model(upstream_body(request, ctx), route.model))
            ctx.upstream_body_changed = True
            ctx.quirks.append(f"model prefix '{provider.name}/' removed")
        # Only a stream, or a model that must stream, can need a change (parsed once more).
        plan = (
            plan_request(provider, ctx.endpoint, upstream_body(request, ctx))
            if not streamed
            and (ctx.stream or (route.model and provider.requires_stream(route.model)))
            else NO_PLAN
        )
        if plan.body is not None:
            set_upstream_body(request, ctx, json.dumps(plan.body, ensure_ascii=False).encode())
            ctx.upstream_body_changed = True
            ctx.quirks.extend(plan.notes)
            ctx.extra["aggregate"] = plan.aggregate
            ctx.extra["hide_usage"] = plan.hide_usage
        url = routing.upstream_url(provider, request.path)
        if provider.is_local:
            url = self._local_url(provider, routing.split_url(url)[3])
        scheme, host, port, path = routing.split_url(url)
        # The port goes in first, unannounced, so the Host header is rewritten once (by the
        # host setter), not once per setter: each rewrite is a header scan.
        request.scheme, request.data.port, request.host, request.path = scheme, port, host, path
        if any(name.startswith(routing.OUR_HEADER_PREFIX) for name in ctx.header):
            _strip_our_headers(request.headers)
        _inject_key(
            request.headers,
            provider,
            ctx.endpoint,
            drop_client_key=bool(self.config.proxy.access_token),
        )
        ctx.extra["upstream_url"] = f"{provider.name}:{path}" if provider.is_local else url

    async def _merged_models(self) -> http.Response:
        async with httpx.AsyncClient(timeout=10.0) as client:
            results = await asyncio.gather(
                *(self._provider_models(client, p) for p in self.config.providers)
            )
        data: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for provider, models, error in results:
            if error is not None:
                errors.append({"provider": provider.name, "message": error})
            data.extend({**m, "relayscope_provider": provider.name} for m in models)
        body = {"object": "list", "data": data, "errors": errors}
        return http.Response.make(
            200, json.dumps(body).encode(), {"content-type": "application/json"}
        )

    async def _provider_models(
        self, client: httpx.AsyncClient, provider: Provider
    ) -> tuple[Provider, list[dict[str, Any]], str | None]:
        if provider.is_local:
            url = self._local_url(provider, "/v1/models")
        else:
            url = provider.base_url + "/models"
        key = provider.key()
        headers = routing.key_headers(provider, key, "models") if key else {}
        try:
            response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            return provider, [], f"{provider.base_url} is unreachable ({exc.__class__.__name__})."
        if response.status_code != 200:
            return provider, [], f"{provider.base_url}/models answered {response.status_code}."
        try:
            models = response.json().get("data", [])
        except (ValueError, AttributeError):
            return provider, [], f"{provider.base_url}/models did not answer a JSON list."
        return provider, [m for m in models if isinstance(m, dict)], None


def _climbs(path: str) -> bool:
    """A path with a dot-segment, also percent-encoded (`%2e%2e`, `%2f`, twice encoded) or
    behind a backslash: joined to the provider's base URL it could leave its /v1 prefix."""
    path = path.split("?", 1)[0]
    for _ in range(3):  # %252e → %2e → .
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    return any(segment in (".", "..") for segment in path.replace("\\", "/").split("/"))


_MODEL = re.compile(rb'"model"\s*:\s*"((?:[^"\\]|\\.){1,500})"')
_STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')


def _model_and_stream(prefix: bytes) -> tuple[str | None, bool]:
    """`model` and `stream` from the start of a JSON body too large to parse whole (SDKs
    put them before the long parts; a model later in the body routes as if there were none)."""
    match = _MODEL.search(prefix)
    model = None
    if match is not None:
        try:
            model = json.loads(b'"' + match.group(1) + b'"')
        except ValueError:
            model = None
    return model, _STREAM_TRUE.search(prefix) is not None


def _is_websocket(method: str, header: dict[str, str]) -> bool:
    return method == "GET" and "websocket" in header.get("upgrade", "").lower()


def websocket_refusal(detail: str = "") -> http.Response:
    """426: Codex's built-in provider then falls back to HTTP at once (a 404 costs it ~6 s)."""
    return error_response(
        426,
        "websocket_not_supported",
        "This provider is not reached over WebSocket"
        + (f" ({detail})" if detail else "")
        + "; use HTTP (Relayscope records both).",
    )


def token_refusal() -> http.Response:
    return error_response(
        401,
        "relayscope_token_required",
        "This Relayscope listens beyond this machine and needs its access token: send it "
        "as the API key (Authorization: Bearer TOKEN) or in X-Relayscope-Token.",
    )


def _token_ok(header: dict[str, str], token: str) -> bool:
    offered = header.get(routing.TOKEN_HEADER, "")
    auth = header.get("authorization", "")
    if auth.lower().startswith("bearer "):
        offered = offered or auth[7:].strip()
    offered = offered or header.get("x-api-key", "").strip()  # Anthropic SDKs send it here
    return hmac.compare_digest(offered.encode(), token.encode())


def _with_model(body: bytes, model: str) -> bytes:
    obj = json.loads(body or b"{}")
    obj["model"] = model
    return json.dumps(obj, ensure_ascii=False).encode()


def upstream_body(request: http.Request, ctx: CallContext) -> bytes:
    """The body as it goes upstream, decoded (a compressed one is still the client's)."""
    return ctx.client_body if COMPRESSED in ctx.extra else request.raw_content or b""


def set_upstream_body(request: http.Request, ctx: CallContext, body: bytes) -> None:
    """Change what goes upstream: a body Relayscope changes is sent uncompressed."""
    if ctx.extra.pop(COMPRESSED, None) is not None:
        request.headers.pop("content-encoding", None)
        ctx.quirks.append("request body changed, so sent uncompressed")
    request.content = body


def _strip_our_headers(headers: http.Headers) -> None:
    for name in [n for n in headers if n.lower().startswith(routing.OUR_HEADER_PREFIX)]:
        del headers[name]


def _inject_key(
    headers: http.Headers, provider: Provider, endpoint: str, *, drop_client_key: bool
) -> None:
    """The provider's key replaces the client's (both `Authorization` and `x-api-key` go) in
    the header the provider's `auth` names; with no key configured the client's goes on,
    unless it is our access token (which must never leave this machine). A Messages request
    without `anthropic-version` gets the default one, which Anthropic requires."""
    key = provider.key()
    if key and not provider.is_local:
        headers.pop("authorization", None)
        headers.pop("x-api-key", None)
        if provider.key_header(endpoint) == "x-api-key":
            headers["x-api-key"] = key
        else:
            headers["authorization"] = f"Bearer {key}"
    elif provider.is_local or drop_client_key:
        headers.pop("authorization", None)
        headers.pop("x-api-key", None)
    if endpoint.startswith("messages") and "anthropic-version" not in headers:
        headers["anthropic-version"] = routing.ANTHROPIC_VERSION
