"""Reading and validating one [[providers]] table: its keys, auth mode, prices, base URL."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from relayscope.config.schema import (
    DEFAULT_UPSTREAM_TIMEOUT,
    DEMO,
    DEMO_PROVIDER,
    ConfigError,
    ModelPrice,
    Provider,
)
from relayscope.config.values import get_value, globs, names

_PROVIDER_KEYS = {
    "name",
    "base_url",
    "api_key",
    "api_key_env",
    "api_key_keyring",
    "models",
    "stream_required",
    "default",
    "capture_usage",
    "timeout",
    "price_multiplier",
    "prices",
    "auth",
}
AUTH_MODES = ("auto", "bearer", "x-api-key")
_PRICE_KEYS = ("input", "output", "cached", "cache_write")


def parse_provider(raw: object, index: int, path: Path) -> Provider:
    where = f"{path}: providers[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table ([[providers]]).")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f'{where} needs a name = "..." (used for routing and in the app).')
    where = f"{path}: provider '{name}'"
    if "/" in name or name != name.strip():
        raise ConfigError(f"{where}: a name cannot contain '/' or spaces at its ends; rename it.")
    unknown = set(raw) - _PROVIDER_KEYS
    if unknown:
        raise ConfigError(
            f"{where} has unknown key {names(unknown)}; allowed: {names(_PROVIDER_KEYS)}."
        )
    base_url = raw.get("base_url")
    if name == DEMO_PROVIDER and base_url is None:
        base_url = DEMO.base_url
    if not isinstance(base_url, str) or not base_url:
        raise ConfigError(f'{where} needs base_url = "https://…/v1".')
    check_url(base_url, where)
    try:
        timeout = float(get_value(raw, "timeout", (int, float), DEFAULT_UPSTREAM_TIMEOUT, where))
    except OverflowError:  # a TOML integer too big for a float
        timeout = math.inf
    # nan and inf are valid TOML floats but no timeout a socket accepts.
    if not math.isfinite(timeout) or timeout <= 0:
        raise ConfigError(f"{where}: timeout must be a positive number of seconds.")
    return Provider(
        name=name,
        base_url=base_url.rstrip("/"),
        api_key=get_value(raw, "api_key", str, "", where) or None,
        api_key_env=get_value(raw, "api_key_env", str, "", where) or None,
        models=globs(raw, "models", where, ("demo-*",) if name == DEMO_PROVIDER else ()),
        stream_required=globs(raw, "stream_required", where, ()),
        default=get_value(raw, "default", bool, False, where),
        capture_usage=get_value(raw, "capture_usage", bool, True, where),
        timeout=timeout,
        api_key_keyring=get_value(raw, "api_key_keyring", bool, False, where),
        price_multiplier=_price_multiplier(raw, where),
        prices=_prices(raw.get("prices", {}), where),
        auth=_auth(raw, where),
    )


def _auth(raw: dict[str, Any], where: str) -> str:
    auth = str(get_value(raw, "auth", str, "auto", where))
    if auth not in AUTH_MODES:
        raise ConfigError(
            f'{where}: auth = "{auth}" is not one of "auto" (x-api-key for /v1/messages, '
            'bearer for the rest), "bearer" or "x-api-key"; use one of those.'
        )
    return auth


def _price_multiplier(raw: dict[str, Any], where: str) -> float | None:
    if "price_multiplier" not in raw:
        return None
    value = float(get_value(raw, "price_multiplier", (int, float), 1.0, where))
    if not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"{where}: price_multiplier must be a number of 0 or more (0.5 = half the list price)."
        )
    return value


def _prices(raw: object, where: str) -> tuple[ModelPrice, ...]:
    example = '"gpt-*" = { input = 1.25, output = 10, cached = 0.125 }'
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: prices must be a table of model globs, like {example}.")
    prices = []
    for pattern, table in raw.items():
        here = f"{where}: prices.{pattern}"
        if not isinstance(table, dict) or not {"input", "output"} <= set(table):
            raise ConfigError(
                f"{here} needs input and output in USD per million tokens, like {example}."
            )
        unknown = set(table) - set(_PRICE_KEYS)
        if unknown:
            allowed = names(_PRICE_KEYS)
            raise ConfigError(f"{here} has unknown key {names(unknown)}; allowed: {allowed}.")
        values: dict[str, float | None] = {}
        for key in _PRICE_KEYS:
            value = table.get(key)
            if value is not None:
                value = float(get_value(table, key, (int, float), 0, here))
                if not math.isfinite(value) or value < 0:
                    raise ConfigError(f"{here}: {key} must be a price of 0 or more.")
            values[key] = value
        prices.append(
            ModelPrice(
                pattern,
                values["input"] or 0.0,
                values["output"] or 0.0,
                values["cached"],
                values["cache_write"],
            )
        )
    return tuple(prices)


def check_url(url: str, where: str) -> None:
    try:
        parts = urlsplit(url)
        is_http = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[::1"
        is_http = False
    if not is_http:
        raise ConfigError(
            f"{where}: base_url '{url}' is not an http(s) URL; write it like https://api.example.com/v1."
        )
