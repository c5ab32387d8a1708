"""The UI thread's CPU from the worker's bytes to the call list's next batch, side by side.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.event_lines_bench --base main

`bench.live_bench`'s producer records `--seconds` of Codex-shaped traffic at `--rate` calls/s
once; its NDJSON output (what the window reads from the worker) is then fed, `--chunk` bytes
at a time, through `WorkerProcess._feed_stdout` of a real `MainWindow` (not shown, no worker
process), and the same capture again for each tree, in interleaved rounds: the app code of
`--base` (exported from git) and this tree's, each in a process of its own.

Timed (`thread_time`, the UI thread's CPU): the reading path, from the bytes to the events
collected by the call list's model (`_feed_stdout` and the slices after it). Timed apart
and reported too: the model's `flush_events` (run after each chunk, as its timer would), so
that work moved from one to the other shows. Deterministic apart from the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def capture(into: Path, rate: float, seconds: float) -> Path:
    """The producer's NDJSON for `seconds` at `rate` calls/s (and its database, unused)."""
    out = into / "capture.ndjson"
    with out.open("wb") as f:
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "live_bench.py"),
                "--produce",
                "--db",
                str(into / "capture.db"),
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
            ],
            stdout=f,
            input=b"",
            check=True,
        )
    return out


def child(capture_path: Path, db: Path, chunk: int) -> dict[str, Any]:
    """One tree's measurement (run with that tree's app on PYTHONPATH)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from relayscope.store.call_store import CallStore, open_database
    from relayscope.ui.application import create_application
    from relayscope.ui.main_window import MainWindow
    from relayscope.ui.worker_process import WorkerProcess

    app = create_application([sys.argv[0]])
    open_database(db).conn.close()
    store = CallStore(db)
    worker = WorkerProcess(db)
    window = MainWindow(store, worker, config_path=db.with_suffix(".toml"))
    model = window.model
    data = capture_path.read_bytes()
    calls = data.count(b'"call_started"')
    # A call is shown in the inspector, as mostly while traffic comes (the window shows the
    # first call at once, and live_bench selects one): its events are looked for.
    middle = data.count(b"\n") // 2
    window._shown_call = json.loads(data.split(b"\n")[middle])["id"]
    started: list[str] = []  # every call the model collected, in order (checked below)
    for _ in range(20):
        app.processEvents()
    read_cpu = flush_cpu = 0.0
    slices = 0
    for offset in range(0, len(data), chunk):
        t = time.thread_time()
        worker._feed_stdout(data[offset : offset + chunk])
        while worker._stdout_lines:  # the rest of the chunk, as `_next_slice` would
            slices += 1
            worker._drain_stdout()
        read_cpu += time.thread_time() - t
        started.extend(model._pending_started)
        t = time.thread_time()
        model.flush_events()
        flush_cpu += time.thread_time() - t
        app.processEvents()  # the timers the events started (untimed)
    assert len(started) == calls, (len(started), calls)
    window.close()
    store.close()
    return {
        "calls": calls,
        "lines": data.count(b"\n"),
        "read_cpu_s": read_cpu,
        "flush_cpu_s": flush_cpu,
        "extra_slices": slices,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--chunk", type=int, default=4096, help="bytes read at a time")
    parser.add_argument("--capture", type=Path, help="NDJSON to feed (else one is recorded)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.capture, args.db, args.chunk)))
        return
    from bench.live_bench import export_tree

    with tempfile.TemporaryDirectory(prefix="relayscope-lines-") as name:
        tmp = Path(name)
        if args.capture is None:
            (tmp / "capture").mkdir()
            args.capture = capture(tmp / "capture", args.rate, args.seconds)
        (tmp / "base").mkdir()
        trees = {args.base: export_tree(args.base, tmp / "base"), "this tree": ROOT}
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            for which, tree in trees.items():  # interleaved: the same load for both
                db = tmp / f"r{round_}.db"
                for leftover in tmp.glob(f"r{round_}.db*"):
                    leftover.unlink()
                env = {**os.environ, "PYTHONPATH": str(tree / "app")}
                env.setdefault("QT_QPA_PLATFORM", "offscreen")
                done = subprocess.run(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--child",
                        "--capture",
                        str(args.capture),
                        "--db",
                        str(db),
                        "--chunk",
                        str(args.chunk),
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results[which].append(json.loads(done.stdout.strip().splitlines()[-1]))
        shutil.rmtree(tmp / "base", ignore_errors=True)
        first = next(iter(results.values()))[0]
        print(
            f"{first['calls']:,} calls, {first['lines']:,} event lines, read {args.chunk:,} bytes"
            f" at a time; {args.rounds} interleaved rounds; load average "
            + " ".join(f"{x:.2f}" for x in os.getloadavg())
        )
        medians: dict[str, dict[str, float]] = {}
        for which, rows in results.items():
            per_k = {
                key: [r[key] * 1e6 / r["calls"] for r in rows]
                for key in ("read_cpu_s", "flush_cpu_s")
            }
            medians[which] = {key: statistics.median(v) for key, v in per_k.items()}
            print(
                f"{which:>10}: reading path {medians[which]['read_cpu_s']:.1f} ms CPU per 1,000"
                f" calls (rounds: {', '.join(f'{v:.1f}' for v in per_k['read_cpu_s'])}); "
                f"flush_events {medians[which]['flush_cpu_s']:.1f} ms"
            )
        base, this = medians[args.base], medians["this tree"]
        print(
            f"ratio this / {args.base}: reading path "
            f"{this['read_cpu_s'] / base['read_cpu_s']:.2f}, "
            f"flush_events {this['flush_cpu_s'] / base['flush_cpu_s']:.2f}"
        )


if __name__ == "__main__":
    for folder in (ROOT, ROOT / "app", ROOT / "proxy_addons"):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))  # after PYTHONPATH: --base's app comes first
    main()
