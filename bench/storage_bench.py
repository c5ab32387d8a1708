"""Disk per agent session: today's storage and shared pieces side by side, through the worker.

    .venv/bin/python -m bench.storage_bench            # 60 and 200 turns, a 100,000-call show
    .venv/bin/python -m bench.storage_bench --quick    # 60 turns only, a 20,000-call show

A Codex-like session (12 KB of instructions, 20 tool definitions, ~4 KB of new items per
turn, the whole conversation resent every turn, streamed answers) is sent with httpx through
the real worker and the bench upstream, once through the code before shared pieces (the
commit before `relayscope.store.bodies`, unpacked from git into a temporary folder) and once
through this tree. Reported: bytes sent, the database after a checkpoint (index included),
the recording process's CPU per call, and the time `CallStore.get_call` takes to give back a
body. The alternatives that were not chosen are measured on the same bodies in this process:
plain zstd per body, and zstd with the previous body as a raw-content dictionary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from io import BytesIO
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import httpx

from bench.procs import ROOT, Upstream, cpu_seconds
from relayscope.protocols.encodings import zstd  # type: ignore[attr-defined]
from relayscope.store import bodies
from relayscope.store.call_store import CallStore

SESSION = "0199f1a2-bench-session"


def _words(rng: random.Random, n: int) -> str:
    vocab = [f"w{rng.randrange(5000)}" for _ in range(400)]
    return " ".join(rng.choice(vocab) for _ in range(n))


def codex_bodies(turns: int, seed: int = 1) -> list[bytes]:
    """The request bodies of a `turns`-turn agent session that resends everything."""
    rng = random.Random(seed)
    tools = [
        {
            "type": "function",
            "name": f"tool_{i}",
            "description": _words(rng, 200),
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
        }
        for i in range(20)
    ]
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "developer", "content": _words(rng, 2000)}
    ]
    out = []
    for turn in range(turns):
        if turn % 3 == 0:
            items.append({"type": "message", "role": "user", "content": _words(rng, 200)})
        else:
            call_id = f"call_{turn}"
            items.append(
                {"type": "function_call", "call_id": call_id, "name": "tool_1", "arguments": "{}"}
            )
            items.append(
                {"type": "function_call_output", "call_id": call_id, "output": _words(rng, 900)}
            )
        body = {
            "model": "fake-w40",
            "input": items,
            "tools": tools,
            "stream": True,
            "store": False,
            "prompt_cache_key": SESSION,
        }
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


def baseline_tree(tmp: Path) -> tuple[Path, str]:
    """The code before shared pieces, unpacked from git (app/relayscope/ and proxy_addons/relayscope/proxy/)."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "relayscope.store.bodies"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    archive = subprocess.run(
        ["git", "archive", f"{added}^", "app", "proxy_addons"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    target = tmp / "baseline"
    target.mkdir()
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target, added[:8] + "^"


class Worker:
    """`python -m relayscope proxy` from `code` (this tree or the baseline), its events read."""

    def __init__(self, code: Path, db: Path, config: Path) -> None:
        argv = [sys.executable, "-m", "relayscope", "proxy", "--port", "0", "--db", str(db)]
        argv += ["--config", str(config), "--events", "--parent-pipe"]
        env = {**os.environ, "PYTHONPATH": str(code)}
        self.proc = subprocess.Popen(
            argv,
            cwd=code,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # one log line per call
            text=True,
        )
        self.finished = 0
        self.base_url = ""
        ready = threading.Event()
        assert self.proc.stdout is not None

        def read(stream: IO[str]) -> None:
            for line in stream:
                if line.startswith("Relayscope listening on "):
                    self.base_url = line.removeprefix("Relayscope listening on ").strip()
                    ready.set()
                elif '"call_finished"' in line:
                    self.finished += 1

        threading.Thread(target=read, args=(self.proc.stdout,), daemon=True).start()
        if not ready.wait(30):
            self.stop()
            raise RuntimeError("the worker did not start")

    def recording_cpu(self) -> float:
        """CPU seconds of the worker's recording process (its child)."""
        return cpu_seconds(self.proc.pid) - _own_cpu(self.proc.pid)

    def wait_for(self, calls: int) -> None:
        deadline = time.monotonic() + 60
        while self.finished < calls and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # --parent-pipe: the worker ends when its stdin closes
        self.proc.wait(30)


def _own_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checkpointed_size(db: Path) -> int:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def run_session(code: Path, tmp: Path, upstream_port: int, payloads: list[bytes]) -> dict[str, Any]:
    tmp.mkdir()
    db, config = tmp / "relayscope.db", tmp / "config.toml"
    config.write_text(
        f'[[providers]]\nname = "bench"\nbase_url = "http://127.0.0.1:{upstream_port}/v1"\n'
        'api_key = "sk-bench"\ndefault = true\n'
    )
    worker = Worker(code, db, config)
    empty = checkpointed_size(db)
    cpu0 = worker.recording_cpu()
    headers = {"content-type": "application/json", "session-id": SESSION}
    try:
        with httpx.Client(base_url=worker.base_url, timeout=60) as client:
            for body in payloads:
                with client.stream("POST", "/responses", content=body, headers=headers) as r:
                    r.read()
                    assert r.status_code == 200, r.status_code
        worker.wait_for(len(payloads))
        cpu = worker.recording_cpu() - cpu0
    finally:
        worker.stop()
    return {"db": checkpointed_size(db) - empty, "cpu_ms_per_call": cpu * 1000 / len(payloads)}


def show_times(db: Path, ids: list[str], expect: dict[str, bytes]) -> list[float]:
    """Milliseconds `CallStore.get_call` takes for each of `ids` (bodies checked)."""
    store = CallStore(db, create=False)
    times = []
    try:
        for call_id in ids:
            t0 = time.perf_counter()
            call = store.get_call(call_id)
            times.append((time.perf_counter() - t0) * 1000)
            assert call is not None
            body = call["request_body"]
            if call_id in expect:
                assert (body.encode() if isinstance(body, str) else body) == expect[call_id]
    finally:
        store.close()
    return times


def alternatives(payloads: list[bytes]) -> dict[str, dict[str, float]]:
    """Size, write CPU per body and the last body's read time of the designs not chosen."""
    out: dict[str, dict[str, float]] = {}
    t0 = time.process_time()
    plain = [zstd.compress(b, 3) for b in payloads]
    cpu = (time.process_time() - t0) / len(payloads)
    t0 = time.perf_counter()
    zstd.decompress(plain[-1])
    out["zstd per body"] = {
        "size": sum(map(len, plain)),
        "cpu_ms": cpu * 1000,
        "read_ms": (time.perf_counter() - t0) * 1000,
    }
    t0 = time.process_time()
    chained = [zstd.compress(payloads[0], 3)]
    for prev, body in pairwise(payloads):
        dictionary = zstd.ZstdDict(prev, is_raw=True)
        chained.append(zstd.ZstdCompressor(3, zstd_dict=dictionary).compress(body, 2))
    cpu = (time.process_time() - t0) / len(payloads)
    t0 = time.perf_counter()  # reading the last body decodes the whole chain
    body = zstd.decompress(chained[0])
    for frame in chained[1:]:
        body = zstd.ZstdDecompressor(zstd.ZstdDict(body, is_raw=True)).decompress(frame)
    read = (time.perf_counter() - t0) * 1000
    assert body == payloads[-1]
    out["zstd, previous body as dictionary"] = {
        "size": sum(map(len, chained)),
        "cpu_ms": cpu * 1000,
        "read_ms": read,
    }
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE body_pieces (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
        " codec INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL)"
    )
    t0 = time.process_time()
    lists = [bodies.store(conn, body) for body in payloads]
    cpu = (time.process_time() - t0) / len(payloads)
    t0 = time.perf_counter()
    assert bodies.load(conn, lists[-1]) == payloads[-1]
    read = (time.perf_counter() - t0) * 1000
    held = conn.execute("SELECT sum(length(data)) FROM body_pieces").fetchone()[0]
    out["shared pieces"] = {
        "size": held + sum(map(len, lists)),
        "cpu_ms": cpu * 1000,
        "read_ms": read,
    }
    return out


def pad_database(db: Path, calls: int) -> None:
    """Add filler calls until `db` holds `calls`: each a 4 KB chat body of its own, stored as
    pieces like any other (what grows is the tables and their indexes)."""
    conn = sqlite3.connect(db)
    have = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    with conn:
        for n in range(calls - have):
            text = os.urandom(1500).hex()
            body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]})
            packed = bodies.store(conn, body.encode())
            conn.execute(
                "INSERT INTO calls (id, started_at, endpoint, state, request_pieces)"
                " VALUES (?, '2026-01-01T00:00:00Z', 'chat.completions', 'complete', ?)",
                (f"0000pad-{n:07d}", packed),
            )
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 turns, a 20,000-call show")
    args = parser.parse_args()
    lengths = (60,) if args.quick else (60, 200)
    with tempfile.TemporaryDirectory(prefix="relayscope-storage-") as name, Upstream() as up:
        tmp = Path(name)
        base_code, base_rev = baseline_tree(tmp)
        print(f"baseline: {base_rev}; pieces: this tree")
        results: dict[int, dict[str, Any]] = {}
        for turns in lengths:
            payloads = codex_bodies(turns)
            sent = sum(map(len, payloads))
            row: dict[str, Any] = {"sent": sent, "new": len(payloads[-1])}
            row["today"] = run_session(base_code, tmp / f"today-{turns}", up.port, payloads)
            row["pieces"] = run_session(ROOT, tmp / f"pieces-{turns}", up.port, payloads)
            row["alternatives"] = alternatives(payloads)
            results[turns] = row
            print(json.dumps({turns: row}, indent=1))
        show(tmp, lengths[-1], 20_000 if args.quick else 100_000)


