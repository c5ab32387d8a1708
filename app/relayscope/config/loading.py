"""Reading and validating the TOML file: its sections, [proxy], [otlp], [demo] and [storage]."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from relayscope.config.paths import default_config_path
from relayscope.config.providers import check_url, parse_provider
from relayscope.config.schema import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    DEMO,
    Config,
    ConfigError,
    OtlpSettings,
    Provider,
    ProxySettings,
    StorageSettings,
)
from relayscope.config.values import get_value, names, strings

#: A Host header value: a name or IPv4 address, or a bracketed IPv6 address, optional :port.
_HOST = re.compile(r"(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")
_PROXY_KEYS = {
    "host",
    "port",
    "max_body_bytes",
    "access_token",
    "allow_remote",
    "allowed_hosts",
    "allowed_origins",
}


def load_config(path: Path | None = None, *, explicit: bool = False) -> Config:
    """Read the TOML file at `path` (default location if None).

    A missing file at the default location means "demo only"; a missing file that a
    person named explicitly (`--config`) is an error.
    """
    path = path or default_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: no such config file; check the path given to --config.")
        return Config(path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax there.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}).") from exc
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    unknown = set(data) - {"proxy", "providers", "otlp", "demo", "storage"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown section {names(unknown)}; only [proxy], [[providers]], "
            "[otlp], [demo] and [storage] exist."
        )
    proxy = _parse_proxy(data.get("proxy", {}), path)
    raw_providers = data.get("providers", [])
    if not isinstance(raw_providers, list):
        raise ConfigError(f"{path}: 'providers' must be a list of [[providers]] tables.")
    providers = [parse_provider(raw, index, path) for index, raw in enumerate(raw_providers)]
    _check_providers(providers, path)
    enabled = _parse_demo(data.get("demo", {}), path)
    if enabled is None:
        enabled = demo_by_default(providers, table=any(p.is_demo for p in providers))
    if not enabled:
        providers = [p for p in providers if not p.is_demo]
    elif not any(p.is_demo for p in providers):
        providers.append(DEMO)
    otlp = _parse_otlp(data.get("otlp", {}), path)
    storage = _parse_storage(data.get("storage", {}), path)
    return Config(proxy=proxy, providers=tuple(providers), path=path, otlp=otlp, storage=storage)


def _parse_storage(raw: object, path: Path) -> StorageSettings:
    where = f"{path}: [storage]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table, like [storage] keep_days = 30.")
    unknown = set(raw) - {"keep_days", "max_size_mb"}
    if unknown:
        raise ConfigError(
            f"{where} has unknown key {names(unknown)}; allowed: 'keep_days', 'max_size_mb'."
        )
    limits = {}
    for key in ("keep_days", "max_size_mb"):
        value = get_value(raw, key, (int, float, type(None)), None, where)
        if value is not None and value <= 0:
            raise ConfigError(f"{where}: {key} must be more than 0, not {value!r}.")
        limits[key] = None if value is None else float(value)
    return StorageSettings(**limits)


def _parse_demo(raw: object, path: Path) -> bool | None:
    """`[demo] enabled = true|false`; None (not set) lets the loader decide."""
    where = f"{path}: [demo]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table, like [demo] enabled = false.")
    unknown = set(raw) - {"enabled"}
    if unknown:
        raise ConfigError(f"{where} has unknown key {names(unknown)}; allowed: 'enabled'.")
    if "enabled" not in raw:
        return None
    return bool(get_value(raw, "enabled", bool, True, where))


def demo_by_default(providers: tuple[Provider, ...] | list[Provider], *, table: bool) -> bool:
    """Whether the loader turns the demo on when `[demo] enabled` is not set: with no
    providers of one's own (a first run), or when the file has a demo table."""
    return table or not any(not p.is_demo for p in providers)


def _parse_otlp(raw: object, path: Path) -> OtlpSettings:
    where = f"{path}: [otlp]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table.")
    unknown = set(raw) - {"endpoint", "headers", "capture_content"}
    if unknown:
        raise ConfigError(
            f"{where} has unknown key {names(unknown)}; allowed: 'endpoint', 'headers', "
            "'capture_content'."
        )
    endpoint = get_value(raw, "endpoint", str, "", where).strip()
    if endpoint:
        check_url(endpoint, where)
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigError(
            f'{where}: headers must be a table of strings, like {{ authorization = "Bearer …" }}.'
        )
    capture = get_value(raw, "capture_content", bool, False, where)
    return OtlpSettings(endpoint.rstrip("/"), tuple(sorted(headers.items())), capture)


def _parse_proxy(raw: object, path: Path) -> ProxySettings:
    where = f"{path}: [proxy]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table.")
    unknown = set(raw) - _PROXY_KEYS
    if unknown:
        raise ConfigError(
            f"{where} has unknown key {names(unknown)}; allowed: {names(_PROXY_KEYS)}."
        )
    host = get_value(raw, "host", str, DEFAULT_HOST, where)
    port = get_value(raw, "port", int, DEFAULT_PORT, where)
    if not 0 <= port <= 65535:
        raise ConfigError(
            f"{where} port = {port} is out of range; use 1-65535 (or 0 for any free port)."
        )
    max_body = get_value(raw, "max_body_bytes", int, DEFAULT_MAX_BODY_BYTES, where)
    if max_body < 1024:
        raise ConfigError(f"{where} max_body_bytes = {max_body} is too small; use at least 1024.")
    token = get_value(raw, "access_token", str, "", where) or None
    allow_remote = get_value(raw, "allow_remote", bool, False, where)
    return ProxySettings(
        host,
        port,
        max_body,
        token,
        allow_remote,
        allowed_hosts=_allowed_hosts(raw, where),
        allowed_origins=_allowed_origins(raw, where),
    )


def _allowed_hosts(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    """Host header values (a name, or name:port) accepted beyond 127.0.0.1, localhost, ::1."""
    hosts = strings(raw, "allowed_hosts", where, '"host.docker.internal"')
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise ConfigError(
                f"{where}: allowed_hosts entry {host!r} is not a host name; write a name or "
                'name:port as a client puts it in its Host header, like "myhost.lan:8787".'
            )
    return tuple(hosts)


def _allowed_origins(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    """Browser origins (scheme://host[:port]) whose pages may call Relayscope with its keys."""
    origins = strings(raw, "allowed_origins", where, '"http://localhost:3000"')
    for origin in origins:
        if origin in ("*", "null"):
            raise ConfigError(
                f"{where}: allowed_origins cannot hold {origin!r}: that would let any web page "
                "(or any sandboxed frame or file) use your provider keys; list the exact "
                'origins of the web apps you trust, like "http://localhost:3000".'
            )
        parts = urlsplit(origin)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.path
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ConfigError(
                f"{where}: allowed_origins entry {origin!r} is not an origin; write scheme, "
                'host and port only, as a browser sends it, like "http://localhost:3000".'
            )
    return tuple(origins)


def _check_providers(providers: list[Provider], path: Path) -> None:
    seen: set[str] = set()
    for provider in providers:
        if provider.name in seen:
            raise ConfigError(
                f"{path}: two providers are named '{provider.name}'; give each a unique name."
            )
        seen.add(provider.name)
    defaults = [p.name for p in providers if p.default]
    if len(defaults) > 1:
        raise ConfigError(
            f"{path}: providers {names(defaults)} are all marked default = true; keep only one."
        )
