from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from relayscope.config import DEMO, Config, Provider
from relayscope.routing import routes as routing

A = Provider(name="a", base_url="https://a.example/v1", models=("gpt-*",))
B = Provider(name="b", base_url="http://b.example:8080/api/v1", models=("claude-*",), default=True)
CONFIG = Config(providers=(A, B, DEMO), path=Path("x.toml"))


@pytest.mark.parametrize(
    ("header", "model", "provider", "sent_model", "reason"),
    [
        ("b", "gpt-5.2", "b", "gpt-5.2", "header"),
        (None, "b/gpt-5.2", "b", "gpt-5.2", "prefix"),
        (None, "gpt-5.2", "a", "gpt-5.2", "glob"),
        (None, "claude-sonnet-4-6", "b", "claude-sonnet-4-6", "glob"),
        (None, "demo-1", "demo", "demo-1", "glob"),
        (None, "mistral-large", "b", "mistral-large", "default"),
        (None, "unknown/gpt-5.2", "b", "unknown/gpt-5.2", "default"),
    ],
)
def test_routing_order(
    header: str | None, model: str, provider: str, sent_model: str, reason: str
) -> None:
    route = routing.choose_provider(CONFIG, header, model)
    assert isinstance(route, routing.Route)
    assert (route.provider.name, route.model, route.reason) == (provider, sent_model, reason)
    assert route.model_rewritten == (reason == "prefix")


def test_no_match_without_default_names_the_providers() -> None:
    config = Config(providers=(A, DEMO))
    error = routing.choose_provider(config, None, "mistral-large")
    assert isinstance(error, routing.RouteError)
    assert (error.status, error.code) == (404, "model_not_found")
    assert "a, demo" in error.message and "mistral-large" in error.message


def test_unknown_provider_header() -> None:
    error = routing.choose_provider(CONFIG, "nope", "gpt-5.2")
    assert isinstance(error, routing.RouteError) and error.code == "provider_not_found"


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/v1/chat/completions", "http://b.example:8080/api/v1/chat/completions"),
        ("/v1/models?limit=2", "http://b.example:8080/api/v1/models?limit=2"),
        ("/v1", "http://b.example:8080/api/v1"),
    ],
)
def test_upstream_url_keeps_the_provider_base_path(path: str, url: str) -> None:
    assert routing.upstream_url(B, path) == url
    scheme, host, port, rest = routing.split_url(url)
    assert (scheme, host, port) == ("http", "b.example", 8080)
    assert rest.startswith("/api/v1")


def test_redaction_keeps_only_the_last_four_characters() -> None:
    headers = [
        ("Authorization", "Bearer sk-live-abcdefghijkl1234"),
        ("X-Api-Key", "short"),
        ("Cookie", "session=abcdefghijklmnop"),
        ("Content-Type", "application/json"),
    ]
    redacted = dict(routing.redact_headers(headers))
    assert redacted["Authorization"] == "Bearer ****1234"
    assert redacted["X-Api-Key"] == "****"
    assert "abcdefghij" not in redacted["Cookie"]
    assert redacted["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/v1/models?key=AIzaSyABCDEFGHIJKwxyz&x=1", "/v1/models?key=****wxyz&x=1"),
        ("/v1/x?API_KEY=short", "/v1/x?API_KEY=****"),
        ("/v1?a=1&access_token=abcdefghijklmnop#frag", "/v1?a=1&access_token=****mnop#frag"),
        ("https://h/v1?sig=abc%2Bdefghijkl1234&k=v", "https://h/v1?sig=****1234&k=v"),
        ("/v1?%6Bey=abcdefghijklmnop", "/v1?%6Bey=****mnop"),  # an encoded name is a name
        ("/v1?keys=1&monkey=2&token=", "/v1?keys=1&monkey=2&token="),
        ("/v1/chat/completions", "/v1/chat/completions"),
    ],
)
def test_keys_in_query_strings_are_redacted(url: str, expected: str) -> None:
    assert routing.redact_query(url) == expected
    assert routing.redact_query(expected) == expected  # exports re-check stored rows


def test_key_headers_follow_the_providers_auth() -> None:
    anthropic = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    assert routing.key_headers(A, "k", "messages") == anthropic  # auto: Messages paths
    assert routing.key_headers(A, "k", "models") == {"authorization": "Bearer k"}
    assert routing.key_headers(replace(A, auth="x-api-key"), "k", "models") == anthropic
    assert routing.key_headers(replace(A, auth="bearer"), "k", "messages") == {
        "authorization": "Bearer k"
    }
