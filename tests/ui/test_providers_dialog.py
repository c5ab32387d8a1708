"""The Providers dialog as a person uses it: add, test, fix, save, reopen — keys never shown."""

from __future__ import annotations

import functools
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
)
from pytestqt.qtbot import QtBot

from relayscope.actions import provider_check
from relayscope.config import load_config, secrets
from relayscope.config.secrets import MemoryKeyStore
from relayscope.ui import providers_dialog
from relayscope.ui.providers_dialog import ProvidersDialog
from tests.fakes.provider import FakeProvider

KEY = "sk-acme-live-7f3c9a1e5b2d4f60"


@pytest.fixture(autouse=True)
def no_system_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(secrets.NO_KEYRING_ENV, "1")
    secrets.reset_key_store()
    yield
    secrets.reset_key_store()


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(name="acme", api_key=KEY) as provider:
        yield provider


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "relayscope" / "config.toml"


def open_dialog(qtbot: QtBot, path: Path) -> ProvidersDialog:
    dialog = ProvidersDialog(path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def line(dialog: QDialog, name: str) -> QLineEdit:
    widget = dialog.findChild(QLineEdit, name)
    assert widget is not None, name
    return widget


def label(dialog: QDialog, name: str) -> QLabel:
    widget = dialog.findChild(QLabel, name)
    assert widget is not None, name
    return widget


def button(dialog: QDialog, name: str) -> QPushButton:
    widget = dialog.findChild(QPushButton, name)
    assert widget is not None, name
    return widget


def providers(dialog: QDialog) -> QListWidget:
    widget = dialog.findChild(QListWidget, "providers")
    assert widget is not None
    return widget


def row_texts(dialog: QDialog) -> list[str]:
    listing = providers(dialog)
    return [listing.item(i).text() for i in range(listing.count())]


def select(dialog: QDialog, name: str) -> None:
    texts = row_texts(dialog)
    row = next(i for i, text in enumerate(texts) if text.lstrip("⚠ ").split()[0] == name)
    providers(dialog).setCurrentRow(row)


def add_provider(
    qtbot: QtBot, dialog: QDialog, name: str, url: str, key: str | None = None
) -> None:
    qtbot.mouseClick(button(dialog, "add"), Qt.MouseButton.LeftButton)
    qtbot.keyClicks(line(dialog, "name"), name)
    qtbot.keyClicks(line(dialog, "base_url"), url)
    if key:
        qtbot.keyClicks(line(dialog, "api_key"), key)


def run_test(qtbot: QtBot, dialog: QDialog) -> str:
    result = label(dialog, "test_result")
    qtbot.mouseClick(button(dialog, "test"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: result.text() != "", timeout=10_000)
    return result.text()


def visible_texts(dialog: QDialog) -> list[str]:
    texts: list[str] = [dialog.windowTitle()]
    for edit in dialog.findChildren(QLineEdit):
        texts += [edit.text(), edit.displayText(), edit.placeholderText(), edit.toolTip()]
    for text_label in dialog.findChildren(QLabel):
        texts += [text_label.text(), text_label.toolTip()]
    for widget in dialog.findChildren(QAbstractButton):
        texts += [widget.text(), widget.toolTip()]
    listing = providers(dialog)
    for i in range(listing.count()):
        texts += [listing.item(i).text(), listing.item(i).toolTip()]
    return texts


def save(qtbot: QtBot, dialog: ProvidersDialog) -> None:
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        qtbot.mouseClick(button(dialog, "save"), Qt.MouseButton.LeftButton)


# --------------------------------------------------------------------------- Test


def test_a_new_provider_is_tested_against_the_real_fake(
    qtbot: QtBot, path: Path, fake: FakeProvider
) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url, KEY)
    busy = dialog.findChild(QProgressBar, "test_busy")
    assert busy is not None and not busy.isVisible()
    qtbot.mouseClick(button(dialog, "test"), Qt.MouseButton.LeftButton)
    assert busy.isVisible()  # busy until the answer arrives
    assert button(dialog, "test").text() == "Testing…"
    result = label(dialog, "test_result")
    qtbot.waitUntil(lambda: result.text() != "", timeout=10_000)
    assert result.text() == "✓ 3 models: claude-sonnet-4-6, fake-1, gpt-5.2"
    assert not busy.isVisible()
    assert button(dialog, "test").text() == "&Test"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_a_wrong_key_is_the_401_sentence(qtbot: QtBot, path: Path, fake: FakeProvider) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url, "sk-wrong")
    text = run_test(qtbot, dialog)
    assert text.startswith(f"✗ 401 from {fake.base_url}/models: the key was rejected — check it")
    assert "sk-wrong" not in text


