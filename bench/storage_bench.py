"""Disk per agent session: three generations of storage side by side, through the worker.

    .venv/bin/python -m bench.storage_bench            # 60 and 200 turns, a 100,000-call show
    .venv/bin/python -m bench.storage_bench --quick    # 60 turns only, a 20,000-call show

A Codex-like session (12 KB of instructions, 20 tool definitions, ~4 KB of new items per
turn, the whole conversation resent every turn, streamed answers) is sent with httpx through
the real worker and the bench upstream, once through each of: the code before shared pieces
(`whole`: the commit before `relayscope.store.bodies`), the code before chunk packs (`pieces`:
the commit before `relayscope.store.stream_packs`), each unpacked from git into a temporary
folder, and this tree (`packs`). Reported: bytes sent, the database after a checkpoint
(index included) and where its bytes are (`dbstat`), the recording process's CPU per call,
and the time a `show` takes (`CallStore.get_call`, the body put back together, and
`CallStore.chunks`). The alternatives that were not chosen are measured in this process:
for bodies, plain zstd per body and zstd with the previous body as a raw-content
dictionary; for streams, each chunk compressed alone and a pack at other zstd levels.
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
from relayscope.store import bodies, stream_packs
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


#: Each earlier storage: the module whose first commit ended it.
BASELINES = {"whole": "app/core/bodies.py", "pieces": "app/relayscope/store/stream_packs.py"}


def baseline_tree(tmp: Path, name: str = "whole") -> tuple[Path, str]:
    """The code before `BASELINES[name]` was added, unpacked from git (app/, proxy_addons/)."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", BASELINES[name]],
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
    target = tmp / f"baseline-{name}"
    target.mkdir()
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target, added[:8] + "^"


class Worker:
    """`python -m relayscope proxy` from `code` (this tree or the baseline), its events read."""

    def __init__(self, code: Path, db: Path, config: Path) -> None:
        # This tree is one `relayscope` namespace over app/ and proxy_addons/; the baseline
        # predates it (packages `app` and `proxy_addons` at the root).
        if (code / "app" / "relayscope").is_dir():
            module, path = "relayscope", [code / "app", code / "proxy_addons"]
        else:
            module, path = "app", [code]
        argv = [sys.executable, "-m", module, "proxy", "--port", "0", "--db", str(db)]
        argv += ["--config", str(config), "--events", "--parent-pipe"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))}
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
    return {
        "db": checkpointed_size(db) - empty,
        "cpu_ms_per_call": cpu * 1000 / len(payloads),
        "tables": breakdown(db),
    }


#: Where a database's bytes are: each table with its indexes (`dbstat`), and free pages.
_PARTS = {
    "chunks": ("chunks", "sqlite_autoindex_chunks_1"),
    "chunk_packs": ("chunk_packs", "sqlite_autoindex_chunk_packs_1"),
    "body_pieces": ("body_pieces", "sqlite_autoindex_body_pieces_1"),
    "fts": ("calls_fts_data", "calls_fts_idx", "calls_fts_docsize", "calls_fts_config"),
}