def _ids(db: Path) -> list[str]:
    store = CallStore(db, create=False)
    try:
        rows = store.list_calls(columns=("id",), limit=100_000, descending=False)
    finally:
        store.close()
    return [r["id"] for r in rows]


def _spread(times: list[float]) -> list[float]:
    """Median, 95th percentile and worst, ms."""
    ordered = sorted(times)
    return [
        round(statistics.median(ordered), 2),
        round(ordered[int(len(ordered) * 0.95)], 2),
        round(ordered[-1], 2),
    ]


def show(tmp: Path, turns: int, target: int) -> None:
    """`get_call` of every call of the longest session, today's storage and pieces side by
    side, then on the pieces database padded to `target` calls."""
    payloads = codex_bodies(turns)
    today_db = tmp / f"today-{turns}" / "relayscope.db"
    show_db = tmp / f"pieces-{turns}" / "relayscope.db"
    today_ids, ids = _ids(today_db), _ids(show_db)
    result: dict[str, Any] = {}
    for round_ in range(2):  # interleaved: the machine's noise hits both alike
        result[f"today_{round_}"] = _spread(
            show_times(today_db, today_ids, dict(zip(today_ids, payloads, strict=True)))
        )
        result[f"pieces_{round_}"] = _spread(
            show_times(show_db, ids, dict(zip(ids, payloads, strict=True)))
        )
    t0 = time.perf_counter()
    pad_database(show_db, target)
    result["padded_s"] = round(time.perf_counter() - t0)
    for round_ in range(2):
        result[f"pieces_{target}_{round_}"] = _spread(
            show_times(show_db, ids, dict(zip(ids, payloads, strict=True)))
        )
    pad_ids = [f"0000pad-{n:07d}" for n in range(0, target - len(ids), 500)]
    result[f"filler_{target}"] = _spread(show_times(show_db, pad_ids, {}))
    result["db_bytes"] = checkpointed_size(show_db)
    print(json.dumps({"show_ms": result}, indent=1))


if __name__ == "__main__":
    main()