def test_no_key_says_to_enter_one(qtbot: QtBot, path: Path, fake: FakeProvider) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url)
    assert run_test(qtbot, dialog) == (
        f"✗ 401 from {fake.base_url}/models: no key was sent — enter the API key."
    )


def test_a_key_from_the_environment_is_used(
    qtbot: QtBot, path: Path, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TEST_KEY", KEY)
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url)
    qtbot.keyClicks(line(dialog, "api_key_env"), "ACME_TEST_KEY")
    assert line(dialog, "api_key").placeholderText().startswith("from $ACME_TEST_KEY")
    assert run_test(qtbot, dialog).startswith("✓ 3 models")


def test_a_closed_port_is_connection_refused(qtbot: QtBot, path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", f"http://127.0.0.1:{port}/v1", KEY)
    assert run_test(qtbot, dialog) == (
        f"✗ could not connect to http://127.0.0.1:{port}/v1/models: "
        "connection refused — is the base_url right?"
    )


def test_a_silent_provider_times_out_without_freezing_the_window(
    qtbot: QtBot, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        providers_dialog.check_job,
        "check_provider",
        functools.partial(provider_check.check_provider, timeout=0.5),
    )
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        dialog = open_dialog(qtbot, path)
        add_provider(qtbot, dialog, "acme", url, KEY)
        qtbot.mouseClick(button(dialog, "test"), Qt.MouseButton.LeftButton)
        qtbot.keyClicks(line(dialog, "models"), "gpt-*")  # the GUI still takes typing
        assert line(dialog, "models").text() == "gpt-*"
        result = label(dialog, "test_result")
        qtbot.waitUntil(lambda: result.text() != "", timeout=5000)
    assert (
        result.text() == f"✗ timed out after 0.5 s waiting for {url}/models — is the provider up?"
    )


def test_no_models_endpoint_is_a_warning_not_a_failure(
    qtbot: QtBot, path: Path, fake: FakeProvider
) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url.removesuffix("/v1") + "/api", KEY)
    assert run_test(qtbot, dialog).startswith("⚠ ")
    assert "may not list models; calls can still work" in label(dialog, "test_result").text()


def test_editing_the_url_clears_an_old_answer(qtbot: QtBot, path: Path, fake: FakeProvider) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url, KEY)
    run_test(qtbot, dialog)
    qtbot.keyClicks(line(dialog, "base_url"), "x")
    assert label(dialog, "test_result").text() == ""


# --------------------------------------------------------------------------- validation


def test_an_invalid_url_disables_save_with_the_reason(qtbot: QtBot, path: Path) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", "api.acme.test/v1")
    problem = label(dialog, "base_url_problem")
    assert problem.isVisible()
    assert problem.text() == "This is not an http(s) URL; write it like https://api.example.com/v1."
    assert not button(dialog, "save").isEnabled()
    assert not button(dialog, "test").isEnabled()
    assert row_texts(dialog)[0] == "⚠ acme"
    qtbot.keyClick(line(dialog, "base_url"), Qt.Key.Key_Return)  # Enter does not save
    assert dialog.isVisible() and not path.exists()
    line(dialog, "base_url").clear()
    qtbot.keyClicks(line(dialog, "base_url"), "https://api.acme.test/v1")
    assert not problem.isVisible()
    assert button(dialog, "save").isEnabled()


def test_a_missing_url_says_so(qtbot: QtBot, path: Path) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", "")
    assert label(dialog, "base_url_problem").text().startswith("Enter the base URL")
    assert not button(dialog, "save").isEnabled()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("acme/eu", "A name cannot contain “/”"),
        ("demo", "Another provider is already named “demo”"),
        (" acme", "Remove the spaces at the start or end of the name."),
    ],
)
def test_bad_names_say_why(qtbot: QtBot, path: Path, name: str, expected: str) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, name, "https://api.acme.test/v1")
    assert label(dialog, "name_problem").text().startswith(expected)
    assert not button(dialog, "save").isEnabled()


def test_a_duplicate_name_is_caught_and_the_problem_follows_the_list(
    qtbot: QtBot, path: Path
) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", "https://a.test/v1")
    add_provider(qtbot, dialog, "acme", "https://b.test/v1")
    assert label(dialog, "name_problem").text() == (
        "Another provider is already named “acme”; pick another name."
    )
    select(dialog, "demo")  # elsewhere, the sentence moves to the foot of the dialog
    assert "already named “acme”" in label(dialog, "problem").text()
    assert not button(dialog, "save").isEnabled()


