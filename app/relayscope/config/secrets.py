"""Where provider API keys live: the system keyring when a real one answers, else nowhere here.

The `keyring` package is imported lazily, and only after `system_keyring_available()` has seen
a real backend answer within a few seconds: on some Linux desktops the Secret Service sits on a
D-Bus that never replies, and a config loader must not hang on that. Keys are never logged and
never appear in an exception message or a repr.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

SERVICE = "relayscope"
"""The keyring service name; the username is the provider's name."""

NO_KEYRING_ENV = "RELAYSCOPE_NO_KEYRING"
"""Set to 1 (tests, headless servers) to never touch the system keyring."""

PROBE_TIMEOUT = 3.0
_PROBE_USER = "relayscope-probe"


class KeyStoreError(Exception):
    """A key could not be read, stored or removed; worded as a sentence (never with the key)."""


class KeyStore(Protocol):
    """Somewhere provider keys are kept, by provider name."""

    def get(self, provider: str) -> str | None: ...

    def set(self, provider: str, key: str) -> None: ...

    def delete(self, provider: str) -> None: ...


class KeyringStore:
    """Keys in the system keyring (service "relayscope", username = provider name)."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service

    def __repr__(self) -> str:
        return f"KeyringStore(service={self.service!r})"

    def get(self, provider: str) -> str | None:
        import keyring
        import keyring.errors

        try:
            return keyring.get_password(self.service, provider) or None
        except keyring.errors.KeyringError as exc:
            raise KeyStoreError(_failed("read", provider, exc)) from None

    def set(self, provider: str, key: str) -> None:
        import keyring
        import keyring.errors

        try:
            keyring.set_password(self.service, provider, key)
        except keyring.errors.KeyringError as exc:
            # `from None`: a backend's exception could carry the secret in its arguments.
            raise KeyStoreError(_failed("store", provider, exc)) from None

    def delete(self, provider: str) -> None:
        import keyring
        import keyring.errors

        try:
            keyring.delete_password(self.service, provider)
        except keyring.errors.PasswordDeleteError:
            pass  # nothing stored: already the state we want
        except keyring.errors.KeyringError as exc:
            raise KeyStoreError(_failed("remove", provider, exc)) from None


class MemoryKeyStore:
    """Keys in a dict: for tests, and for callers that want no keyring at all."""

    def __init__(self, keys: dict[str, str] | None = None) -> None:
        self.keys: dict[str, str] = dict(keys or {})

    def __repr__(self) -> str:
        return f"MemoryKeyStore(providers={sorted(self.keys)!r})"

    def get(self, provider: str) -> str | None:
        return self.keys.get(provider)

    def set(self, provider: str, key: str) -> None:
        self.keys[provider] = key

    def delete(self, provider: str) -> None:
        self.keys.pop(provider, None)


def _failed(action: str, provider: str, exc: Exception) -> str:
    return (
        f"The system keyring could not {action} the key for '{provider}' "
        f"({type(exc).__name__}); unlock the keyring or set RELAYSCOPE_NO_KEYRING=1 "
        "to keep keys in the config file."
    )


# --------------------------------------------------------------------------- availability

_lock = threading.Lock()
_available: bool | None = None  # the probe's answer, once per process


def system_keyring_available(timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a real system keyring answers; never raises, never waits more than `timeout`.

    False when RELAYSCOPE_NO_KEYRING is set (to anything but "" or "0"), when `keyring` is not
    installed, when its backend is the fail/null one or a chainer with no real backends, and
    when the backend does not answer in time. The answer is kept for the process.
    """
    global _available
    if os.environ.get(NO_KEYRING_ENV, "").strip() not in ("", "0"):
        return False
    with _lock:
        if _available is not None:
            return _available
    answers: list[bool] = []
    # A daemon thread: if D-Bus never replies, it is abandoned rather than waited for.
    probe = threading.Thread(
        target=lambda: answers.append(_probe()), name="relayscope-keyring-probe", daemon=True
    )
    probe.start()
    probe.join(timeout)
    with _lock:
        _available = bool(answers and answers[0])
        return _available


def _probe() -> bool:
    try:
        import keyring

        if not is_real_backend(keyring.get_keyring()):
            return False
        keyring.get_password(SERVICE, _PROBE_USER)  # proves the backend answers at all
    except Exception:  # any failure (ImportError, D-Bus errors, ...) means "not available"
        return False
    return True


def is_real_backend(backend: object) -> bool:
    """False for keyring's fail and null backends and for a chainer with no real backend."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return any(is_real_backend(b) for b in backend.backends)
    return True


# --------------------------------------------------------------------------- the process's store

_override: tuple[KeyStore | None] | None = None  # set by use_key_store()
_cache: dict[str, str | None] = {}


def use_key_store(store: KeyStore | None) -> None:
    """Use `store` (None: no keyring at all) instead of the system keyring; clears the cache."""
    global _override
    with _lock:
        _override = (store,)
        _cache.clear()


def reset_key_store() -> None:
    """Go back to the system keyring (when available); clears the cache."""
    global _override
    with _lock:
        _override = None
        _cache.clear()


def key_store() -> KeyStore | None:
    """The store keys go to and come from: the override, else the system keyring if any."""
    with _lock:
        override = _override
    if override is not None:
        return override[0]
    return KeyringStore() if system_keyring_available() else None


def stored_key(provider: str) -> str | None:
    """The provider's key from `key_store()`, read once per process; None if missing/unreadable."""
    with _lock:
        if provider in _cache:
            return _cache[provider]
    store = key_store()
    key: str | None = None
    if store is not None:
        try:
            key = store.get(provider)
        except KeyStoreError:
            key = None
    with _lock:
        _cache[provider] = key
    return key


def forget_cached_keys() -> None:
    """Drop the keys read so far (after they were changed), so the next read sees the new ones."""
    with _lock:
        _cache.clear()
