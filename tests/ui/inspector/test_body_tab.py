"""BodyTab (Request and Response): pretty JSON, raw bodies, headers, snippets, big bodies."""

from __future__ import annotations

import json
import shlex
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from relayscope.store.call_store import CallStore
from relayscope.ui.inspector import CallInspector
from relayscope.ui.inspector.body_tab import BodyTab
from relayscope.ui.inspector.headers_model import HeadersModel
from relayscope.ui.theme import build_palette
from tests.ui.inspector import samples


def request_tab(inspector: CallInspector, call_id: str) -> BodyTab:
    inspector.show_call(call_id)
    inspector.tabs.setCurrentWidget(inspector.request_tab)
    return inspector.request_tab


def response_tab(inspector: CallInspector, call_id: str) -> BodyTab:
    inspector.show_call(call_id)
    inspector.tabs.setCurrentWidget(inspector.response_tab)
    return inspector.response_tab


def test_request_body_is_pretty_json(inspector: CallInspector) -> None:
    tab = request_tab(inspector, samples.CHAT_ID)
    body = json.loads(samples.chat_with_tools()["request_body"])
    assert tab.editor.toPlainText() == json.dumps(body, indent=2, ensure_ascii=False)
    assert tab.note.text() == ""
    assert not tab.client_button.isVisible()  # the proxy sent the body unchanged


def test_raw_shows_the_body_exactly_as_recorded(inspector: CallInspector, qtbot: QtBot) -> None:
    tab = request_tab(inspector, samples.CHAT_ID)
    qtbot.mouseClick(tab.raw_button, Qt.MouseButton.LeftButton)
    assert tab.editor.toPlainText() == samples.chat_with_tools()["request_body"]
    qtbot.mouseClick(tab.raw_button, Qt.MouseButton.LeftButton)
    assert tab.editor.toPlainText().startswith('{\n  "model": "gpt-5.2"')


def test_headers_are_shown_redacted_as_stored(inspector: CallInspector) -> None:
    tab = request_tab(inspector, samples.CHAT_ID)
    pairs = tab.headers_model.pairs()
    assert ("authorization", "Bearer ****9f3a") in pairs
    assert pairs == [tuple(p) for p in json.loads(samples.CLIENT_HEADERS)]
    assert tab.headers_title.text() == "Request headers"


def test_client_sent_and_provider_received(inspector: CallInspector, qtbot: QtBot) -> None:
    tab = request_tab(inspector, samples.UPSTREAM_ID)
    assert tab.client_button.isVisible() and tab.upstream_button.isVisible()
    assert "Relayscope changed: model, stream, stream_options" in tab.note.text()
    assert '"model": "constreet/gpt-5.2"' in tab.editor.toPlainText()
    qtbot.mouseClick(tab.upstream_button, Qt.MouseButton.LeftButton)
    assert '"model": "gpt-5.2"' in tab.editor.toPlainText()
    assert '"include_usage": true' in tab.editor.toPlainText()
    qtbot.mouseClick(tab.client_button, Qt.MouseButton.LeftButton)
    assert '"model": "constreet/gpt-5.2"' in tab.editor.toPlainText()


def curl_words(command: str) -> list[str]:
    return [word for word in shlex.split(command) if word != "\n"]  # "\\\n" is a continuation


def test_copy_as_curl(inspector: CallInspector, qtbot: QtBot) -> None:
    inspector.set_base_url("http://127.0.0.1:9123/v1")
    tab = request_tab(inspector, samples.CHAT_ID)
    with qtbot.waitSignal(inspector.message_posted):
        qtbot.mouseClick(tab.curl_button, Qt.MouseButton.LeftButton)
    assert tab.curl_button.text() == "Copied ✓"
    qtbot.waitUntil(lambda: tab.curl_button.text() == "Copy as curl", timeout=3000)
    words = curl_words(QGuiApplication.clipboard().text())
    assert words[:2] == ["curl", "http://127.0.0.1:9123/v1/chat/completions"]
    headers = [words[i + 1] for i, w in enumerate(words) if w == "-H"]
    assert "content-type: application/json" in headers
    assert "Authorization: Bearer $OPENAI_API_KEY" in headers
    assert not any("****" in h or h.startswith(("host:", "content-length:")) for h in headers)
    body = words[words.index("--data-raw") + 1]
    assert body == samples.chat_with_tools()["request_body"]


def test_copy_as_python(inspector: CallInspector, qtbot: QtBot) -> None:
    tab = request_tab(inspector, samples.CODEX_ID)
    qtbot.mouseClick(tab.python_button, Qt.MouseButton.LeftButton)
    source = QGuiApplication.clipboard().text()
    compile(source, "snippet.py", "exec")
    assert "client.responses.create(**body, extra_body=extra_body" in source
    assert 'base_url="http://127.0.0.1:8787/v1"' in source
    assert "****" not in source


def test_error_response_body_and_headers(inspector: CallInspector) -> None:
    tab = response_tab(inspector, samples.ERROR_ID)
    text = tab.editor.toPlainText()
    assert '"code": "rate_limit_exceeded"' in text
    assert samples.RATE_LIMIT_MESSAGE in text
    assert ("retry-after", "3") in tab.headers_model.pairs()
    assert inspector.tabs.tabText(2) == "Response 429"