def test_only_one_default(qtbot: QtBot, path: Path) -> None:
    dialog = open_dialog(qtbot, path)
    default = dialog.findChild(QCheckBox, "default")
    assert default is not None
    add_provider(qtbot, dialog, "acme", "https://a.test/v1")
    qtbot.mouseClick(default, Qt.MouseButton.LeftButton)
    add_provider(qtbot, dialog, "beta", "https://b.test/v1")
    assert not default.isChecked()
    qtbot.mouseClick(default, Qt.MouseButton.LeftButton)
    assert row_texts(dialog)[:2] == ["acme", "beta  · default"]
    select(dialog, "acme")
    assert not default.isChecked()
    save(qtbot, dialog)
    config = load_config(path)
    assert config.default_provider is not None and config.default_provider.name == "beta"


def test_the_demo_is_built_in_and_read_only(qtbot: QtBot, path: Path) -> None:
    dialog = open_dialog(qtbot, path)
    assert row_texts(dialog) == ["demo  · built-in"]
    assert not line(dialog, "name").isEnabled()
    assert not button(dialog, "remove").isEnabled()
    assert not button(dialog, "test").isEnabled()


# --------------------------------------------------------------------------- saving


def test_save_writes_an_owner_only_file_and_emits_saved(
    qtbot: QtBot, path: Path, fake: FakeProvider
) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url, KEY)
    qtbot.keyClicks(line(dialog, "models"), "gpt-*, claude-*")
    qtbot.keyClicks(line(dialog, "stream_required"), "gpt-*")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        qtbot.keyClick(line(dialog, "models"), Qt.Key.Key_Return)  # Enter = Save
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    acme = load_config(path).provider("acme")
    assert acme is not None
    assert (acme.base_url, acme.models, acme.stream_required) == (
        fake.base_url,
        ("gpt-*", "claude-*"),
        ("gpt-*",),
    )
    assert acme.key() == KEY  # no keyring here: in the 0600 file


def test_reopening_never_shows_the_key(qtbot: QtBot, path: Path, fake: FakeProvider) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url, KEY)
    save(qtbot, dialog)
    again = open_dialog(qtbot, path)
    select(again, "acme")
    key = line(again, "api_key")
    assert key.text() == ""
    assert key.placeholderText() == "•••• stored in config file — type to replace"
    assert key.echoMode() == QLineEdit.EchoMode.Password
    assert not any(KEY in text for text in visible_texts(again))
    assert run_test(qtbot, again).startswith("✓ 3 models")  # the stored key is still used
    assert not any(KEY in text for text in visible_texts(again))


def test_keys_go_to_the_keyring_when_there_is_one(
    qtbot: QtBot, path: Path, fake: FakeProvider
) -> None:
    store = MemoryKeyStore()
    secrets.use_key_store(store)
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url, KEY)
    note = label(dialog, "api_key_note")
    qtbot.waitUntil(lambda: note.text() == "Will be kept in the system keyring.")
    save(qtbot, dialog)
    assert store.keys == {"acme": KEY}
    assert KEY not in path.read_text()
    again = open_dialog(qtbot, path)
    select(again, "acme")
    assert line(again, "api_key").placeholderText().startswith("•••• stored in system keyring")
    assert not any(KEY in text for text in visible_texts(again))
    assert run_test(qtbot, again).startswith("✓ 3 models")


def test_typing_a_new_key_replaces_the_stored_one(
    qtbot: QtBot, path: Path, fake: FakeProvider
) -> None:
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", fake.base_url, "sk-old")
    save(qtbot, dialog)
    again = open_dialog(qtbot, path)
    select(again, "acme")
    qtbot.keyClicks(line(again, "api_key"), KEY)
    save(qtbot, again)
    acme = load_config(path).provider("acme")
    assert acme is not None and acme.key() == KEY


def test_remove_key_forgets_it(qtbot: QtBot, path: Path) -> None:
    store = MemoryKeyStore()
    secrets.use_key_store(store)
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", "https://a.test/v1", KEY)
    save(qtbot, dialog)
    again = open_dialog(qtbot, path)
    select(again, "acme")
    qtbot.mouseClick(button(again, "forget_key"), Qt.MouseButton.LeftButton)
    assert line(again, "api_key").placeholderText().startswith("no key")
    save(qtbot, again)
    assert store.keys == {}
    acme = load_config(path).provider("acme")
    assert acme is not None and acme.key() is None and not acme.api_key_keyring


