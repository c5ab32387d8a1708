"""The database: refused when it is from a newer Relayscope or cannot be written, with a
sentence that says what to do; outages of the disk lose no call."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from relayscope.store.call_store import CallStore, StoreError
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


MESSAGES = [{"role": "user", "content": "hello"}]


def make_calls(worker: WorkerProcess, count: int) -> None:
    """`count` calls, every other one a stream; each must be answered in full."""
    for i in range(count):
        response = httpx.post(
            worker.base_url + "/chat/completions",
            json={"model": "fake-1", "messages": MESSAGES, "stream": i % 2 == 1},
            timeout=20,
        )
        assert response.status_code == 200
        if i % 2:
            assert response.text.rstrip().endswith("data: [DONE]")


def lock_database(path: Path) -> sqlite3.Connection:
    """Another program holding the write lock: every write the recorder tries fails (after
    its 5 s busy timeout) until it is let go."""
    blocker = sqlite3.connect(path, isolation_level=None, timeout=5)
    blocker.execute("BEGIN EXCLUSIVE")
    return blocker


def test_calls_made_during_an_outage_are_written_once_the_database_is_back(
    tmp_path: Path, fake: FakeProvider
) -> None:
    with WorkerProcess(tmp_path, config_for(fake), events=True) as worker:
        blocker = lock_database(worker.db_path)
        make_calls(worker, 12)
        event = worker.wait_for_event("record_error", timeout=15)
        assert "-unsaved.ndjson" in event["message"] and "retrying" in event["message"]
        journal = worker.db_path.with_name("relayscope.db-unsaved.ndjson")
        assert journal.exists()
        blocker.execute("ROLLBACK")
        blocker.close()
        rows = worker.wait_for_calls(12, state="complete", timeout=30)
        assert len(rows) == 12 and all(r["output_text"] for r in rows)
        assert sum(r["chunk_count"] > 0 for r in rows) == 6
        deadline = time.monotonic() + 60  # written back once a second; a loaded machine is slow
        while journal.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not journal.exists()


def test_sigterm_during_an_outage_keeps_the_calls_for_the_next_start(
    tmp_path: Path, fake: FakeProvider
) -> None:
    worker = WorkerProcess(tmp_path, config_for(fake), events=False).start()
    blocker = lock_database(worker.db_path)
    try:
        make_calls(worker, 12)
        time.sleep(1.0)  # the last batch reaches the recorder
        worker.stop(signal.SIGTERM, timeout=30)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    log = worker.log()
    assert "12 calls could not be written to" in log, log
    assert "will be written at the next start" in log
    journal = worker.db_path.with_name("relayscope.db-unsaved.ndjson")
    assert journal.exists() and journal.stat().st_mode & 0o777 == 0o600
    with WorkerProcess(tmp_path, config_for(fake), events=False) as again:
        rows = again.wait_for_calls(12)
        assert "Wrote 12 calls saved in" in again.log()
    assert [r["state"] for r in rows] == ["complete"] * 12
    assert all(r["output_text"] for r in rows)
    assert not journal.exists()


def test_a_full_disk_loses_nothing_once_space_is_freed(tmp_path: Path, fake: FakeProvider) -> None:
    """A real full file system: a 4 MB tmpfs (needs root and mount; skipped elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        worker = WorkerProcess(tmp_path, config_for(fake), events=False)
        worker.db_path = disk / "relayscope.db"
        worker.start()
        try:
            filler = disk / "filler"
            # Fill the disk to the last block.
            with filler.open("wb") as out, contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            big = "x" * 200_000  # each call's body cannot fit any more
            for _ in range(6):
                response = httpx.post(
                    worker.base_url + "/embeddings",
                    json={"model": "fake-1", "input": big},
                    timeout=20,
                )
                assert response.status_code == 200
            # The recorder says so once neither the database nor the journal takes a batch:
            # wait for that sentence rather than a fixed time.
            deadline = time.monotonic() + 20
            while "Calls are kept in memory meanwhile" not in worker.log():
                assert time.monotonic() < deadline, worker.log()
                time.sleep(0.05)
            filler.unlink()  # space again
            rows = worker.wait_for_calls(6, state="complete", timeout=20)
            assert len(rows) == 6
            assert all(r["request_size"] > 200_000 for r in rows)
        finally:
            worker.stop()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
