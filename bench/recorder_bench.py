"""The recorder's CPU per chunk on one long stream, this tree beside an older commit.

    .venv/bin/python -m bench.recorder_bench                    # 20,000 chunks, base 9a5f1d7
    .venv/bin/python -m bench.recorder_bench --chunks 5000 --rounds 1 --base HEAD~3
    .venv/bin/python -m bench.recorder_bench --profile this     # cProfile of the writer thread

Each run is a child process that does what the recording process does with a stream: a
`RecordingWriter` on a fresh SQLite file, fed one batch of raw SSE bytes per 20 ms window
(`submit`, as the recording process hands over each frame it reads), at `--rate` chunks a
second, so the live gap profile is rewritten twice a second as in real use. Reported per
chunk: the writer thread's CPU (the thread that commits), the whole child's
CPU, and the CPU of `submit` itself. The older commit runs from a copy unpacked from git,
interleaved round by round with this tree, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHUNK = (
    b'data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}\n\n'
)
WINDOW = 0.02


def child(args: argparse.Namespace) -> None:
    """One stream through a real RecordingWriter; prints one JSON line of figures."""
    from relayscope.recording import writer as writer_module
    from relayscope.recording.writer import Recording, RecordingWriter

    class Batch(Recording):
        def __init__(self) -> None:
            self.ops: list[Any] = []
            self._put = self.ops.append

    writer = RecordingWriter(Path(args.db))
    profile = cProfile.Profile() if args.profile else None
    run = writer._run
    writer_cpu: list[float] = []

    def measured() -> None:
        """The writer thread's own loop, with its CPU taken as it ends (all of its work)."""
        if profile is not None:
            profile.runcall(run)
        else:
            run()
        writer_cpu.append(time.thread_time())

    writer._thread = threading.Thread(target=measured, daemon=True)
    writer.open()
    row = {
        "id": "s1",
        "started_at": "2026-12-01T00:00:00.000Z",
        "method": "POST",
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "provider": "p",
        "model": "m",
        "stream": 1,
        "request_body": b'{"model":"m","stream":true,"messages":[]}',
    }
    per_window = max(1, round(args.rate * WINDOW))
    start = time.monotonic()
    cpu0 = time.process_time()
    submit_cpu = 0.0
    sent = 0
    first = True
    while sent < args.chunks:
        batch = Batch()
        if first:
            batch.start(row)
            first = False
        for _ in range(min(per_window, args.chunks - sent)):
            batch.raw("s1", (time.monotonic() - start) * 1000, CHUNK)
            sent += 1
        if sent == args.chunks:
            batch.raw("s1", (time.monotonic() - start) * 1000, b"data: [DONE]\n\n")
            batch.finish("s1", {"status": 200, "state": "complete"})
        t0 = time.thread_time()
        writer.submit(batch.ops)
        submit_cpu += time.thread_time() - t0
        time.sleep(max(0.0, start + (sent / per_window) * WINDOW - time.monotonic()))
    writer.close(timeout=120)
    total = time.process_time() - cpu0
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        Path(args.profile).write_text(out.getvalue())
    print(
        json.dumps(
            {
                "module": writer_module.__file__,
                "writer_cpu_s": writer_cpu[0],
                "process_cpu_s": total,
                "submit_cpu_s": submit_cpu,
                "wall_s": time.monotonic() - start,
            }
        )
    )


def rewrite_cost(n: int) -> tuple[float, float]:
    """CPU of one rewrite of the live gap profile at `n` chunks: rebuilt from every chunk
    time (as before relayscope.recording.gaps) and read from a kept `GapProfile`."""
    from relayscope.analysis.stream_stats import gap_profile
    from relayscope.recording.gaps import GapProfile

    times = [i * 20.0 + (i % 7) * 1.5 for i in range(n)]
    kept = GapProfile()
    for t in times:
        kept.add(t)
    kept.fields()  # folds the gaps in: per-chunk work, counted in the stream's figures
    repeat = 20
    t0 = time.process_time()
    for _ in range(repeat):
        json.dumps(gap_profile(times), separators=(",", ":"))
    rebuilt = (time.process_time() - t0) / repeat
    t0 = time.process_time()
    for _ in range(repeat):
        kept.fields()
    incremental = (time.process_time() - t0) / repeat
    return rebuilt, incremental


def base_tree(tmp: Path, rev: str) -> Path:
    archive = subprocess.run(
        ["git", "archive", rev, "app", "proxy_addons"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    target = tmp / f"base-{rev}"
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def run_child(code: Path, tmp: Path, name: str, args: argparse.Namespace) -> dict[str, Any]:
    db = tmp / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(code / "app"), str(code / "proxy_addons"), str(ROOT)]),
    }
    argv = [sys.executable, "-m", "bench.recorder_bench", "--child", "--db", str(db)]
    argv += ["--chunks", str(args.chunks), "--rate", str(args.rate)]
    if args.profile == name:
        argv += ["--profile", str(ROOT / f".cache/recorder-profile-{name}.txt")]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert str(code) in result["module"], result["module"]  # the tree meant, not another
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db")
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=2000.0, help="chunks a second")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", default="9a5f1d7")
    parser.add_argument("--profile", help="'this' or 'base': cProfile that run's writer thread")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        trees = {"base": base_tree(tmp, args.base), "this": ROOT}
        runs: dict[str, list[dict[str, Any]]] = {"base": [], "this": []}
        for _ in range(args.rounds):
            for label, code in trees.items():
                runs[label].append(run_child(code, tmp, label, args))
    print(f"{args.chunks} chunks at {args.rate:.0f}/s, {args.rounds} rounds, base {args.base}")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    medians: dict[str, dict[str, float]] = {}
    for label, results in runs.items():
        medians[label] = {
            key: sorted(r[key] for r in results)[len(results) // 2] * 1e6 / args.chunks
            for key in ("writer_cpu_s", "process_cpu_s", "submit_cpu_s")
        }
        figures = medians[label]
        print(
            f"{label:>5}: writer thread {figures['writer_cpu_s']:.1f} µs/chunk, "
            f"process {figures['process_cpu_s']:.1f} µs/chunk, "
            f"submit {figures['submit_cpu_s']:.2f} µs/chunk (medians)"
        )
    for key in ("writer_cpu_s", "process_cpu_s"):
        print(f"this/base {key}: {medians['this'][key] / medians['base'][key]:.2f}")
    for n in (1000, args.chunks, 100_000):
        rebuilt, incremental = rewrite_cost(n)
        print(
            f"one gap-profile rewrite at {n} chunks: rebuilt {rebuilt * 1e3:.2f} ms, "
            f"kept {incremental * 1e6:.0f} µs ({rebuilt / incremental:.0f}x)"
        )


if __name__ == "__main__":
    main()
