"""Reliability suite: quick by default; RELAYSCOPE_SOAK=1 runs the long variants."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

SOAK = os.environ.get("RELAYSCOPE_SOAK") == "1"
KEY = "sk-reliability-provider-key-98765"


def scaled(quick: int, soak: int) -> int:
    return soak if SOAK else quick


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(name="fake", api_key=KEY) as provider:
        yield provider


def config_for(fake: FakeProvider, extra: str = "") -> str:
    return (
        f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\napi_key = "{KEY}"\n'
        f"default = true\n{extra}"
    )


@pytest.fixture
def worker(tmp_path: Path, fake: FakeProvider) -> Iterator[WorkerProcess]:
    with WorkerProcess(
        tmp_path, config_for(fake), events=False, extra_args=("--quiet",)
    ) as process:
        yield process


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeProvider]:
    """One provider for a module's parametrized tests."""
    with FakeProvider(name="fake", api_key=KEY) as provider:
        yield provider


@pytest.fixture(scope="module")
def shared_worker(
    tmp_path_factory: pytest.TempPathFactory, shared_fake: FakeProvider
) -> Iterator[WorkerProcess]:
    """One worker for a module's parametrized tests (a start costs seconds); each test finds
    its own call by a marked path (tests.support.worker.marked)."""
    with WorkerProcess(
        tmp_path_factory.mktemp("shared"),
        config_for(shared_fake),
        events=False,
        extra_args=("--quiet",),
    ) as process:
        yield process
