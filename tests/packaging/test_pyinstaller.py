"""The packaged one-folder app: built with PyInstaller, it records a call through its proxy."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from relayscope.store.call_store import CallStore
from tests.support.worker import ROOT

# The build takes about two minutes of one core, more while the rest of the suite runs beside
# it (dev/test.sh): the suite's 120 s per test would cut it, and nothing here is timed.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
BINARY = ROOT / "dist" / "relayscope" / "relayscope"


@pytest.fixture(scope="module")
def binary() -> Path:
    subprocess.run(
        ["bash", "packaging/build.sh"], cwd=ROOT, check=True, capture_output=True, timeout=900
    )
    assert BINARY.exists()
    return BINARY


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_frees_up(port: int, timeout: float = 10) -> bool:
    """True once a new listener could bind the port (as a server would: SO_REUSEADDR, since
    the connections the worker closed linger in TIME_WAIT)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
        time.sleep(0.1)


def wait_for_call(db: Path, timeout: float = 15) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            store = CallStore(db, create=False)
            try:
                rows = store.list_calls()
            finally:
                store.close()
            if rows and rows[0]["state"] == "complete":
                return rows[0]
        time.sleep(0.1)
    raise AssertionError("no call recorded")


def send_demo_call(port: int, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json={"model": "demo-fast", "messages": [{"role": "user", "content": "packaged?"}]},
            )
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_packaged_headless_proxy_records_a_call(binary: Path, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "proxy", "--port", str(port), "--db", str(tmp_path / "r.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert (
            proc.stdout.readline().strip() == f"Relayscope listening on http://127.0.0.1:{port}/v1"
        )
        assert send_demo_call(port).status_code == 200
        row = wait_for_call(tmp_path / "r.db")
        assert (row["provider"], row["status"]) == ("demo", 200)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_packaged_app_starts_offscreen_with_its_worker(binary: Path, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"[proxy]\nport = {port}\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "RELAYSCOPE_NO_KEYRING": "1"}
    app = subprocess.Popen(
        [str(binary), "--config", str(config), "--db", str(tmp_path / "r.db")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert send_demo_call(port).status_code == 200  # the app's worker answers
        row = wait_for_call(tmp_path / "r.db")
        assert row["provider"] == "demo"
    finally:
        app.terminate()
        app.wait(15)
        if app.stderr:
            app.stderr.close()
    assert port_frees_up(port)  # closing the app stopped its worker
