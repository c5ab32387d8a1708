"""The providers as being edited in the dialog, and what is wrong with a provider's fields."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from relayscope.config import DEFAULT_UPSTREAM_TIMEOUT, DEMO_PROVIDER, Provider


@dataclass(eq=False)
class Draft:
    """One provider as being edited; `original` is what the file had (None when added here)."""

    original: Provider | None
    name: str = ""
    base_url: str = ""
    new_key: str = ""
    forget_key: bool = False
    api_key_env: str = ""
    models: tuple[str, ...] = ()
    stream_required: tuple[str, ...] = ()
    default: bool = False
    capture_usage: bool = True
    timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    check: tuple[str, str, str] | None = None  # (tone, text, tooltip) of the last Test
    check_token: int = 0  # the Test whose answer is awaited; 0 = none

    @classmethod
    def of(cls, provider: Provider) -> Draft:
        return cls(
            original=provider,
            name=provider.name,
            base_url=provider.base_url,
            api_key_env=provider.api_key_env or "",
            models=provider.models,
            stream_required=provider.stream_required,
            default=provider.default,
            capture_usage=provider.capture_usage,
            timeout=provider.timeout,
        )

    @property
    def builtin(self) -> bool:
        return self.original is not None and self.original.name == DEMO_PROVIDER

    def keeps_stored_key(self) -> bool:
        return not self.new_key and not self.forget_key and self.original is not None

    def table(self) -> dict[str, Any]:
        """This provider as the loader would read it from a [[providers]] table."""
        table: dict[str, Any] = {
            "name": self.name,
            "base_url": self.base_url.strip(),
            "models": list(self.models),
            "stream_required": list(self.stream_required),
            "default": self.default,
            "capture_usage": self.capture_usage,
            "timeout": self.timeout,
        }
        if self.api_key_env.strip():
            table["api_key_env"] = self.api_key_env.strip()
        if self.keeps_stored_key() and self.original is not None:
            if self.original.api_key:
                table["api_key"] = self.original.api_key
            if self.original.api_key_keyring:
                table["api_key_keyring"] = True
        return table

    def key_status(self) -> str:
        """What the key field says while empty; never the key itself."""
        stored = self.original if self.keeps_stored_key() else None
        if stored is not None and stored.api_key_keyring:
            return "•••• stored in system keyring — type to replace"
        if stored is not None and stored.api_key:
            return "•••• stored in config file — type to replace"
        env = self.api_key_env.strip()
        if env:
            return f"from ${env} — or type a key"
        if self.forget_key:
            return "no key — the stored one is removed on Save"
        return "paste the API key (optional)"

    def key_for_test(self) -> Callable[[], str | None]:
        """A function giving the key a Test sends; it may read the keyring, so call it off
        the GUI thread."""
        typed = self.new_key.strip()
        env = self.api_key_env.strip() or None
        stored = self.original if self.keeps_stored_key() else None

        def key() -> str | None:
            if typed:
                return typed
            if stored is not None:
                return dataclasses.replace(stored, api_key_env=env).key()
            return (os.environ.get(env) or None) if env else None

        return key


def field_problems(draft: Draft, others: list[Draft]) -> dict[str, str]:
    """A sentence per field that is wrong, as the person types."""
    problems: dict[str, str] = {}
    name = draft.name
    if not name.strip():
        problems["name"] = "Give the provider a name; it is used to route calls to it."
    elif "/" in name:
        problems["name"] = "A name cannot contain “/”: clients write “name/model” to pick it."
    elif name != name.strip():
        problems["name"] = "Remove the spaces at the start or end of the name."
    elif any(other.name == name for other in others):
        problems["name"] = f"Another provider is already named “{name}”; pick another name."
    url = draft.base_url.strip()
    if not url:
        problems["base_url"] = "Enter the base URL, like https://api.example.com/v1."
    elif not is_http_url(url):
        problems["base_url"] = (
            "This is not an http(s) URL; write it like https://api.example.com/v1."
        )
    return problems


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def globs(text: str) -> tuple[str, ...]:
    return tuple(glob for part in text.split(",") if (glob := part.strip()))
