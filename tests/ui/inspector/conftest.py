"""Fixtures: a database of realistic recorded calls and an inspector reading it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from relayscope.analysis.cost import load_prices_in_background, prices_loaded
from relayscope.store.call_store import CallStore
from relayscope.ui.inspector import CallInspector
from tests.ui.inspector import samples


@pytest.fixture
def samples_path(tmp_path: Path) -> Path:
    return tmp_path / "samples.db"


@pytest.fixture
def sample_store(samples_path: Path) -> Iterator[CallStore]:
    store = samples.build(samples_path)
    yield store
    store.close()


@pytest.fixture
def inspector(qtbot: QtBot, sample_store: CallStore) -> CallInspector:
    load_prices_in_background()  # the facts tab prices calls once the price list is in
    qtbot.waitUntil(prices_loaded, timeout=10_000)
    widget = CallInspector(sample_store)
    qtbot.addWidget(widget)
    widget.resize(1280, 500)  # its share of a 1280×800 window
    widget.show()
    qtbot.waitExposed(widget)
    return widget
