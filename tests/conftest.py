"""Test-wide settings: Qt draws offscreen (no display needed)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
T = TypeVar("T")

# Tests never touch the person's real keyring (workers they start inherit this too).
os.environ["RELAYSCOPE_NO_KEYRING"] = "1"
# Nor the person's cache folder (the app keeps its compact price list there): the suite's own,
# kept between runs so that only the first run builds it.
os.environ["XDG_CACHE_HOME"] = str(Path(__file__).resolve().parents[1] / ".cache" / "test-xdg")
# Nor the person's OpenTelemetry collector: every OTEL_* setting is the test's own to make.
for _name in [name for name in os.environ if name.startswith("OTEL_")]:
    del os.environ[_name]

# The suite starts hundreds of Python processes (workers, their recording processes, the CLI).
# Where PYTHONDONTWRITEBYTECODE is set (some CI images and sandboxes), each compiled mitmproxy,
# sqlite-utils and the app from source again: ~5 s of CPU per worker start and stop instead of
# ~2. Their bytecode is kept in .cache/pycache instead (the source tree and .venv stay as they are).
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
    os.environ.setdefault(
        "PYTHONPYCACHEPREFIX", str(Path(__file__).resolve().parents[1] / ".cache" / "pycache")
    )


@pytest.fixture
def closing() -> Iterator[Callable[[T], T]]:
    """`client = closing(openai.OpenAI(...))`: closed when the test ends. An SDK client left open
    keeps a keep-alive socket that the garbage collector finds later, failing whichever test
    runs then (the suite turns ResourceWarning into an error)."""
    opened: list[Any] = []

    def keep(thing: T) -> T:
        opened.append(thing)
        return thing

    yield keep
    for thing in reversed(opened):
        thing.close()
