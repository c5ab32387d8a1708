"""What the configuration is: providers, proxy, OpenTelemetry and storage settings, defaults."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from relayscope.config.secrets import stored_key

APP_NAME = "relayscope"
DEMO_PROVIDER = "demo"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_UPSTREAM_TIMEOUT = 600.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


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
