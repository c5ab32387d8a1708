"""Relayscope's TOML configuration: providers, proxy settings, validation and default paths."""

from __future__ import annotations

import fnmatch
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from relayscope.config.secrets import stored_key

APP_NAME = "relayscope"
DEMO_PROVIDER = "demo"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_UPSTREAM_TIMEOUT = 600.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


#: A Host header value: a name or IPv4 address, or a bracketed IPv6 address, optional :port.
_HOST = re.compile(r"(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")


class ConfigError(Exception):
    """A configuration mistake, worded as one sentence a person can act on."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A provider's own price for models matching a glob, in USD per million tokens.

    `cached` (cache reads) and `cache_write` default to the input price when not given."""

    pattern: str
    input: float
    output: float
    cached: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """One upstream that speaks the OpenAI format."""

    name: str
    base_url: str
    api_key: str | None = None
    api_key_env: str | None = None
    models: tuple[str, ...] = ()
    stream_required: tuple[str, ...] = ()
    default: bool = False
    capture_usage: bool = True
    timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    api_key_keyring: bool = False
    #: Resellers: list prices (genai-prices) times this; None = list prices as they are.
    price_multiplier: float | None = None
    #: Resellers: their own prices per model glob, used before any list price.
    prices: tuple[ModelPrice, ...] = ()
    #: How the key is sent: "bearer" (Authorization: Bearer KEY), "x-api-key" (Anthropic's
    #: header), or "auto": x-api-key for Anthropic Messages paths, bearer for the rest.
    auth: str = "auto"

    def key_header(self, endpoint: str) -> str:
        """The header the key goes in for a request to `endpoint`: "authorization" or
        "x-api-key"."""
        if self.auth == "x-api-key" or (self.auth == "auto" and endpoint.startswith("messages")):
            return "x-api-key"
        return "authorization"

    def key(self) -> str | None:
        """The key to send upstream: the literal one, else the one in the system keyring
        (`api_key_keyring = true`; read once per process), else the environment variable's."""
        if self.api_key:
            return self.api_key
        if self.api_key_keyring and (stored := stored_key(self.name)):
            return stored
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None

    def serves(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)

    def requires_stream(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.stream_required)

    @property
    def is_demo(self) -> bool:
        return self.name == DEMO_PROVIDER

    @property
    def is_local(self) -> bool:
        """Served inside the proxy (demo, playback): no key, no network."""
        return self.base_url.endswith(".relayscope.invalid/v1")


DEMO = Provider(
    name=DEMO_PROVIDER,
    base_url="http://demo.relayscope.invalid/v1",
    models=("demo-*",),
)


PLAYBACK = Provider(
    name="playback",
    base_url="http://playback.relayscope.invalid/v1",
    models=("playback-*",),
    # Recordings answer the request as the client sent it, and already hold their usage.
    capture_usage=False,
)


@dataclass(frozen=True, slots=True)
class ProxySettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    access_token: str | None = None
    allow_remote: bool = False
    # Extra Host names (beyond the loopback ones) and browser origins that may use the proxy
    # (relayscope.proxy.addons.local_guard); both empty by default.
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    """Optional export of every call as OpenTelemetry spans (off unless an endpoint is set)."""

    endpoint: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    #: Put prompts and answers on the spans (`gen_ai.input.messages`, ...); off by default.
    capture_content: bool = False


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """What `relayscope prune` keeps when it is given no limits of its own (None: no limit)."""

    keep_days: float | None = None
    max_size_mb: float | None = None


@dataclass(frozen=True, slots=True)
class Config:
    proxy: ProxySettings = field(default_factory=ProxySettings)
    providers: tuple[Provider, ...] = (DEMO,)
    path: Path | None = None
    otlp: OtlpSettings = field(default_factory=OtlpSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)

    def provider(self, name: str) -> Provider | None:
        for provider in self.providers:
            if provider.name == name:
                return provider
        return None

    @property
    def default_provider(self) -> Provider | None:
        for provider in self.providers:
            if provider.default:
                return provider
        return None

    def secrets(self) -> list[str]:
        """Every provider key this config can send upstream (for redaction checks)."""
        return [key for p in self.providers if (key := p.key())]


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_db_path() -> Path:
    return default_data_dir() / "relayscope.db"


