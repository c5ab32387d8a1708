"""Picks the provider for a request and builds the upstream URL (pure; no I/O)."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from relayscope.config import Config, Provider

PROVIDER_HEADER = "x-relayscope-provider"
REPLAY_HEADER = "x-relayscope-replay-of"
GROUP_HEADER = "x-relayscope-group"
CALL_ID_HEADER = "x-relayscope-call-id"
TOKEN_HEADER = "x-relayscope-token"
OUR_HEADER_PREFIX = "x-relayscope-"


_CALL_ID = re.compile(r"[0-9a-f]{12}-[0-9a-f]{8}")


def new_call_id() -> str:
    """Sortable by start time, short enough to type a prefix of: `019a3f2c5b1e-8c1d2e3f`."""
    return f"{time.time_ns() // 1_000_000:012x}-{os.urandom(4).hex()}"


def valid_call_id(value: str | None) -> bool:
    """A call id a client may choose itself (replays and comparisons know their ids up front)."""
    return bool(value) and _CALL_ID.fullmatch(value or "") is not None


#: Anthropic's API version header, sent when the client sent none (the API requires one).
ANTHROPIC_VERSION = "2023-06-01"


def key_headers(provider: Provider, key: str, endpoint: str) -> dict[str, str]:
    """The headers that carry `key` to `provider` for a request to `endpoint`, as its `auth`
    says: `x-api-key` (with the `anthropic-version` Anthropic requires) or a bearer token."""
    if provider.key_header(endpoint) == "x-api-key":
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
    return {"authorization": f"Bearer {key}"}


@dataclass(frozen=True, slots=True)
class Route:
    provider: Provider
    model: str | None  # the model the provider is asked for (routing prefix removed)
    model_rewritten: bool  # True when the body's model must be replaced by `model`
    reason: str  # how the provider was chosen (shown in the app)


@dataclass(frozen=True, slots=True)
class RouteError:
    status: int
    code: str
    message: str
    param: str | None = None


def choose_provider(config: Config, header: str | None, model: str | None) -> Route | RouteError:
    """Routing order: header → `NAME/model` prefix → first glob match → default → 404."""
    if header:
        provider = config.provider(header.strip())
        if provider is None:
            return RouteError(
                404,
                "provider_not_found",
                f"No provider named '{header.strip()}' (from the X-Relayscope-Provider header). "
                f"Configured providers: {_names(config)}.",
            )
        return Route(provider, model, False, "header")
    if model and "/" in model:
        prefix, _, rest = model.partition("/")
        provider = config.provider(prefix)
        if provider is not None and rest:
            return Route(provider, rest, True, "prefix")
    if model:
        for provider in config.providers:
            if provider.serves(model):
                return Route(provider, model, False, "glob")
    default = config.default_provider
    if default is not None:
        return Route(default, model, False, "default")
    if model is None:
        return RouteError(
            400,
            "model_required",
            "This request names no model, so Relayscope cannot choose a provider. Send a "
            "'model', or an X-Relayscope-Provider header, or mark a provider default = true.",
            "model",
        )
    return RouteError(
        404,
        "model_not_found",
        f"No provider serves model '{model}'. Configured providers: {_names(config)}. "
        "Add the model to a provider's models globs, mark one provider default = true, "
        "or write the model as PROVIDER/model.",
        "model",
    )


def upstream_url(provider: Provider, path: str) -> str:
    """The provider URL for a client path: `/v1/chat/completions` → base_url + rest."""
    rest = path[3:] if path.startswith("/v1") else path
    if rest and not rest.startswith(("/", "?")):
        rest = "/" + rest
    return provider.base_url + rest


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path-with-query) of an absolute http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname or "", port, path


def redact_secret(value: str) -> str:
    """`Bearer sk-abc…wxyz` → `Bearer ****wxyz`: enough to tell keys apart, never enough to use."""
    scheme, _, secret = value.partition(" ")
    if not secret:
        scheme, secret = "", value
    tail = secret[-4:] if len(secret) >= 12 else ""
    return f"{scheme} ****{tail}".strip()


SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        TOKEN_HEADER,
    }
)


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (name, redact_secret(value) if name.lower() in SECRET_HEADERS else value)
        for name, value in headers
    ]


#: Query parameters that carry credentials (Google's `?key=`, Azure SAS `?sig=`, OAuth's
#: `?access_token=` …): redacted like the headers wherever a URL is stored or exported.
SECRET_QUERY_KEYS = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "x-api-key",
        "access_token",
        "id_token",
        "refresh_token",
        "token",
        "auth",
        "auth_token",
        "sig",
        "signature",
        "secret",
        "client_secret",
        "password",
        "code",
    }
)
_QUERY_PARAM = re.compile(r"([?&;])([^=&#;]*)=([^&#;]*)")


def redact_query(url: str | None) -> str | None:
    """`/v1/models?key=AIzaSy…wxyz&x=1` → `/v1/models?key=****wxyz&x=1`; the rest is kept
    byte for byte (names are matched case-insensitively, percent-encoded names too)."""
    if not url or "?" not in url:
        return url
    head, sep, rest = url.partition("?")
    query, hash_sep, fragment = rest.partition("#")

    def redact(match: re.Match[str]) -> str:
        name = unquote(match.group(2)).strip().lower()
        value = match.group(3)
        if name not in SECRET_QUERY_KEYS or not value or value.startswith("****"):
            return match.group(0)  # nothing there, or redacted already (exports re-check)
        return f"{match.group(1)}{match.group(2)}={redact_secret(unquote(match.group(3)))}"

    return head + sep + _QUERY_PARAM.sub(redact, "&" + query)[1:] + hash_sep + fragment


def _names(config: Config) -> str:
    return ", ".join(p.name for p in config.providers) or "none"
