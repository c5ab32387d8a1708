"""What never comes in from a HAR: credential headers and key-like query parameters."""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

from relayscope.exchange.har import redacted
from relayscope.routing.routes import redact_secret

_SECRET_PARAMS = frozenset({"key", "api_key", "api-key", "apikey", "access_token", "token"})


def headers_json(headers: list[tuple[str, str]]) -> str:
    return json.dumps(redacted(headers), ensure_ascii=False)


def safe_url(url: str) -> str:
    """The URL with key-like query parameters masked (`?key=****abcd`)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    masked = []
    for piece in parts.query.split("&"):
        name, eq, value = piece.partition("=")
        if eq and name.lower() in _SECRET_PARAMS and "****" not in value:
            value = quote(redact_secret(value), safe="*")
        masked.append(f"{name}{eq}{value}")
    return parts._replace(query="&".join(masked)).geturl()
