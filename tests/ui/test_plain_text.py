"""Recorded text that looks like HTML is shown as written: in tooltips, labels, the overview.

A call recorded by the real writer carries `<img src=x><b>bold</b><table>…` in its model,
path, error, a request header, an invalid chunk and its answer. Qt renders a tooltip or an
AutoText label as HTML when its text "looks like" HTML; here every such place must show the
original characters (what QTextDocument.setHtml(tip).toPlainText() gives back).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6 import QtGui
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QToolTip, QWidget
from pytestqt.qtbot import QtBot

from relayscope.actions.compare import Target
from relayscope.protocols.sse import SSEDecoder
from relayscope.recording.writer import RecordingWriter
from relayscope.store.call_store import CallStore
from relayscope.ui.call_list_model import COLUMN, CallListModel
from relayscope.ui.compare_view import TargetColumn
from relayscope.ui.held_call_dialog import HeldCallDialog
from relayscope.ui.inspector import CallInspector
from relayscope.ui.inspector.chunk_model import RAW
from relayscope.ui.plain_text import plain_tooltip

HTML = "<img src=x><b>bold</b><table><tr><td>cell</td></tr></table>"
CALL_ID = "019a0000aaaa-<b>chosen</b>"  # a client may choose the id (X-Relayscope-Call-Id)
TOOLTIP = Qt.ItemDataRole.ToolTipRole


def rendered(tip: object) -> str:
    """What a person reads in the tooltip: Qt's rendering of it, as plain text."""
    assert isinstance(tip, str)
    if not QtGui.Qt.mightBeRichText(tip):
        return tip  # shown as it is
    document = QTextDocument()
    document.setHtml(tip)
    return document.toPlainText()


def _sse(data: str) -> bytes:
    return f"data: {data}\n\n".encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    path = tmp_path / "relayscope.db"
    writer = RecordingWriter(path).open()
    body = {"model": "m" + HTML, "stream": True, "messages": [{"role": "user", "content": HTML}]}
    writer.start(
        {
            "id": CALL_ID,
            "started_at": "2026-11-21T12:00:00.000Z",
            "method": "POST",
            "path": "/v1/chat/completions?x=" + HTML,
            "endpoint": "chat.completions",
            "provider": "openai",
            "model": "m" + HTML,
            "stream": 1,
            "request_headers": json.dumps([["x-note", HTML]]),
            "request_body": json.dumps(body),
        }
    )
    chunks = [
        _sse(json.dumps({"choices": [{"index": 0, "delta": {"content": HTML * 3}}]})),
        _sse("{not json " + HTML),
    ]
    for seq, raw in enumerate(chunks):
        (event,) = SSEDecoder().feed(raw)
        writer.chunk(CALL_ID, seq, 100.0 + 10 * seq, raw, event.data, event.event)
    writer.finish(
        CALL_ID, {"status": 200, "state": "error", "duration_ms": 300.0, "error": "e" + HTML}
    )
    writer.close()
    store = CallStore(path)
    yield store
    store.close()


@pytest.mark.parametrize(
    "text",
    [HTML, "<b>a</b>\r\nline two\n  indented\ttab & &amp; <", "plain, with a < b", ""],
)
def test_plain_tooltip_renders_as_the_original_text(qapp: QApplication, text: str) -> None:
    expected = text.replace("\r\n", "\n")
    assert rendered(plain_tooltip(text)) == expected


def test_call_list_tooltip_shows_the_recorded_text(store: CallStore, qtbot: QtBot) -> None:
    model = CallListModel(store)
    tip = model.data(model.index(0, COLUMN["model"]), TOOLTIP)
    lines = rendered(tip).split("\n")
    assert f"Call {CALL_ID}" in lines
    assert "/v1/chat/completions?x=" + HTML in lines
    assert "Error: e" + HTML in lines


def test_inspector_tooltips_and_overview_show_the_recorded_text(
    store: CallStore, qtbot: QtBot, tmp_path: Path
) -> None:
    inspector = CallInspector(store)
    qtbot.addWidget(inspector)
    inspector.resize(1280, 500)
    inspector.show()
    inspector.show_call(CALL_ID)
    headers = inspector.request_tab.headers_model
    values = [headers.index(row, 1) for row in range(headers.rowCount())]
    assert HTML in [rendered(headers.data(index, TOOLTIP)) for index in values]

    chunks = inspector.stream_tab.model
    invalid = chunks.index(1, RAW)
    assert rendered(chunks.data(invalid, TOOLTIP)) == (
        "This chunk's data is not valid JSON:\ndata: {not json " + HTML + "\n\n"
    )
    findings = inspector.stream_tab.findings
    tips = [rendered(findings.item(i).toolTip()) for i in range(findings.count())]
    assert "not valid JSON: “data: {not json <img src=x><b>bold</" in tips[0]  # cut short

    # The overview is built as HTML: every recorded text in it must come out as written.
    overview = inspector.overview
    assert HTML in overview.conversation.toPlainText()
    assert HTML * 3 in overview.conversation.toPlainText()
    assert "m" + HTML in overview.facts.toPlainText()

    # What a person sees: the real tooltip of the invalid chunk.
    tip = chunks.data(invalid, TOOLTIP)
    QToolTip.showText(inspector.mapToGlobal(QPoint(40, 40)), tip, inspector)
    label = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "qtooltip_label")
    qtbot.waitUntil(label.isVisible)
    assert isinstance(label, QLabel) and HTML in rendered(label.text())
    label.grab().save(str(tmp_path / "tooltip.png"))
    QToolTip.hideText()


def test_labels_with_recorded_text_are_plain_text(qtbot: QtBot) -> None:
    column = TargetColumn(Target(provider="p" + HTML, model="m" + HTML))
    dialog = HeldCallDialog(
        {"id": CALL_ID, "stage": "request", "model": "m" + HTML, "provider": "p" + HTML, "body": ""}
    )
    widgets: list[QWidget] = [column, dialog]
    for widget in widgets:
        qtbot.addWidget(widget)
    labels = [column.title, column.subtitle, column.error, dialog.heading, dialog.facts]
    for label in labels:
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert column.subtitle.text() == "m" + HTML
    assert "m" + HTML in dialog.facts.text()


def test_call_list_cells_are_painted_as_the_recorded_text(store: CallStore, qtbot: QtBot) -> None:
    """The list paints its cells itself (QStaticText, whose default format guesses rich
    text): a model name that looks like HTML is drawn as its characters, never as markup."""
    from relayscope.ui.call_list_paint import RowDelegate
    from relayscope.ui.call_list_view import CallListView

    view = CallListView(CallListModel(store))
    qtbot.addWidget(view)
    view.resize(1600, 300)
    view.setColumnWidth(COLUMN["model"], 1200)
    view.grab()  # a real paint of the visible rows
    delegate = view.itemDelegate()
    assert isinstance(delegate, RowDelegate)
    painted = {key[0]: laid[0] for key, laid in delegate._texts.items()}
    shown = painted["m" + HTML].text()  # the model column: the recorded characters, elided
    assert shown.startswith("m<img src=x><b>bold</b><table>")
    assert ("m" + HTML).startswith(shown.removesuffix("…"))
    assert all(s.textFormat() == Qt.TextFormat.PlainText for s in painted.values())
