"""The call list's own cell paint (`RowDelegate`) looks as the style's did, pixel for pixel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from relayscope.analysis.cost import load_prices_in_background, prices_loaded
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.call_list_model import COLUMN, CallListModel
from relayscope.ui.call_list_paint import RowDelegate, StyledRowDelegate
from relayscope.ui.call_list_view import CallListView
from tests.ui.conftest import call_row, insert_calls

NOW = datetime(2025, 6, 3, 10, 0, tzinfo=UTC)
LONG_MODEL = "a-very-long-model-name-that-does-not-fit-in-its-column-at-all"


@pytest.fixture
def view(db_path: Path, store: CallStore, qtbot: QtBot, themed: QApplication) -> CallListView:
    """A finished list (no live rows: their elapsed time moves between two paints) with
    error, interrupted, streamed, Codex-turn and long-named calls, prices loaded."""
    seed(db_path, qtbot)
    return shown_list(store, qtbot)


def seed(db_path: Path, qtbot: QtBot) -> None:
    load_prices_in_background()
    qtbot.waitUntil(prices_loaded, timeout=10_000)
    rows = [call_row(i, NOW + timedelta(seconds=i)) for i in range(24)]
    rows[20]["model"] = LONG_MODEL
    for i, row in enumerate(rows[21:]):
        row.update(turn_id="turn-1", session_id="s", provider="openai", model="gpt-5.2-codex")
        row["started_at"] = (NOW + timedelta(seconds=30 + i)).isoformat().replace("+00:00", "Z")
    insert_calls(db_path, rows)


def shown_list(store: CallStore, qtbot: QtBot) -> CallListView:
    shown = CallListView(CallListModel(store))
    qtbot.addWidget(shown)
    shown.resize(1500, 600)
    shown.show()
    return shown


def grab(view: CallListView, delegate: Any) -> QImage:
    view.setItemDelegate(delegate)
    return view.viewport().grab().toImage()


def differing_pixels(a: QImage, b: QImage) -> int:
    assert a.size() == b.size() and a.format() == b.format()
    if bytes(a.constBits()) == bytes(b.constBits()):
        return 0
    return sum(a.pixel(x, y) != b.pixel(x, y) for y in range(a.height()) for x in range(a.width()))


@pytest.fixture
def both(view: CallListView) -> Iterator[tuple[CallListView, Any]]:
    """The view and a function painting it with the style's and with the own delegate."""
    own, styled = RowDelegate(view), StyledRowDelegate(view)
    yield view, lambda: (grab(view, styled), grab(view, own))


def test_the_list_looks_as_the_style_painted_it_flat_grouped_selected_and_dark(
    both: tuple[CallListView, Any], themed: QApplication
) -> None:
    view, paint = both
    view.selectRow(3)
    styled, own = paint()
    assert differing_pixels(styled, own) == 0
    view.set_grouped(True)  # the turn's row: bold time and model, ▸, summed figures
    styled, own = paint()
    assert differing_pixels(styled, own) == 0
    groups = view.group_model
    assert groups is not None and groups.group_count() == 1
    view.toggle_turn(next(r for r in range(groups.rowCount()) if groups.turn_id(r)))
    styled, own = paint()  # unfolded: its calls indented under it
    assert differing_pixels(styled, own) == 0
    view.clearSelection()
    styled, own = paint()
    assert differing_pixels(styled, own) == 0


def test_the_dark_list_looks_as_the_style_painted_it(
    db_path: Path, store: CallStore, qtbot: QtBot, themed: QApplication
) -> None:
    themed.setPalette(theme.build_palette(True))  # a window opened in dark mode
    seed(db_path, qtbot)
    view = shown_list(store, qtbot)
    view.selectRow(5)
    styled = grab(view, StyledRowDelegate(view))
    own = grab(view, RowDelegate(view))
    assert theme.is_dark(view.palette()) and own.pixelColor(2, 2).lightness() < 128
    assert differing_pixels(styled, own) == 0


def test_an_error_row_has_the_alert_tint_and_a_selected_row_the_highlight(
    view: CallListView,
) -> None:
    model = view.model()
    error = next(
        r for r in range(model.rowCount()) if model.data(model.index(r, COLUMN["state"])) == "error"
    )
    plain = next(
        r
        for r in range(model.rowCount())
        if model.data(model.index(r, COLUMN["state"])) == "complete" and r % 2 == error % 2
    )
    view.selectRow(plain + 1 if plain + 1 != error else plain + 2)
    selected = view.currentIndex().row()
    image = view.viewport().grab().toImage()
    # An empty stretch at the right end of the Model column (the stretched one).
    x = view.columnViewportPosition(COLUMN["endpoint"]) - 4

    def at(row: int) -> QColor:
        return image.pixelColor(x, view.rowViewportPosition(row) + 2)

    tint, blank = at(error), at(plain)
    assert tint != blank and tint.red() > tint.green() + 10  # reddish, light palette
    assert at(selected) == theme.selection_colour(False)


def test_a_narrow_column_elides_its_text_as_the_font_metrics_say(
    view: CallListView, themed: QApplication
) -> None:
    header = view.horizontalHeader()
    model_column = COLUMN["model"]
    header.setSectionResizeMode(model_column, header.ResizeMode.Interactive)
    header.resizeSection(model_column, 160)
    delegate = RowDelegate(view)
    view.setItemDelegate(delegate)
    view.viewport().grab()
    shown = [laid[0].text() for key, laid in delegate._texts.items() if key[0] == LONG_MODEL]
    metrics = QFontMetrics(view.font())
    margin = 3  # Fusion: the focus frame's margin + 1 on each side
    expected = metrics.elidedText(LONG_MODEL, Qt.TextElideMode.ElideRight, 160 - 2 * margin)
    assert shown == [expected] and expected.endswith("…") and len(expected) < len(LONG_MODEL)
    styled = grab(view, StyledRowDelegate(view))
    assert differing_pixels(styled, grab(view, delegate)) == 0
