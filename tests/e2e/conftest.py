"""Fixtures: a fake provider on a real socket and the real worker process routed to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess, provider_config

FAKE_KEY = "sk-fake-secret-key-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(name="fake", api_key=FAKE_KEY, stream_required=("gpt-*",)) as provider:
        yield provider


@pytest.fixture
def worker(tmp_path: Path, fake: FakeProvider) -> Iterator[WorkerProcess]:
    config = provider_config(("fake", fake.base_url)).replace(
        'api_key = "sk-fake-secret-key-0123456789"', f'api_key = "{FAKE_KEY}"'
    )
    with WorkerProcess(tmp_path, config) as process:
        yield process


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeProvider]:
    """One provider for a module's parametrized tests."""
    with FakeProvider(name="fake", api_key=FAKE_KEY, stream_required=("gpt-*",)) as provider:
        yield provider


@pytest.fixture(scope="module")
def shared_worker(
    tmp_path_factory: pytest.TempPathFactory, shared_fake: FakeProvider
) -> Iterator[WorkerProcess]:
    """One worker for a module's parametrized tests (a start costs seconds); each test finds
    its own call by a marked path (tests.support.worker.marked)."""
    config = provider_config(("fake", shared_fake.base_url)).replace(
        'api_key = "sk-fake-secret-key-0123456789"', f'api_key = "{FAKE_KEY}"'
    )
    with WorkerProcess(tmp_path_factory.mktemp("shared"), config) as process:
        yield process


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