def test_a_renamed_provider_keeps_its_keyring_key(qtbot: QtBot, path: Path) -> None:
    store = MemoryKeyStore()
    secrets.use_key_store(store)
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", "https://a.test/v1", KEY)
    save(qtbot, dialog)
    again = open_dialog(qtbot, path)
    select(again, "acme")
    line(again, "name").clear()
    qtbot.keyClicks(line(again, "name"), "acme-eu")
    save(qtbot, again)
    assert store.keys == {"acme-eu": KEY}


def test_remove_and_cancel_never_lose_what_was_saved(qtbot: QtBot, path: Path) -> None:
    store = MemoryKeyStore()
    secrets.use_key_store(store)
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "acme", "https://a.test/v1", KEY)
    add_provider(qtbot, dialog, "beta", "https://b.test/v1", "sk-beta")
    save(qtbot, dialog)
    again = open_dialog(qtbot, path)
    select(again, "beta")
    qtbot.mouseClick(button(again, "remove"), Qt.MouseButton.LeftButton)
    assert row_texts(again) == ["acme", "demo  · built-in"]
    qtbot.keyClick(line(again, "name"), Qt.Key.Key_Escape)  # Esc = Cancel: nothing written
    assert again.result() == QDialog.DialogCode.Rejected
    assert [p.name for p in load_config(path).providers] == ["acme", "beta", "demo"]
    third = open_dialog(qtbot, path)
    select(third, "beta")
    qtbot.mouseClick(button(third, "remove"), Qt.MouseButton.LeftButton)
    save(qtbot, third)
    assert [p.name for p in load_config(path).providers] == ["acme", "demo"]
    assert store.keys == {"acme": KEY}


def test_a_write_error_is_shown_in_the_dialog(qtbot: QtBot, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    dialog = open_dialog(qtbot, blocker / "config.toml")
    add_provider(qtbot, dialog, "acme", "https://a.test/v1")
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(button(dialog, "save"), Qt.MouseButton.LeftButton)
    assert "could not be saved" in label(dialog, "problem").text()
    assert dialog.isVisible()


def test_a_broken_file_is_explained_and_left_alone(qtbot: QtBot, path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("[proxy]\nport = true\n")
    dialog = open_dialog(qtbot, path)
    assert "port must be int" in label(dialog, "problem").text()
    assert not button(dialog, "save").isEnabled()
    assert path.read_text() == "[proxy]\nport = true\n"


def test_settings_the_dialog_does_not_show_are_kept(qtbot: QtBot, path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(
        '[proxy]\nport = 9999\naccess_token = "tok"\n'
        'allowed_origins = ["http://localhost:3000"]\nallowed_hosts = ["box.lan"]\n\n'
        '[[providers]]\nname = "acme"\nbase_url = "https://a.test/v1"\n'
        "timeout = 2.5\ncapture_usage = false\n"
    )
    before = load_config(path)
    dialog = open_dialog(qtbot, path)
    add_provider(qtbot, dialog, "beta", "https://b.test/v1")
    save(qtbot, dialog)
    after = load_config(path)
    assert after.proxy == before.proxy
    assert after.proxy.allowed_origins == ("http://localhost:3000",)
    assert after.provider("acme") == before.provider("acme")


def test_the_otlp_endpoint_is_kept_validated_and_saved(qtbot: QtBot, path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(
        '[otlp]\nendpoint = "http://collector:4318"\n'
        'headers = { authorization = "Bearer team-token" }\n'
    )
    dialog = open_dialog(qtbot, path)
    otlp = line(dialog, "otlp_endpoint")
    assert otlp.text() == "http://collector:4318"
    otlp.setText("not a url")
    assert not button(dialog, "save").isEnabled()
    otlp.setText("http://localhost:4318")
    save(qtbot, dialog)
    config = load_config(path)
    assert config.otlp.endpoint == "http://localhost:4318"
    assert dict(config.otlp.headers) == {"authorization": "Bearer team-token"}  # kept
    assert config.otlp.capture_content is False


def test_capturing_conversations_on_spans_is_a_checkbox(qtbot: QtBot, path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text('[otlp]\nendpoint = "http://collector:4318"\n')
    dialog = open_dialog(qtbot, path)
    capture = dialog.findChild(QCheckBox, "otlp_capture_content")
    assert capture is not None and not capture.isChecked()
    capture.setChecked(True)
    save(qtbot, dialog)
    assert load_config(path).otlp.capture_content is True
    assert "capture_content = true" in path.read_text()
    dialog = open_dialog(qtbot, path)
    again = dialog.findChild(QCheckBox, "otlp_capture_content")
    assert again is not None and again.isChecked()
