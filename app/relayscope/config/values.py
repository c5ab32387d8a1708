"""Typed readers of TOML values that name the offending key in their error."""

from __future__ import annotations

from typing import Any

from relayscope.config.schema import ConfigError


def strings(raw: dict[str, Any], key: str, where: str, example: str) -> list[str]:
    value = raw.get(key, [])
    # A tuple too: the app's dialogs hand back the loaded ProxySettings as a dict.
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise ConfigError(f"{where}: {key} must be a list of strings like [{example}].")
    return [v.strip().lower() for v in value]


def get_value(raw: dict[str, Any], key: str, kind: Any, default: Any, where: str) -> Any:
    value = raw.get(key, default)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    bad_bool = isinstance(value, bool) and bool not in kinds
    if bad_bool or not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds).replace("str", "a string")
        raise ConfigError(f"{where}: {key} must be {wanted}, not {value!r}.")
    return value


def globs(raw: dict[str, Any], key: str, where: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f'{where}: {key} must be a list of model globs like ["gpt-*"].')
    return tuple(value)


def names(names: object) -> str:
    items = sorted(names) if isinstance(names, (set, frozenset)) else list(names)  # type: ignore[call-overload]
    return ", ".join(f"'{n}'" for n in items)
