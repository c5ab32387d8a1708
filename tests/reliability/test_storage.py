"""The database: refused when it is from a newer Relayscope or cannot be written, with a
sentence that says what to do; outages of the disk lose no call."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.store import CallStore, StoreError
from tests.fakes.provider import FakeProvider
from tests.reliability.conftest import config_for
from tests.support.worker import WorkerProcess


def test_a_database_from_a_newer_version_is_refused_at_start(
    tmp_path: Path, fake: FakeProvider
) -> None:
    db = tmp_path / "relayscope.db"
    CallStore(db).close()
    store = CallStore(db)
    store.db["_sqlite_migrations"].insert(  # what a later Relayscope's migration leaves
        {"migration_set": "relayscope", "name": "m099_from_the_future", "applied_at": "x"}
    )
    store.close()
    worker = WorkerProcess(tmp_path, config_for(fake), events=False)
    with pytest.raises(RuntimeError, match="worker exited 1"):
        worker.start()
    log = worker.log()
    assert "written by a newer version of Relayscope (schema m099_from_the_future)" in log
    assert "Traceback" not in log
    assert not worker.db_path.with_name("relayscope.db-journal.ndjson").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreError) as caught:
            CallStore(folder / "relayscope.db")
    finally:
        folder.chmod(0o700)
    assert f"the folder {folder} is read-only" in str(caught.value)
