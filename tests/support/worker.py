"""Runs the real `relayscope proxy` worker process for end-to-end tests."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Self
from uuid import uuid4

from relayscope.calls.record import CallRecord
from relayscope.store.call_store import CallStore

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python -m relayscope proxy --port 0` in a child process; reads its stdout as it goes."""

    def __init__(
        self,
        tmp: Path,
        config_text: str | None = None,
        *,
        events: bool = True,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        subcommand: str = "proxy",
        new_session: bool = False,
    ) -> None:
        self.subcommand = subcommand
        self.new_session = new_session  # its own process group, as a terminal would give it
        self.tmp = tmp
        self.db_path = tmp / "relayscope.db"
        self.config_path = tmp / "config.toml"
        if config_text is not None:
            self.config_path.write_text(config_text)
        self.events_on = events
        self.extra_args = extra_args
        self.env = {**os.environ, **(env or {})}
        self.lines: queue.Queue[str] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self.stdout: list[str] = []
        self.base_url = ""
        self.proc: subprocess.Popen[str] | None = None
        #: Headers a test's clients send with each request (a ScopedWorker's probe; none here).
        self.headers: dict[str, str] = {}

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "relayscope",
            self.subcommand,
            "--port",
            "0",
            "--db",
            str(self.db_path),
        ]
        if self.config_path.exists():
            args += ["--config", str(self.config_path)]
        if self.events_on:
            args.append("--events")
        # The worker exits when this test process dies, even if a test forgot to stop it.
        if "--parent-pipe" not in self.extra_args:
            args.append("--parent-pipe")
        return [*args, *self.extra_args]

    def start(self, timeout: float = 60.0) -> Self:
        with (self.tmp / "worker.log").open("w") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=self.new_session,
            )
        assert self.proc.stdout is not None
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(
                        f"worker exited {self.proc.returncode}: {self.log()}"
                    ) from None
                continue
            if line.startswith("Relayscope listening on "):
                self.base_url = line.removeprefix("Relayscope listening on ").strip()
                return self
        self.stop()
        raise RuntimeError(f"worker did not start: {self.log()}")

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.stdout.append(line)
            if line.startswith("{"):
                self.events.append(json.loads(line))
            self.lines.put(line)

    def send(self, command: dict[str, Any]) -> None:
        """One NDJSON command on the worker's stdin (the app's side of --parent-pipe)."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def wait_for_event(self, name: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if event.get("event") == name and all(event.get(k) == v for k, v in match.items()):
                    return event
            time.sleep(0.02)
        raise AssertionError(f"no {name} event {match}; got {self.events[-10:]}")

    def recording_pid(self) -> int:
        """The worker's recording process (its one child), Linux /proc."""
        assert self.proc is not None
        children: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            children += [int(p) for p in (task / "children").read_text().split()]
        assert len(children) == 1, children
        return children[0]

    def log(self) -> str:
        path = self.tmp / "worker.log"
        return path.read_text() if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def store(self) -> CallStore:
        return CallStore(self.db_path, create=False)

    def wait_for_calls(
        self,
        count: int,
        *,
        state: str | None = None,
        timeout: float = 10.0,
        keep: Callable[[CallRecord], bool] | None = None,
    ) -> list[CallRecord]:
        """Rows once `count` calls are recorded (and, if given, all in `state`), oldest first;
        with `keep`, only the rows it keeps are counted, checked and returned."""
        deadline = time.monotonic() + timeout
        rows: list[CallRecord] = []
        while time.monotonic() < deadline:
            store = self.store()
            try:
                rows = store.list_calls(limit=100_000, descending=False)
            finally:
                store.close()
            if keep is not None:
                rows = [r for r in rows if keep(r)]
            live = [r for r in rows if r["state"] in ("pending", "streaming")]
            if (
                len(rows) >= count
                and not live
                and (state is None or all(r["state"] == state for r in rows))
            ):
                return rows
            time.sleep(0.05)
        raise AssertionError(f"expected {count} finished calls, have {rows!r}"[:3000])


def marked(path: str) -> str:
    """The path with a query parameter of its own, so a test finds its call among those of
    the tests before it on a shared worker (whose rows may still be on their way)."""
    return f"{path}{'&' if '?' in path else '?'}probe={uuid4().hex}"


def recorded(worker: WorkerProcess, path: str, timeout: float = 20.0) -> CallRecord:
    """The finished call whose recorded path is `path` (see `marked`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = worker.store()
        try:
            rows = [r for r in store.list_calls(limit=100_000) if r["path"] == path]
        finally:
            store.close()
        if rows and rows[0]["state"] not in ("pending", "streaming"):
            assert len(rows) == 1, rows
            return rows[0]
        time.sleep(0.05)
    raise AssertionError(f"no finished call for {path}")


def completion_id(chunks: list[dict[str, Any]]) -> str:
    """The completion id a recorded chat stream's first event carries (the fake's streams
    and the client's chunks carry it too): which stream a recorded call was."""
    first = "".join(c["data"] for c in chunks).split("\n\n")[0]
    return str(json.loads(first.removeprefix("data: "))["id"])


def provider_config(*providers: tuple[str, str], extra: str = "") -> str:
    """TOML for fake providers given as (name, base_url) with the first as default."""
    parts = []
    for index, (name, base_url) in enumerate(providers):
        parts.append(
            f'[[providers]]\nname = "{name}"\nbase_url = "{base_url}"\n'
            f'api_key = "sk-{name}-secret-key-0123456789"\n'
            f"default = {'true' if index == 0 else 'false'}\n"
        )
    return "\n".join(parts) + extra


class ScopedWorker:
    """One test's view of a worker shared by a module (a start and stop cost seconds of CPU).

    The test's clients send `headers` (a probe of its own) with every request, and
    `wait_for_calls` counts only the calls that carry it, so a test sees exactly its own calls
    as it would on a fresh worker, whatever the tests before it left behind or still have on
    their way. Everything else (the address, the database, the log) is the shared worker's."""

    PROBE_HEADER = "x-test-probe"

    def __init__(self, worker: WorkerProcess) -> None:
        self.shared = worker
        self.probe = uuid4().hex
        self.headers = {self.PROBE_HEADER: self.probe}
        self.base_url = worker.base_url
        self.db_path = worker.db_path
        self.config_path = worker.config_path

    def log(self) -> str:
        return self.shared.log()

    def store(self) -> CallStore:
        return self.shared.store()

    def wait_for_calls(
        self, count: int, *, state: str | None = None, timeout: float = 10.0
    ) -> list[CallRecord]:
        """Like `WorkerProcess.wait_for_calls`, over this test's calls only."""
        return self.shared.wait_for_calls(count, state=state, timeout=timeout, keep=self.mine)

    def mine(self, row: CallRecord) -> bool:
        """Whether a recorded call carries this test's probe header."""
        return self.probe in (row["request_headers"] or "")
