"""Saving the config: it comes back equal; keys go to the keyring or a 0600 file, atomically."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayscope.config import DEMO, Config, Provider, ProxySettings, load_config, secrets
from relayscope.config.secrets import KeyStoreError, MemoryKeyStore
from relayscope.config.writer import (
    ConfigWriteError,
    config_to_toml,
    save_config,
    toml_string,
)

ACME = Provider(
    name="acme",
    base_url="https://api.acme.test/v1",
    api_key_env="ACME_API_KEY",
    models=("gpt-*", "claude-*"),
    stream_required=("gpt-*",),
    default=True,
)
BETA = Provider(name="beta", base_url="http://127.0.0.1:9000/v1", capture_usage=False, timeout=2.5)


@pytest.fixture(autouse=True)
def no_system_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(secrets.NO_KEYRING_ENV, "1")
    secrets.reset_key_store()
    yield
    secrets.reset_key_store()


def config_at(path: Path, *providers: Provider, proxy: ProxySettings | None = None) -> Config:
    if not providers:  # as the loader has it: the demo is on by default on a first run
        providers = (DEMO,)
    return Config(proxy=proxy or ProxySettings(), providers=providers, path=path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    proxy = ProxySettings(
        port=9999,
        max_body_bytes=4096,
        access_token="tok",
        allow_remote=True,
        allowed_hosts=("myhost.lan",),
        allowed_origins=("http://localhost:3000",),
    )
    config = config_at(path, ACME, BETA, proxy=proxy)
    assert load_config(save_config(config, path, {})) == config


def test_the_file_reads_like_the_documented_example(tmp_path: Path) -> None:
    text = config_to_toml(config_at(tmp_path / "c.toml", ACME))
    assert text == (
        '[proxy]\nhost = "127.0.0.1"\nport = 8787\n\n'
        '[[providers]]\nname = "acme"\nbase_url = "https://api.acme.test/v1"\n'
        'api_key_env = "ACME_API_KEY"\nmodels = ["gpt-*", "claude-*"]\n'
        'stream_required = ["gpt-*"]\ndefault = true\n'
    )


def test_the_unchanged_demo_is_not_written_but_a_changed_one_is(tmp_path: Path) -> None:
    assert "demo" not in config_to_toml(config_at(tmp_path / "c.toml", ACME))
    changed = dataclasses.replace(DEMO, models=("toy-*",))
    path = tmp_path / "c.toml"
    config = config_at(path, ACME, changed)
    assert 'name = "demo"' in config_to_toml(config)
    assert load_config(save_config(config, path, {})) == config


def test_a_demo_placed_before_others_keeps_its_place(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    config = config_at(path, DEMO, ACME)
    assert load_config(save_config(config, path, {})).providers == (DEMO, ACME)


def test_owner_only_permissions_and_a_private_new_folder(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "new" / "relayscope" / "config.toml"
    old_umask = os.umask(0o022)
    try:
        save_config(config_at(path, ACME), path, {"acme": "sk-secret"})
    finally:
        os.umask(old_umask)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700
    assert mode(tmp_path) == 0o755  # a folder we did not create is not ours to change


def test_an_existing_loose_file_becomes_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    path.chmod(0o644)
    save_config(config_at(path, ACME), path, {})
    assert mode(path) == 0o600


def test_the_write_is_atomic_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    save_config(config_at(path, ACME), path, {})
    before = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ConfigWriteError, match="No space left on device") as caught:
        save_config(config_at(path, ACME, BETA), path, {})
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
    monkeypatch.undo()
    save_config(config_at(path, ACME, BETA), path, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_an_unwritable_place_is_a_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = blocker / "config.toml"
    with pytest.raises(ConfigWriteError, match="could not be saved"):
        save_config(config_at(path, ACME), path, {})


def test_new_keys_go_to_the_keyring_when_there_is_one(tmp_path: Path) -> None:
    store = MemoryKeyStore()
    path = tmp_path / "config.toml"
    save_config(config_at(path, ACME, BETA), path, {"beta": "sk-beta-secret"}, key_store=store)
    assert store.keys == {"beta": "sk-beta-secret"}
    text = path.read_text()
    assert "sk-beta-secret" not in text
    assert "api_key_keyring = true" in text
    secrets.use_key_store(store)
    beta = load_config(path).provider("beta")
    assert beta is not None and beta.api_key_keyring and beta.key() == "sk-beta-secret"


def test_the_process_key_store_is_used_by_default(tmp_path: Path) -> None:
    store = MemoryKeyStore()
    secrets.use_key_store(store)
    path = tmp_path / "config.toml"
    save_config(config_at(path, BETA), path, {"beta": "sk-1"})
    assert store.keys == {"beta": "sk-1"}
    assert load_config(path).providers[0].key() == "sk-1"
    save_config(load_config(path), path, {"beta": "sk-2"})
    assert load_config(path).providers[0].key() == "sk-2"  # the cached sk-1 was dropped


def test_without_a_keyring_new_keys_go_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(config_at(path, ACME, BETA), path, {"beta": 'sk-"quoted"\\key'})
    assert mode(path) == 0o600
    beta = load_config(path).provider("beta")
    assert beta is not None and beta.api_key == 'sk-"quoted"\\key' and not beta.api_key_keyring


def test_a_failing_keyring_falls_back_to_the_file(tmp_path: Path) -> None:
    class Locked(MemoryKeyStore):
        def set(self, provider: str, key: str) -> None:
            raise KeyStoreError("locked")

    path = tmp_path / "config.toml"
    save_config(config_at(path, BETA), path, {"beta": "sk-b"}, key_store=Locked())
    assert load_config(path).providers[0].api_key == "sk-b"


def test_env_references_stay_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "sk-from-the-environment")
    path = tmp_path / "config.toml"
    save_config(config_at(path, ACME), path, {}, key_store=MemoryKeyStore())
    text = path.read_text()
    assert "sk-from-the-environment" not in text
    assert 'api_key_env = "ACME_API_KEY"' in text


def test_none_forgets_a_key_and_removes_it_from_the_keyring(tmp_path: Path) -> None:
    store = MemoryKeyStore({"beta": "sk-old", "gone": "sk-gone"})
    path = tmp_path / "config.toml"
    beta = dataclasses.replace(BETA, api_key_keyring=True)
    save_config(config_at(path, beta), path, {"beta": None, "gone": None}, key_store=store)
    assert store.keys == {}
    assert load_config(path).providers[0] == BETA


def test_keys_are_untouched_when_not_mentioned(tmp_path: Path) -> None:
    store = MemoryKeyStore({"beta": "sk-b"})
    path = tmp_path / "config.toml"
    beta = dataclasses.replace(BETA, api_key_keyring=True)
    acme = dataclasses.replace(ACME, api_key="sk-literal")
    save_config(config_at(path, acme, beta), path, {}, key_store=store)
    assert store.keys == {"beta": "sk-b"}
    loaded = load_config(path)
    assert loaded.providers[:2] == (acme, beta)


def test_a_failed_write_keeps_the_keys_the_old_file_points_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryKeyStore({"beta": "sk-b"})
    path = tmp_path / "config.toml"
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError(13, "no")))
    with pytest.raises(ConfigWriteError):
        save_config(config_at(path, BETA), path, {"beta": None}, key_store=store)
    assert store.keys == {"beta": "sk-b"}


def test_saving_never_loses_other_providers(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = config_at(path, ACME, BETA, dataclasses.replace(BETA, name="gamma", default=False))
    save_config(config, path, {})
    loaded = load_config(path)
    save_config(loaded, path, {"beta": "sk-new"})
    again = load_config(path)
    assert [p.name for p in again.providers] == ["acme", "beta", "gamma"]
    assert again.provider("acme") == ACME
    assert again.provider("gamma") == config.provider("gamma")
    assert again.proxy == config.proxy


@pytest.mark.parametrize("demo", [True, False])
def test_the_demo_choice_survives_a_save(tmp_path: Path, demo: bool) -> None:
    """With providers the demo is off by default and without them on: a save writes
    `[demo] enabled` only where the config differs from that default."""
    path = tmp_path / "config.toml"
    users = (ACME, DEMO) if demo else (ACME,)
    for providers in (users, (DEMO,) if demo else ()):
        config = Config(providers=providers, path=path)
        text = config_to_toml(config)
        assert ("[demo]" in text) == (demo != (providers == () or providers == (DEMO,)))
        assert load_config(save_config(config, path, {})) == config


def test_a_symlinked_config_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "config.toml"
    real.parent.mkdir()
    real.write_text("")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    save_config(config_at(link, ACME), link, {})
    assert link.is_symlink()
    assert load_config(real).provider("acme") == ACME


@pytest.mark.parametrize(
    "text",
    ["plain", 'qu"ote', "back\\slash", "tab\tnew\nline\r", "\x00\x1f\x7f", "ünïcødé ✓ 🔑", "'"],
)
def test_strings_are_escaped_per_toml(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


# --------------------------------------------------------------------------- round trip, generated

names = st.text(min_size=1, max_size=10).filter(
    lambda n: "/" not in n and n == n.strip() and n != "demo"
)
optional_text = st.none() | st.text(min_size=1, max_size=10)
globs = st.lists(st.text(min_size=1, max_size=8), max_size=3).map(tuple)
providers = st.builds(
    Provider,
    name=names,
    base_url=st.sampled_from(["https://a.test/v1", "http://127.0.0.1:8/v1", "https://[::1]:9"]),
    api_key=optional_text,
    api_key_env=optional_text,
    models=globs,
    stream_required=globs,
    capture_usage=st.booleans(),
    timeout=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False),
    api_key_keyring=st.booleans(),
)
proxies = st.builds(
    ProxySettings,
    host=st.text(max_size=10),
    port=st.integers(0, 65535),
    max_body_bytes=st.integers(1024, 2**40),
    access_token=optional_text,
    allow_remote=st.booleans(),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    proxies,
    st.lists(providers, max_size=4, unique_by=lambda p: p.name),
    st.integers(0, 4),
    st.integers(-1, 4),
)
def test_any_valid_config_comes_back_equal(
    tmp_path: Path, proxy: ProxySettings, users: list[Provider], demo_at: int, default_at: int
) -> None:
    users = [dataclasses.replace(p, default=i == default_at) for i, p in enumerate(users)]
    users.insert(min(demo_at, len(users)), DEMO)
    path = tmp_path / "config.toml"
    config = Config(proxy=proxy, providers=tuple(users), path=path)
    assert load_config(save_config(config, path, {})) == config
