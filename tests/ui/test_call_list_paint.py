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


#: Cells Qt asked `RowDelegate` to paint one by one: none when the view paints its rows
#: itself in one pass.
cells_from_qt = [0]


@pytest.fixture(autouse=True)
def counted_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts `RowDelegate.paint` calls (on the class: a subclass is a delegate the view
    does not know, which it leaves to Qt's per-cell paint)."""
    cells_from_qt[0] = 0
    paint = RowDelegate.paint

    def counting(self: RowDelegate, painter: Any, option: Any, index: Any) -> None:
        cells_from_qt[0] += 1
        paint(self, painter, option, index)

    monkeypatch.setattr(RowDelegate, "paint", counting)


def own_grab(view: CallListView) -> QImage:
    """The view painted by itself in one pass (and checked to be: no cell asked of Qt)."""
    cells_from_qt[0] = 0
    image = grab(view, RowDelegate(view))
    assert cells_from_qt[0] == 0
    return image


@pytest.fixture
def both(view: CallListView) -> Iterator[tuple[CallListView, Any]]:
    """The view and a function painting it with the style's and with the own delegate."""
    styled = StyledRowDelegate(view)
    yield view, lambda: (grab(view, styled), own_grab(view))


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
    own = own_grab(view)
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


def by_cell_grab(view: CallListView) -> QImage:
    """The view painted by Qt, asking the list's delegate cell by cell."""
    view.fast_paint = False
    cells_from_qt[0] = 0
    image = grab(view, RowDelegate(view))
    view.fast_paint = True
    assert cells_from_qt[0] > 100  # Qt asked each visible cell
    return image


def test_the_one_pass_paint_draws_what_qt_drew_cell_by_cell_grid_too(view: CallListView) -> None:
    view.selectRow(4)
    assert differing_pixels(by_cell_grab(view), own_grab(view)) == 0
    # The list shows no grid, but a view that does gets Qt's lines. (With a grid the cells
    # are a pixel shorter and the delegate's text sits half a pixel off the style's: the
    # comparison is with the same delegate called by Qt.)
    view.setShowGrid(True)
    view.horizontalScrollBar().setValue(37)
    assert differing_pixels(by_cell_grab(view), own_grab(view)) == 0


def test_moved_hidden_and_empty_columns_and_plain_rows_look_as_the_style_painted_them(
    both: tuple[CallListView, Any],
) -> None:
    view, paint = both
    view.selectRow(2)
    header = view.horizontalHeader()
    header.moveSection(COLUMN["status"], 0)
    header.hideSection(COLUMN["endpoint"])
    header.resizeSection(COLUMN["provider"], 0)
    view.setAlternatingRowColors(False)
    view.horizontalScrollBar().setValue(37)
    styled, own = paint()
    assert differing_pixels(styled, own) == 0


def test_a_cell_selected_alone_is_painted_selected(both: tuple[CallListView, Any]) -> None:
    view, paint = both
    selection = view.selectionModel()
    model = view.model()
    selection.select(model.index(1, COLUMN["model"]), selection.SelectionFlag.Select)
    styled, own = paint()
    assert differing_pixels(styled, own) == 0


def test_a_live_switch_to_dark_paints_the_list_as_one_opened_dark(
    db_path: Path, store: CallStore, qtbot: QtBot, themed: QApplication
) -> None:
    """The system switching to dark while the window is open (`app.setPalette`): the list
    then looks as a list opened in dark mode, and back in light as one opened light."""
    seed(db_path, qtbot)
    light_list = shown_list(store, qtbot)
    light_list.selectRow(5)
    opened_light = own_grab(light_list)
    themed.setPalette(theme.build_palette(True))
    qtbot.wait(10)
    switched = own_grab(light_list)
    dark_list = shown_list(store, qtbot)
    dark_list.selectRow(5)
    opened_dark = own_grab(dark_list)
    assert opened_dark.pixelColor(2, 2).lightness() < 128
    assert differing_pixels(switched, opened_dark) == 0
    themed.setPalette(theme.build_palette(False))
    qtbot.wait(10)
    assert differing_pixels(own_grab(dark_list), opened_light) == 0