_PROXY_KEYS = {
    "host",
    "port",
    "max_body_bytes",
    "access_token",
    "allow_remote",
    "allowed_hosts",
    "allowed_origins",
}
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
            f"{path}: unknown section {_names(unknown)}; only [proxy], [[providers]], "
            "[otlp], [demo] and [storage] exist."
        )
    proxy = _parse_proxy(data.get("proxy", {}), path)
    raw_providers = data.get("providers", [])
    if not isinstance(raw_providers, list):
        raise ConfigError(f"{path}: 'providers' must be a list of [[providers]] tables.")
    providers = [_parse_provider(raw, index, path) for index, raw in enumerate(raw_providers)]
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
            f"{where} has unknown key {_names(unknown)}; allowed: 'keep_days', 'max_size_mb'."
        )
    limits = {}
    for key in ("keep_days", "max_size_mb"):
        value = _get(raw, key, (int, float, type(None)), None, where)
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
        raise ConfigError(f"{where} has unknown key {_names(unknown)}; allowed: 'enabled'.")
    if "enabled" not in raw:
        return None
    return bool(_get(raw, "enabled", bool, True, where))


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
            f"{where} has unknown key {_names(unknown)}; allowed: 'endpoint', 'headers', "
            "'capture_content'."
        )
    endpoint = _get(raw, "endpoint", str, "", where).strip()
    if endpoint:
        _check_url(endpoint, where)
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigError(
            f'{where}: headers must be a table of strings, like {{ authorization = "Bearer …" }}.'
        )
    capture = _get(raw, "capture_content", bool, False, where)
    return OtlpSettings(endpoint.rstrip("/"), tuple(sorted(headers.items())), capture)


def _parse_proxy(raw: object, path: Path) -> ProxySettings:
    where = f"{path}: [proxy]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table.")
    unknown = set(raw) - _PROXY_KEYS
    if unknown:
        raise ConfigError(
            f"{where} has unknown key {_names(unknown)}; allowed: {_names(_PROXY_KEYS)}."
        )
    host = _get(raw, "host", str, DEFAULT_HOST, where)
    port = _get(raw, "port", int, DEFAULT_PORT, where)
    if not 0 <= port <= 65535:
        raise ConfigError(
            f"{where} port = {port} is out of range; use 1-65535 (or 0 for any free port)."
        )
    max_body = _get(raw, "max_body_bytes", int, DEFAULT_MAX_BODY_BYTES, where)
    if max_body < 1024:
        raise ConfigError(f"{where} max_body_bytes = {max_body} is too small; use at least 1024.")
    token = _get(raw, "access_token", str, "", where) or None
    allow_remote = _get(raw, "allow_remote", bool, False, where)
    return ProxySettings(
        host,
        port,
        max_body,
        token,
        allow_remote,
        allowed_hosts=_allowed_hosts(raw, where),
        allowed_origins=_allowed_origins(raw, where),
    )


def _strings(raw: dict[str, Any], key: str, where: str, example: str) -> list[str]:
    value = raw.get(key, [])
    # A tuple too: the app's dialogs hand back the loaded ProxySettings as a dict.
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise ConfigError(f"{where}: {key} must be a list of strings like [{example}].")
    return [v.strip().lower() for v in value]


