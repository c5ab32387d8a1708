"""Checking a provider from the settings: GET {base_url}/models with its key, told as a sentence."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from relayscope.config import Provider
from relayscope.routing.routes import key_headers

SHOWN_ERROR_CHARS = 160


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    """What a check found. `message` is one sentence for a person; `warning` marks an answer
    that is not a failure either (e.g. a provider that does not list its models)."""

    ok: bool
    models: list[str] = field(default_factory=list)
    message: str = ""
    warning: bool = False


def check_provider(
    provider: Provider,
    key: str | None,
    timeout: float = 10,
    *,
    transport: httpx.BaseTransport | None = None,
) -> ProviderCheck:
    """List the provider's models with `key`; never raises for anything the network does."""
    if provider.is_demo:
        return ProviderCheck(True, [], "the built-in demo provider answers inside Relayscope.")
    url = provider.base_url.rstrip("/") + "/models"
    key = key.strip() if key else None
    if key and (not key.isascii() or not key.isprintable() or " " in key):
        return ProviderCheck(
            False, [], "the key has spaces or unusual characters in it — paste it again."
        )
    headers = key_headers(provider, key, "models") if key else {}
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.get(url, headers=headers)
    except httpx.TimeoutException:
        return ProviderCheck(
            False, [], f"timed out after {timeout:g} s waiting for {url} — is the provider up?"
        )
    except httpx.ConnectError as exc:
        return ProviderCheck(False, [], _connect_failure(url, exc))
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        return ProviderCheck(False, [], f"{provider.base_url} is not a URL that can be called.")
    except httpx.HTTPError as exc:
        return ProviderCheck(
            False,
            [],
            f"{url} broke off the answer ({type(exc).__name__}) — is it an OpenAI-format API?",
        )
    return _judge(response, url, key)


def _judge(response: httpx.Response, url: str, key: str | None) -> ProviderCheck:
    status = response.status_code
    if status == 200:
        return _model_list(response, url)
    said = _said(response, key)
    if status == 401:
        if not key:
            return ProviderCheck(False, [], f"401 from {url}: no key was sent — enter the API key.")
        return ProviderCheck(False, [], f"401 from {url}: the key was rejected — check it{said}.")
    if status == 403:
        return ProviderCheck(
            False, [], f"403 from {url}: the key may not list models — check its permissions{said}."
        )
    if status == 402:
        return ProviderCheck(False, [], f"402 from {url}: the account is out of quota{said}.")
    if status == 404:
        return ProviderCheck(
            False,
            [],
            f"{url} answered 404 for /models: this provider may not list models; "
            "calls can still work (check that base_url ends in /v1).",
            warning=True,
        )
    if status == 429:
        return ProviderCheck(
            False, [], f"429 from {url}: rate limited — wait a moment and test again{said}."
        )
    if status in (301, 302, 307, 308) and (location := response.headers.get("location")):
        return ProviderCheck(
            False, [], f"{url} redirects to {location} — use that address in base_url."
        )
    if status >= 500:
        return ProviderCheck(
            False, [], f"{status} from {url}: the provider has a problem — try again later{said}."
        )
    return ProviderCheck(False, [], f"{status} from {url}: unexpected answer{said}.")


def _model_list(response: httpx.Response, url: str) -> ProviderCheck:
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ProviderCheck(
            False,
            [],
            f"{url} answered with something other than JSON — does base_url end in /v1?",
        )
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return ProviderCheck(
            False, [], f"{url} answered JSON but not a model list — is it an OpenAI-format API?"
        )
    models = sorted({m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)})
    if not models:
        return ProviderCheck(True, [], "the key works, but the provider lists no models.")
    count = f"{len(models)} model" + ("" if len(models) == 1 else "s")
    return ProviderCheck(True, models, f"{count}: {', '.join(models)}")


def _said(response: httpx.Response, key: str | None) -> str:
    """The provider's own error message, shortened, with the key masked if it echoes it."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message.strip():
        return ""
    message = " ".join(message.split())
    if key:
        message = message.replace(key, "••••")
    if len(message) > SHOWN_ERROR_CHARS:
        message = message[: SHOWN_ERROR_CHARS - 1] + "…"
    return f' (it said: "{message}")'


def _connect_failure(url: str, exc: httpx.ConnectError) -> str:
    host = httpx.URL(url).host
    text = str(exc).lower()
    if "refused" in text:
        reason = "connection refused"
    elif any(
        hint in text
        for hint in ("name or service", "nodename", "getaddrinfo", "name resolution", "no address")
    ):
        reason = f"no such host '{host}'"
    elif "certificate" in text or "ssl" in text or "tls" in text:
        reason = "its TLS certificate was not accepted"
    elif "unreachable" in text:
        reason = "the network is unreachable"
    else:
        reason = str(exc).split("] ", 1)[-1] or type(exc).__name__
    return f"could not connect to {url}: {reason} — is the base_url right?"
