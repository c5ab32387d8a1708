"""Writing the TOML config back: keys to the keyring when there is one, atomically, owner-only."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from relayscope.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_UPSTREAM_TIMEOUT,
    DEMO,
    Config,
    ConfigError,
    Provider,
    demo_by_default,
    parse_config,
    secrets,
)

FILE_MODE = 0o600
DIR_MODE = 0o700

TomlValue = str | bool | int | float | Sequence[str]


class ConfigWriteError(Exception):
    """The config could not be saved; worded as one sentence a person can act on."""


def save_config(
    config: Config,
    path: Path,
    keys: Mapping[str, str | None],
    *,
    key_store: secrets.KeyStore | None = None,
) -> Path:
    """Write `config` to `path` as TOML and return the path.

    `keys` holds the keys the person changed, by provider name: a string is a new key, None
    (or "") forgets the stored one; a provider not in `keys` keeps what it had. A new key goes
    to `key_store` (default: the system keyring when available) and the file says
    `api_key_keyring = true`; without a keyring it is written as `api_key` into the file, which
    is why the file is always 0600. `api_key_env` references stay references. The built-in
    `demo` provider is written only if it differs from the built-in one.
    Raises ConfigWriteError (a sentence) if the file cannot be written.
    """
    store = key_store if key_store is not None else secrets.key_store()
    providers = [_with_key(p, keys, store) for p in config.providers]
    config = dataclasses.replace(config, providers=tuple(providers))
    text = config_to_toml(config)
    try:
        # Never write a file the loader would refuse: that would be a bug here, not the user's.
        parse_config(tomllib.loads(text), path)
    except (tomllib.TOMLDecodeError, ConfigError) as exc:
        message = f"{path}: not saved, the settings do not check out ({exc})."
        raise ConfigWriteError(message) from exc
    _write_atomically(path, text)
    if store is not None:
        # Only now: a save that failed must not have lost the keys the old file points to.
        for name in [name for name, key in keys.items() if not key]:
            _forget(store, name)
    secrets.forget_cached_keys()
    return path


def _with_key(
    provider: Provider, keys: Mapping[str, str | None], store: secrets.KeyStore | None
) -> Provider:
    if provider.name not in keys:
        return provider
    key = keys[provider.name]
    if not key:
        return dataclasses.replace(provider, api_key=None, api_key_keyring=False)
    if store is not None:
        try:
            store.set(provider.name, key)
        except secrets.KeyStoreError:
            pass  # no keyring after all: the 0600 file is the fallback, as without one
        else:
            return dataclasses.replace(provider, api_key=None, api_key_keyring=True)
    return dataclasses.replace(provider, api_key=key, api_key_keyring=False)


def _forget(store: secrets.KeyStore, name: str) -> None:
    # The file no longer refers to this key; a keyring that fails to delete it only leaves
    # an unused entry behind, which is no reason to fail a save that already happened.
    with contextlib.suppress(secrets.KeyStoreError):
        store.delete(name)


# --------------------------------------------------------------------------- TOML


def config_to_toml(config: Config) -> str:
    """The config as TOML: [proxy] then one [[providers]] table per provider."""
    proxy = config.proxy
    proxy_items: list[tuple[str, TomlValue]] = [("host", proxy.host), ("port", proxy.port)]
    if proxy.max_body_bytes != DEFAULT_MAX_BODY_BYTES:
        proxy_items.append(("max_body_bytes", proxy.max_body_bytes))
    if proxy.access_token:
        proxy_items.append(("access_token", proxy.access_token))
    if proxy.allow_remote:
        proxy_items.append(("allow_remote", True))
    if proxy.allowed_hosts:
        proxy_items.append(("allowed_hosts", proxy.allowed_hosts))
    if proxy.allowed_origins:
        proxy_items.append(("allowed_origins", proxy.allowed_origins))
    tables = [_table("[proxy]", proxy_items)]
    written = list(_written(config.providers))
    tables += [_table("[[providers]]", _provider_items(p)) + _prices_line(p) for p in written]
    demo = any(p.is_demo for p in config.providers)
    if demo != demo_by_default(config.providers, table=any(p.is_demo for p in written)):
        tables.append(_table("[demo]", [("enabled", demo)]))
    otlp = config.otlp
    if otlp.endpoint or otlp.headers or otlp.capture_content:
        items: list[tuple[str, TomlValue]] = [("endpoint", otlp.endpoint)]
        if otlp.capture_content:
            items.append(("capture_content", True))
        tables.append(_table("[otlp]", items))
        if config.otlp.headers:
            pairs = ", ".join(
                f"{toml_string(k)} = {toml_string(v)}" for k, v in config.otlp.headers
            )
            tables[-1] = tables[-1].rstrip("\n") + f"\nheaders = {{ {pairs} }}\n"
    return "\n".join(tables)


def _written(providers: Sequence[Provider]) -> Iterator[Provider]:
    for index, provider in enumerate(providers):
        # The loader appends the built-in demo when the file has none; anywhere but last,
        # or changed, it must be written to come back the same.
        if provider == DEMO and index == len(providers) - 1:
            continue
        yield provider


def _provider_items(provider: Provider) -> list[tuple[str, TomlValue]]:
    items: list[tuple[str, TomlValue]] = [
        ("name", provider.name),
        ("base_url", provider.base_url),
    ]
    if provider.api_key:
        items.append(("api_key", provider.api_key))
    if provider.api_key_keyring:
        items.append(("api_key_keyring", True))
    if provider.api_key_env:
        items.append(("api_key_env", provider.api_key_env))
    items.append(("models", provider.models))
    if provider.stream_required:
        items.append(("stream_required", provider.stream_required))
    if provider.default:
        items.append(("default", True))
    if not provider.capture_usage:
        items.append(("capture_usage", False))
    if provider.timeout != DEFAULT_UPSTREAM_TIMEOUT:
        items.append(("timeout", provider.timeout))
    if provider.price_multiplier is not None:
        items.append(("price_multiplier", provider.price_multiplier))
    if provider.auth != "auto":
        items.append(("auth", provider.auth))
    return items


def _prices_line(provider: Provider) -> str:
    """A reseller's own prices, as one inline table (kept when the app saves the file)."""
    if not provider.prices:
        return ""
    models = []
    for price in provider.prices:
        fields = [f"input = {toml_value(price.input)}", f"output = {toml_value(price.output)}"]
        if price.cached is not None:
            fields.append(f"cached = {toml_value(price.cached)}")
        if price.cache_write is not None:
            fields.append(f"cache_write = {toml_value(price.cache_write)}")
        models.append(f"{toml_string(price.pattern)} = {{ {', '.join(fields)} }}")
    return f"prices = {{ {', '.join(models)} }}\n"