def _allowed_hosts(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    """Host header values (a name, or name:port) accepted beyond 127.0.0.1, localhost, ::1."""
    hosts = _strings(raw, "allowed_hosts", where, '"host.docker.internal"')
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise ConfigError(
                f"{where}: allowed_hosts entry {host!r} is not a host name; write a name or "
                'name:port as a client puts it in its Host header, like "myhost.lan:8787".'
            )
    return tuple(hosts)


def _allowed_origins(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    """Browser origins (scheme://host[:port]) whose pages may call Relayscope with its keys."""
    origins = _strings(raw, "allowed_origins", where, '"http://localhost:3000"')
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


def _parse_provider(raw: object, index: int, path: Path) -> Provider:
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
            f"{where} has unknown key {_names(unknown)}; allowed: {_names(_PROVIDER_KEYS)}."
        )
    base_url = raw.get("base_url")
    if name == DEMO_PROVIDER and base_url is None:
        base_url = DEMO.base_url
    if not isinstance(base_url, str) or not base_url:
        raise ConfigError(f'{where} needs base_url = "https://…/v1".')
    _check_url(base_url, where)
    try:
        timeout = float(_get(raw, "timeout", (int, float), DEFAULT_UPSTREAM_TIMEOUT, where))
    except OverflowError:  # a TOML integer too big for a float
        timeout = math.inf
    # nan and inf are valid TOML floats but no timeout a socket accepts.
    if not math.isfinite(timeout) or timeout <= 0:
        raise ConfigError(f"{where}: timeout must be a positive number of seconds.")
    return Provider(
        name=name,
        base_url=base_url.rstrip("/"),
        api_key=_get(raw, "api_key", str, "", where) or None,
        api_key_env=_get(raw, "api_key_env", str, "", where) or None,
        models=_globs(raw, "models", where, ("demo-*",) if name == DEMO_PROVIDER else ()),
        stream_required=_globs(raw, "stream_required", where, ()),
        default=_get(raw, "default", bool, False, where),
        capture_usage=_get(raw, "capture_usage", bool, True, where),
        timeout=timeout,
        api_key_keyring=_get(raw, "api_key_keyring", bool, False, where),
        price_multiplier=_price_multiplier(raw, where),
        prices=_prices(raw.get("prices", {}), where),
        auth=_auth(raw, where),
    )


def _auth(raw: dict[str, Any], where: str) -> str:
    auth = str(_get(raw, "auth", str, "auto", where))
    if auth not in AUTH_MODES:
        raise ConfigError(
            f'{where}: auth = "{auth}" is not one of "auto" (x-api-key for /v1/messages, '
            'bearer for the rest), "bearer" or "x-api-key"; use one of those.'
        )
    return auth


def _price_multiplier(raw: dict[str, Any], where: str) -> float | None:
    if "price_multiplier" not in raw:
        return None
    value = float(_get(raw, "price_multiplier", (int, float), 1.0, where))
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
            allowed = _names(_PRICE_KEYS)
            raise ConfigError(f"{here} has unknown key {_names(unknown)}; allowed: {allowed}.")
        values: dict[str, float | None] = {}
        for key in _PRICE_KEYS:
            value = table.get(key)
            if value is not None:
                value = float(_get(table, key, (int, float), 0, here))
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
            f"{path}: providers {_names(defaults)} are all marked default = true; keep only one."
        )


def _check_url(url: str, where: str) -> None:
    try:
        parts = urlsplit(url)
        is_http = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[::1"
        is_http = False
    if not is_http:
        raise ConfigError(
            f"{where}: base_url '{url}' is not an http(s) URL; write it like https://api.example.com/v1."
        )


def _get(raw: dict[str, Any], key: str, kind: Any, default: Any, where: str) -> Any:
    value = raw.get(key, default)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    bad_bool = isinstance(value, bool) and bool not in kinds
    if bad_bool or not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds).replace("str", "a string")
        raise ConfigError(f"{where}: {key} must be {wanted}, not {value!r}.")
    return value


def _globs(raw: dict[str, Any], key: str, where: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f'{where}: {key} must be a list of model globs like ["gpt-*"].')
    return tuple(value)


def _names(names: object) -> str:
    items = sorted(names) if isinstance(names, (set, frozenset)) else list(names)  # type: ignore[call-overload]
    return ", ".join(f"'{n}'" for n in items)