def test_stream_response_shows_the_assembled_answer_and_points_to_the_stream(
    inspector: CallInspector, qtbot: QtBot
) -> None:
    tab = response_tab(inspector, samples.CODEX_ID)
    answer = json.loads(tab.editor.toPlainText())
    assert answer["output_text"] == "Adding the missing Retry-After header."
    assert answer["tool_calls"][0]["custom"]["name"] == "apply_patch"
    assert answer["usage"]["cached_tokens"] == 8064
    assert "Assembled from 10 chunks" in tab.note.text()
    tab.note.linkActivated.emit("stream")
    assert inspector.tabs.currentWidget() is inspector.stream_tab
    inspector.tabs.setCurrentWidget(tab)
    qtbot.mouseClick(tab.raw_button, Qt.MouseButton.LeftButton)
    raw = tab.editor.toPlainText()
    assert raw.startswith("event: response.created\ndata: {")
    assert raw.count("\n\n") == 10


def big_row(size: int) -> dict[str, Any]:
    text = "x" * 1000
    messages = [{"role": "user", "content": text} for _ in range(size // 1030)]
    return {
        "id": "big",
        "endpoint": "chat.completions",
        "request_body": json.dumps({"model": "m", "messages": messages}),
    }


def test_a_big_body_shows_its_first_mebibyte_until_asked(qtbot: QtBot) -> None:
    tab = BodyTab("request")
    qtbot.addWidget(tab)
    tab.show()
    tab.set_call(big_row(3 * 1024 * 1024))
    assert tab.shown.cut
    assert len(tab.editor.toPlainText()) == 1024 * 1024
    assert tab.show_all_button.isVisible()
    assert tab.note.text().startswith("Showing the first 1.0 MiB of 3.")
    qtbot.mouseClick(tab.show_all_button, Qt.MouseButton.LeftButton)
    assert not tab.shown.cut
    assert len(tab.editor.toPlainText()) == tab.shown.total_chars
    assert not tab.show_all_button.isVisible()


def test_bodies_render_only_when_their_tab_is_shown(inspector: CallInspector) -> None:
    inspector.show_call(samples.CHAT_ID)
    assert inspector.request_tab.editor.toPlainText() == ""  # not drawn while hidden
    inspector.tabs.setCurrentWidget(inspector.request_tab)
    assert inspector.request_tab.editor.toPlainText().startswith("{")


@pytest.mark.parametrize("dark", [False, True])
def test_json_colours_follow_the_palette(qtbot: QtBot, dark: bool) -> None:
    tab = BodyTab("request")
    qtbot.addWidget(tab)
    tab.setPalette(build_palette(dark))
    tab.show()
    tab.set_call({"id": "x", "request_body": '{"model": "gpt-5.2", "n": 1, "stream": true}'})
    block = tab.editor.document().findBlockByNumber(1)  # '  "model": "gpt-5.2",'
    formats = block.layout().formats()
    colours = {f.format.foreground().color().name() for f in formats}
    assert len(colours) == 2  # the key and the string differ
    key = next(f for f in formats if f.start == 2).format.foreground().color()
    assert (key.lightnessF() > 0.5) == dark  # light text on dark, dark text on light
    assert key != QColor(tab.palette().text().color())


def test_headers_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = HeadersModel()
    qtmodeltester.check(model)
    model.set_pairs([("content-type", "application/json"), ("authorization", "Bearer ****9f3a")])
    qtmodeltester.check(model)
    assert model.index(1, 1).data() == "Bearer ****9f3a"


def test_a_multipart_request_shows_its_form_with_files_summed_up(
    inspector: CallInspector, sample_store: CallStore
) -> None:
    """An audio upload: the form's fields and the file's name, type and size, never its bytes
    as replacement characters."""
    audio = bytes(range(256)) * 8
    request = httpx.Request(
        "POST",
        "http://127.0.0.1:8787/v1/audio/transcriptions",
        data={"model": "whisper-1"},
        files={"file": ("meeting.wav", audio, "audio/wav")},
    )
    body = request.read()
    store = sample_store
    row = samples._base(
        "0199a3f2c5b9-audio001",
        path="/v1/audio/transcriptions",
        endpoint="other",
        model="whisper-1",
        request_headers=samples.headers(("content-type", request.headers["content-type"])),
        request_body=body,
        request_size=len(body),
        response_body=json.dumps({"text": "Hello everyone."}),
        output_text="Hello everyone.",
    )
    store.db["calls"].insert(row)  # type: ignore[union-attr]
    store.db.conn.commit()
    tab = request_tab(inspector, "0199a3f2c5b9-audio001")
    shown = tab.editor.toPlainText()
    assert "\ufffd" not in shown
    assert json.loads(shown) == [
        {"name": "model", "value": "whisper-1"},
        {"name": "file", "filename": "meeting.wav", "content_type": "audio/wav", "size": 2048},
    ]
    assert "multipart form" in tab.note.text()
