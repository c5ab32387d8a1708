"""The config loader: what a person writes, what they get, and the one sentence when it's wrong."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayscope.cli.main import main
from relayscope.config import (
    DEFAULT_PORT,
    DEMO,
    Config,
    ConfigError,
    Provider,
    load_config,
    parse_config,
    secrets,
)
from relayscope.config.secrets import MemoryKeyStore

ACME = '[[providers]]\nname = "acme"\nbase_url = "https://api.acme.test/v1"\n'


@pytest.fixture(autouse=True)
def no_system_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(secrets.NO_KEYRING_ENV, "1")
    secrets.reset_key_store()
    yield
    secrets.reset_key_store()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message and "Traceback" not in message, message
    return message


# --------------------------------------------------------------------------- happy paths


def test_a_missing_file_at_the_default_place_means_the_demo_only(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nowhere" / "config.toml")
    assert config.providers == (DEMO,)
    assert config.proxy.port == DEFAULT_PORT
    assert config.provider("demo") is DEMO


def test_a_missing_file_named_explicitly_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    with pytest.raises(ConfigError, match="no such config file") as caught:
        load_config(path, explicit=True)
    assert str(path) in str(caught.value)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[proxy]\nhost = "127.0.0.1"\nport = 8787\n\n'
        '[[providers]]\nname = "constreet"\nbase_url = "https://api.constreet.cc/v1/"\n'
        'api_key_env = "CONSTREET_API_KEY"\nmodels = ["gpt-*", "claude-*"]\n'
        'stream_required = ["gpt-*"]\ndefault = true\n',
    )
    config = load_config(path)
    constreet = config.provider("constreet")
    assert constreet == Provider(
        name="constreet",
        base_url="https://api.constreet.cc/v1",
        api_key_env="CONSTREET_API_KEY",
        models=("gpt-*", "claude-*"),
        stream_required=("gpt-*",),
        default=True,
    )
    assert config.default_provider is constreet
    assert config.providers == (constreet,)  # providers of one's own: no demo by default
    assert config.path == path


@pytest.mark.parametrize(
    ("text", "demo"),
    [
        ("", True),  # a first run: the demo answers
        (ACME, False),  # providers of one's own: IDE model pickers list only theirs
        (ACME + "\n[demo]\nenabled = true\n", True),
        ("[demo]\nenabled = false\n", False),
        (ACME + '\n[[providers]]\nname = "demo"\n', True),  # a demo table turns it on
        (ACME + '\n[[providers]]\nname = "demo"\n\n[demo]\nenabled = false\n', False),
    ],
)
def test_the_demo_is_on_without_providers_and_a_choice_with_them(
    tmp_path: Path, text: str, demo: bool
) -> None:
    config = load_config(write(tmp_path, text))
    assert (config.provider("demo") is not None) == demo


def test_a_wrong_demo_setting_says_what_to_write(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[demo\] has unknown key 'on'; allowed: 'enabled'"):
        load_config(write(tmp_path, "[demo]\non = true\n"))
    with pytest.raises(ConfigError, match=r"\[demo\]"):
        load_config(write(tmp_path, 'demo = "yes"\n'))


def test_storage_limits_are_read_and_checked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[storage]\nkeep_days = 30\nmax_size_mb = 512.5\n"))
    assert (config.storage.keep_days, config.storage.max_size_mb) == (30.0, 512.5)
    assert load_config(write(tmp_path, "")).storage.keep_days is None
    with pytest.raises(ConfigError, match=r"\[storage\]: keep_days must be more than 0"):
        load_config(write(tmp_path, "[storage]\nkeep_days = 0\n"))
    with pytest.raises(ConfigError, match=r"allowed: 'keep_days', 'max_size_mb'"):
        load_config(write(tmp_path, "[storage]\nmax_size = 5\n"))


@pytest.mark.parametrize(
    ("line", "chat", "messages"),
    [
        ("", "authorization", "x-api-key"),  # auto: Anthropic's header for Messages paths
        ('auth = "bearer"\n', "authorization", "authorization"),
        ('auth = "x-api-key"\n', "x-api-key", "x-api-key"),
    ],
)
def test_auth_chooses_the_header_the_key_goes_in(
    tmp_path: Path, line: str, chat: str, messages: str
) -> None:
    (acme,) = load_config(write(tmp_path, ACME + line)).providers
    assert (acme.key_header("chat.completions"), acme.key_header("messages")) == (chat, messages)


def test_a_single_glob_string_is_taken_as_a_list(tmp_path: Path) -> None:
    # The loader is lenient here on purpose: `models = "gpt-*"` reads as ["gpt-*"].
    config = load_config(write(tmp_path, ACME + 'models = "gpt-*"\n'))
    assert config.providers[0].models == ("gpt-*",)


def test_env_var_keys_are_read_when_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    acme = load_config(write(tmp_path, ACME + 'api_key_env = "ACME_KEY"\n')).providers[0]
    monkeypatch.delenv("ACME_KEY", raising=False)
    assert acme.key() is None
    monkeypatch.setenv("ACME_KEY", "sk-from-env")
    assert acme.key() == "sk-from-env"
    monkeypatch.setenv("ACME_KEY", "")
    assert acme.key() is None


def test_a_literal_key_wins_over_the_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_KEY", "sk-from-env")
    text = ACME + 'api_key = "sk-literal"\napi_key_env = "ACME_KEY"\n'
    config = load_config(write(tmp_path, text))
    assert config.providers[0].key() == "sk-literal"
    assert config.secrets() == ["sk-literal"]


def test_keyring_keys_come_from_the_key_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryKeyStore({"acme": "sk-in-keyring"})
    secrets.use_key_store(store)
    config = load_config(write(tmp_path, ACME + "api_key_keyring = true\n"))
    acme = config.providers[0]
    assert acme.api_key_keyring and acme.api_key is None
    assert acme.key() == "sk-in-keyring"
    assert config.secrets() == ["sk-in-keyring"]
    assert "sk-in-keyring" not in repr(acme)


def test_a_missing_keyring_key_is_none_or_the_env_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets.use_key_store(MemoryKeyStore())
    text = ACME + "api_key_keyring = true\n"
    assert load_config(write(tmp_path, text)).providers[0].key() is None
    monkeypatch.setenv("ACME_KEY", "sk-from-env")
    acme = load_config(write(tmp_path, text + 'api_key_env = "ACME_KEY"\n')).providers[0]
    assert acme.key() == "sk-from-env"


def test_keyring_keys_without_any_keyring_are_none(tmp_path: Path) -> None:
    acme = load_config(write(tmp_path, ACME + "api_key_keyring = true\n")).providers[0]
    assert acme.key() is None


def test_a_demo_table_may_change_the_demo(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[[providers]]\nname = "demo"\nmodels = ["toy-*"]\n'))
    assert config.providers == (Provider("demo", DEMO.base_url, models=("toy-*",)),)


def test_allowed_hosts_and_origins_are_read_lower_case(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[proxy]\nallowed_hosts = ["MyHost.lan", "[::2]:8787"]\n'
            'allowed_origins = ["http://LocalHost:3000", "https://app.example"]\n',
        )
    )
    assert config.proxy.allowed_hosts == ("myhost.lan", "[::2]:8787")
    assert config.proxy.allowed_origins == ("http://localhost:3000", "https://app.example")
    assert load_config(write(tmp_path, "[proxy]\n")).proxy.allowed_origins == ()


# --------------------------------------------------------------------------- one sentence each


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[proxy\nport = 1\n", "not valid TOML", id="bad-toml"),
        pytest.param("[server]\nport = 1\n", "unknown section 'server'", id="unknown-section"),
        pytest.param(
            "[proxy]\nprot = 1\n", "[proxy] has unknown key 'prot'", id="unknown-proxy-key"
        ),
        pytest.param(
            ACME + 'modles = ["x"]\n', "'acme' has unknown key 'modles'", id="unknown-key"
        ),
        pytest.param('[[providers]]\nname = "acme"\n', "'acme' needs base_url", id="no-base-url"),
        pytest.param(
            '[[providers]]\nname = "acme"\nbase_url = "ftp://acme.test/v1"\n',
            "'acme': base_url 'ftp://acme.test/v1' is not an http(s) URL",
            id="non-http-url",
        ),
        pytest.param(
            '[[providers]]\nname = "acme"\nbase_url = "api.acme.test/v1"\n',
            "is not an http(s) URL",
            id="no-scheme",
        ),
        pytest.param(
            '[[providers]]\nname = "acme"\nbase_url = "http://[::1/v1"\n',
            "is not an http(s) URL",
            id="broken-ipv6",
        ),
        pytest.param(ACME + ACME, "two providers are named 'acme'", id="duplicate-names"),
        pytest.param(
            ACME + "default = true\n" + ACME.replace("acme", "beta") + "default = true\n",
            "providers 'acme', 'beta' are all marked default = true; keep only one",
            id="two-defaults",
        ),
        pytest.param(
            "[proxy]\nport = true\n", "[proxy]: port must be int, not True", id="bool-port"
        ),
        pytest.param('[proxy]\nport = "8787"\n', "port must be int, not '8787'", id="str-port"),
        pytest.param("[proxy]\nport = 70000\n", "port = 70000 is out of range", id="port-range"),
        pytest.param(
            ACME + "models = 5\n", "'acme': models must be a list of model globs", id="int-models"
        ),
        pytest.param(
            ACME + "models = [1, 2]\n", "models must be a list of model globs", id="int-globs"
        ),
        pytest.param(ACME + 'default = "yes"\n', "'acme': default must be bool", id="str-default"),
        pytest.param(
            ACME + "timeout = 0\n", "'acme': timeout must be a positive", id="zero-timeout"
        ),
        pytest.param(ACME + "timeout = nan\n", "timeout must be a positive", id="nan-timeout"),
        pytest.param(ACME + "timeout = inf\n", "timeout must be a positive", id="inf-timeout"),
        pytest.param(
            ACME + f"timeout = {10**400}\n", "timeout must be a positive", id="huge-timeout"
        ),
        pytest.param(
            ACME + "api_key_keyring = 1\n", "api_key_keyring must be bool", id="int-keyring"
        ),
        pytest.param(
            '[[providers]]\nbase_url = "https://a.test"\n',
            "providers[0] needs a name",
            id="no-name",
        ),
        pytest.param(
            ACME.replace('"acme"', '"acme/eu"'), "a name cannot contain '/'", id="slash-in-name"
        ),
        pytest.param('providers = "acme"\n', "'providers' must be a list", id="providers-string"),
        pytest.param("proxy = 1\n", "[proxy] must be a table", id="proxy-not-table"),
        pytest.param(
            '[proxy]\nallowed_origins = "http://localhost:3000"\n',
            "allowed_origins must be a list of strings",
            id="origins-string",
        ),
        pytest.param(
            '[proxy]\nallowed_origins = ["*"]\n',
            "allowed_origins cannot hold '*': that would let any web page",
            id="origins-star",
        ),
        pytest.param(
            '[proxy]\nallowed_origins = ["null"]\n',
            "allowed_origins cannot hold 'null'",
            id="origins-null",
        ),
        pytest.param(
            '[proxy]\nallowed_origins = ["http://localhost:3000/app"]\n',
            "'http://localhost:3000/app' is not an origin; write scheme, host and port only",
            id="origin-with-path",
        ),
        pytest.param(
            '[proxy]\nallowed_origins = ["localhost:3000"]\n',
            "is not an origin",
            id="origin-without-scheme",
        ),
        pytest.param(
            '[proxy]\nallowed_hosts = ["http://myhost.lan"]\n',
            "allowed_hosts entry 'http://myhost.lan' is not a host name",
            id="host-as-url",
        ),
        pytest.param(
            '[proxy]\nallowed_hosts = [""]\n',
            "allowed_hosts must be a list of strings",
            id="empty-host",
        ),
        pytest.param(
            ACME + 'auth = "apikey"\n',
            'auth = "apikey" is not one of "auto"',
            id="unknown-auth",
        ),
    ],
)
def test_each_mistake_is_one_sentence_naming_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = error_for(tmp_path, text)
    assert expected in message


def test_the_cli_prints_the_sentence_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[proxy]\nport = true\n")
    assert main(["proxy", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"relayscope: {path}: [proxy]: port must be int, not True.\n"


# ----------------------------------------------------------------------- never another exception

KEYS = [
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
    "host",
    "port",
    "max_body_bytes",
    "access_token",
    "allow_remote",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["demo", "acme", "a/b", " x", "http://[::1", "https://a.test/v1", "ftp://x"]),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
tables = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), values, max_size=6)
documents = st.dictionaries(
    st.sampled_from(["proxy", "providers", "extra"]),
    tables | st.lists(tables | values, max_size=3) | values,
    max_size=3,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_values_give_a_config_or_a_config_error(data: dict[str, Any]) -> None:
    assert_config_or_error(data)


toml_values = st.sampled_from(
    [
        '"acme"',
        '"demo"',
        '"https://a.test/v1"',
        '"http://[::1"',
        '"a/b"',
        "''",
        "true",
        "0",
        "-1",
        "8787",
        "65536",
        str(10**30),
        "1.5",
        "nan",
        "-inf",
        "1e999",
        '["gpt-*"]',
        "[1]",
        "[]",
        "{a = 1}",
        "1979-05-27",
    ]
)
toml_lines = st.one_of(
    st.sampled_from(["[proxy]", "[[providers]]", "[providers]", "[[proxy]]", "[other]", ""]),
    st.builds(lambda k, v: f"{k} = {v}", st.sampled_from([*KEYS, "x", '"a b"']), toml_values),
)


@settings(max_examples=300)
@given(st.lists(toml_lines, max_size=14))
def test_random_toml_documents_give_a_config_or_a_config_error(lines: list[str]) -> None:
    try:
        data = tomllib.loads("\n".join(lines))
    except tomllib.TOMLDecodeError:
        return  # load_config turns these into a ConfigError; tested above
    assert_config_or_error(data)


def assert_config_or_error(data: dict[str, Any]) -> None:
    try:
        config = parse_config(data, Path("config.toml"))
    except ConfigError as exc:
        assert str(exc).startswith("config.toml")
        return
    assert isinstance(config, Config)
    users = [p for p in config.providers if not p.is_demo]
    if "demo" not in data and not users:
        assert any(p.is_demo for p in config.providers)  # a first run always has the demo
    for provider in config.providers:
        assert provider.base_url.startswith(("http://", "https://"))
        assert math.isfinite(provider.timeout) and provider.timeout > 0
    assert sum(p.default for p in config.providers) <= 1
