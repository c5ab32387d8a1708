"""Where keys live: keyring detection that never hangs, the process's store and its cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from relayscope.config import secrets
from relayscope.config.secrets import MemoryKeyStore


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(secrets, "_available", None)
    secrets.reset_key_store()
    yield
    secrets.reset_key_store()


class RealishKeyring(KeyringBackend):
    """A backend keyring would count as real (priority > 0), keeping passwords in memory."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.passwords:
            raise keyring.errors.PasswordDeleteError("none")
        del self.passwords[(service, username)]


@pytest.fixture
def realish(monkeypatch: pytest.MonkeyPatch) -> Iterator[RealishKeyring]:
    monkeypatch.delenv(secrets.NO_KEYRING_ENV, raising=False)
    backend = RealishKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_env_var_turns_the_keyring_off_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_probe() -> bool:
        raise AssertionError("probed the keyring although RELAYSCOPE_NO_KEYRING=1")

    monkeypatch.setattr(secrets, "_probe", must_not_probe)
    monkeypatch.setenv(secrets.NO_KEYRING_ENV, "1")
    assert secrets.system_keyring_available() is False
    assert secrets.key_store() is None


@pytest.mark.parametrize("value", ["", "0"])
def test_empty_or_zero_env_var_leaves_the_keyring_on(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(secrets.NO_KEYRING_ENV, value)
    monkeypatch.setattr(secrets, "_probe", lambda: True)
    assert secrets.system_keyring_available() is True
    assert isinstance(secrets.key_store(), secrets.KeyringStore)


def test_a_real_backend_is_available(realish: RealishKeyring) -> None:
    assert secrets.system_keyring_available() is True


def test_fail_null_and_empty_chainer_backends_are_not_real(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not secrets.is_real_backend(fail.Keyring())
    assert not secrets.is_real_backend(null.Keyring())
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    assert not secrets.is_real_backend(chainer.ChainerBackend())
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [fail.Keyring(), RealishKeyring()])
    assert secrets.is_real_backend(chainer.ChainerBackend())


def test_the_fail_backend_means_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(secrets.NO_KEYRING_ENV, raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert secrets.system_keyring_available() is False
    finally:
        keyring.set_keyring(previous)


def test_a_hanging_backend_is_given_up_on_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(secrets.NO_KEYRING_ENV, raising=False)
    released = threading.Event()
    monkeypatch.setattr(secrets, "_probe", lambda: released.wait(60) or True)
    started = time.monotonic()
    try:
        # Answered while the probe still hangs (it answers True once released)...
        assert secrets.system_keyring_available(timeout=0.2) is False
        # ...after the 0.2 s asked for, not the 3 s default: a bound the default fails,
        # 2.8 s above what was asked for so that a loaded machine does not.
        assert time.monotonic() - started < secrets.PROBE_TIMEOUT
    finally:
        released.set()


def test_a_probe_that_raises_means_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(secrets.NO_KEYRING_ENV, raising=False)

    def broken() -> object:
        raise RuntimeError("dbus exploded")

    monkeypatch.setattr(keyring, "get_keyring", broken)
    assert secrets.system_keyring_available() is False


def test_keyring_store_round_trip(realish: RealishKeyring) -> None:
    store = secrets.KeyringStore()
    assert store.get("acme") is None
    store.set("acme", "sk-acme-123")
    assert realish.passwords[("relayscope", "acme")] == "sk-acme-123"
    assert store.get("acme") == "sk-acme-123"
    store.delete("acme")
    store.delete("acme")  # deleting what is not there is fine
    assert store.get("acme") is None
    assert "sk-" not in repr(store)


def test_keyring_errors_become_a_sentence_without_the_key(
    realish: RealishKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError(f"cannot store {password}")

    monkeypatch.setattr(realish, "set_password", locked)
    with pytest.raises(secrets.KeyStoreError) as caught:
        secrets.KeyringStore().set("acme", "sk-very-secret")
    assert "sk-very-secret" not in str(caught.value)
    assert "'acme'" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_stored_key_reads_once_and_forgets_on_request() -> None:
    reads: list[str] = []

    class Counting(MemoryKeyStore):
        def get(self, provider: str) -> str | None:
            reads.append(provider)
            return super().get(provider)

    store = Counting({"acme": "sk-1"})
    secrets.use_key_store(store)
    assert secrets.stored_key("acme") == "sk-1"
    assert secrets.stored_key("acme") == "sk-1"
    assert secrets.stored_key("missing") is None
    assert reads == ["acme", "missing"]
    store.set("acme", "sk-2")
    assert secrets.stored_key("acme") == "sk-1"
    secrets.forget_cached_keys()
    assert secrets.stored_key("acme") == "sk-2"


def test_no_store_means_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(secrets.NO_KEYRING_ENV, "1")
    assert secrets.stored_key("acme") is None
    secrets.use_key_store(None)
    assert secrets.key_store() is None


def test_an_unreadable_key_is_none_not_a_crash() -> None:
    class Broken(MemoryKeyStore):
        def get(self, provider: str) -> str | None:
            raise secrets.KeyStoreError("locked")

    secrets.use_key_store(Broken())
    assert secrets.stored_key("acme") is None