def _table(header: str, items: Sequence[tuple[str, TomlValue]]) -> str:
    lines = [header] + [f"{key} = {toml_value(value)}" for key, value in items]
    return "\n".join(lines) + "\n"


def toml_value(value: TomlValue) -> str:
    """One TOML value: a basic string, bool, integer, float or array of strings."""
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # always has '.', 'e': a TOML float, exact on the way back
    return "[" + ", ".join(toml_string(item) for item in value) + "]"


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# --------------------------------------------------------------------------- the file


def _write_atomically(path: Path, text: str) -> None:
    """Write a 0600 temp file beside `path`, then rename it over: readers see old or new."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        message = f"{path}: not saved, a value has a character UTF-8 cannot hold."
        raise ConfigWriteError(message) from exc
    target = path.resolve() if path.is_symlink() else path  # keep a dotfiles symlink working
    try:
        _make_dir(target.parent)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigWriteError(_cannot(path, exc)) from exc
    try:
        with os.fdopen(fd, "wb") as file:
            if hasattr(os, "fchmod"):  # POSIX; mkstemp made it 0600 already, be explicit
                os.fchmod(file.fileno(), FILE_MODE)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ConfigWriteError(_cannot(path, exc)) from exc
    _sync_dir(target.parent)


def _make_dir(directory: Path) -> None:
    missing = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        parent.mkdir(mode=DIR_MODE)
        os.chmod(parent, DIR_MODE)  # mkdir's mode is filtered by the umask


def _sync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible everywhere (Windows), hence best effort.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _cannot(path: Path, exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    return f"{path}: could not be saved ({reason}); check that the folder exists and is writable."