def breakdown(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        pages = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    out = {part: sum(pages.pop(n, 0) for n in names) for part, names in _PARTS.items()}
    out["calls"] = sum(pages.pop(n) for n in list(pages) if n == "calls" or "_calls_" in n)
    out["free"] = free * size
    out["other"] = sum(pages.values())
    return out


def show_times(
    db: Path, ids: list[str], expect: dict[str, bytes], cpu: list[float] | None = None
) -> list[float]:
    """Milliseconds a `show` takes for each of `ids`: `CallStore.get_call` (the body put back
    together) and `CallStore.chunks` (bodies and streams checked); its CPU milliseconds are
    appended to `cpu` (what other people's work on the machine does not stretch)."""
    store = CallStore(db, create=False)
    times = []
    try:
        for call_id in ids:
            c0, t0 = time.thread_time(), time.perf_counter()
            call = store.get_call(call_id)
            chunks = store.chunks(call_id)
            times.append((time.perf_counter() - t0) * 1000)
            if cpu is not None:
                cpu.append((time.thread_time() - c0) * 1000)
            assert call is not None
            assert len(chunks) == (call["chunk_count"] or 0)
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


def stream_alternatives(db: Path) -> dict[str, dict[str, float]]:
    """Size, write CPU per call and read time per call of ways to store the streams of `db`
    (recorded as rows): each chunk zstd alone, and a pack per call at two zstd levels."""
    conn = sqlite3.connect(db)
    try:
        ids = [i for (i,) in conn.execute("SELECT DISTINCT call_id FROM chunks")]
        sql = "SELECT seq, t_ms, data, direction FROM chunks WHERE call_id = ? ORDER BY seq"
        streams = [
            [
                {"seq": q, "t_ms": t, "data": d, "direction": r}
                for q, t, d, r in conn.execute(sql, [i])
            ]
            for i in ids
        ]
    finally:
        conn.close()
    out: dict[str, dict[str, float]] = {}
    t0 = time.process_time()
    alone = [[zstd.compress(bodies_of(c), 3) for c in chunks] for chunks in streams]
    cpu = (time.process_time() - t0) / len(streams)
    t0 = time.perf_counter()
    for frames in alone:
        [zstd.decompress(f) for f in frames]
    out["zstd per chunk"] = {
        "size": sum(len(f) for frames in alone for f in frames),
        "cpu_ms": cpu * 1000,
        "read_ms": (time.perf_counter() - t0) * 1000 / len(streams),
    }
    level = stream_packs.LEVEL
    try:
        for name, stream_packs.LEVEL in (("pack, zstd 3", 3), ("pack, zstd 19", 19)):
            t0 = time.process_time()
            packs = [stream_packs.encode(chunks) for chunks in streams]
            cpu = (time.process_time() - t0) / len(streams)
            t0 = time.perf_counter()
            back = [stream_packs.decode(p) for p in packs]
            read = (time.perf_counter() - t0) * 1000 / len(streams)
            assert back == streams
            out[name] = {"size": sum(map(len, packs)), "cpu_ms": cpu * 1000, "read_ms": read}
    finally:
        stream_packs.LEVEL = level
    return out


def bodies_of(chunk: dict[str, Any]) -> bytes:
    data = chunk["data"]
    return data.encode() if isinstance(data, str) else bytes(data or b"")


def pad_database(db: Path, calls: int) -> None:
    """Add filler calls until `db` holds `calls`: each a 4 KB chat body of its own, stored as
    pieces like any other, and a stream of 20 chunks packed like any other (what grows is
    the tables and their indexes)."""
    conn = sqlite3.connect(db)
    have = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    with conn:
        for n in range(calls - have):
            text = os.urandom(1500).hex()
            body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]})
            packed = bodies.store(conn, body.encode())
            call_id = f"0000pad-{n:07d}"
            conn.execute(
                "INSERT INTO calls (id, started_at, endpoint, state, request_pieces, chunk_count)"
                " VALUES (?, '2026-01-01T00:00:00Z', 'chat.completions', 'complete', ?, 20)",
                (call_id, packed),
            )
            chunks = [
                {"seq": i, "t_ms": 5.0 * i, "data": f"data: {text[i * 20 : i * 20 + 40]}\n\n"}
                for i in range(20)
            ]
            conn.execute(
                "INSERT INTO chunk_packs (call_id, count, size, pack) VALUES (?, 20, 0, ?)",
                (call_id, stream_packs.encode(chunks)),
            )
    conn.close()


TREES = ("whole", "pieces", "packs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 turns, a 20,000-call show")
    args = parser.parse_args()
    lengths = (60,) if args.quick else (60, 200)
    with tempfile.TemporaryDirectory(prefix="relayscope-storage-") as name, Upstream() as up:
        tmp = Path(name)
        code = {tree: baseline_tree(tmp, tree) for tree in ("whole", "pieces")}
        print({tree: rev for tree, (_, rev) in code.items()}, "packs: this tree")
        trees = {"whole": code["whole"][0], "pieces": code["pieces"][0], "packs": ROOT}
        for turns in lengths:
            payloads = codex_bodies(turns)
            row: dict[str, Any] = {"sent": sum(map(len, payloads)), "new": len(payloads[-1])}
            for tree in TREES:
                row[tree] = run_session(trees[tree], tmp / f"{tree}-{turns}", up.port, payloads)
                row[tree]["percent"] = round(100 * row[tree]["db"] / row["sent"], 1)
            row["alternatives"] = alternatives(payloads)
            row["streams"] = stream_alternatives(tmp / f"pieces-{turns}" / "relayscope.db")
            print(json.dumps({turns: row}, indent=1), flush=True)
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
    """A `show` of every call of the longest session in each storage, side by side, then on
    the packs database padded to `target` calls."""
    payloads = codex_bodies(turns)
    dbs = {tree: tmp / f"{tree}-{turns}" / "relayscope.db" for tree in TREES}
    ids = {tree: _ids(db) for tree, db in dbs.items()}
    result: dict[str, Any] = {}
    cpu: dict[str, list[float]] = {tree: [] for tree in TREES}
    for round_ in range(2):  # interleaved: the machine's noise hits all alike
        for tree, db in dbs.items():
            expect = dict(zip(ids[tree], payloads, strict=True))
            result[f"{tree}_{round_}"] = _spread(show_times(db, ids[tree], expect, cpu[tree]))
    for tree in TREES:
        result[f"{tree}_cpu"] = _spread(cpu[tree])
    show_db = dbs["packs"]
    t0 = time.perf_counter()
    pad_database(show_db, target)
    result["padded_s"] = round(time.perf_counter() - t0)
    expect = dict(zip(ids["packs"], payloads, strict=True))
    padded_cpu: list[float] = []
    for round_ in range(2):
        result[f"packs_{target}_{round_}"] = _spread(
            show_times(show_db, ids["packs"], expect, padded_cpu)
        )
    result[f"packs_{target}_cpu"] = _spread(padded_cpu)
    pad_ids = [f"0000pad-{n:07d}" for n in range(0, target - len(ids["packs"]), 500)]
    result[f"filler_{target}"] = _spread(show_times(show_db, pad_ids, {}))
    result["db_bytes"] = checkpointed_size(show_db)
    print(json.dumps({"show_ms": result}, indent=1))


if __name__ == "__main__":
    main()
