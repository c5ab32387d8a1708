"""The longest stretch the window's thread spends on the worker's events, before and after.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.event_slices_bench [--base 9a5f1d7]

The window has fallen behind and reads a backlog of 50,000 event lines at once (what
`WorkerProcess` gets from the worker's stdout). `WorkerProcess` of the older commit (loaded
from git) handles it in one pass; this tree's in slices, the rest on later turns of the
event loop. For each, the longest single pass on the UI thread (CPU time, `thread_time`,
and wall time) and the total CPU, with two kinds of slot on `call_updated`: one that only
keeps the event, and one that does a fixed amount of work per event (a stand-in for the
call list's model, which costs far more per event than parsing it).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication

ROOT = Path(__file__).resolve().parents[1]
LINES = 50_000


def base_class(rev: str, tmp: Path) -> Any:
    source = subprocess.run(
        ["git", "show", f"{rev}:app/relayscope/ui/worker_process.py"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    path = tmp / "worker_process_base.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("worker_process_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WorkerProcess


def timed(cls: Any) -> Any:
    """`cls` with every pass over the stdout lines timed (this tree's `_drain_stdout`, or
    the older `_feed_stdout`, which was one pass)."""
    name = "_drain_stdout" if hasattr(cls, "_drain_stdout") else "_feed_stdout"

    class Timed(cls):  # type: ignore[misc]
        passes: list[tuple[float, float]]

        def timed_pass(self, *args: Any, **kwargs: Any) -> None:
            cpu, wall = time.thread_time(), time.perf_counter()
            getattr(super(), name)(*args, **kwargs)
            self.passes.append((time.thread_time() - cpu, time.perf_counter() - wall))

    setattr(Timed, name, Timed.timed_pass)
    return Timed


def run(cls: Any, app: QCoreApplication, work: int, db: Path) -> dict[str, float]:
    worker = timed(cls)(db)
    worker.passes = []
    seen: list[str] = []

    def slot(call_id: str, fields: dict[str, Any]) -> None:
        seen.append(call_id)
        for _ in range(work):  # the same work per event in both runs
            fields.get("chunk_count")

    worker.call_updated.connect(slot)
    backlog = b"".join(
        b'{"event":"call_updated","id":"c%d","chunk_count":%d,"state":"streaming"}\n' % (i, i)
        for i in range(LINES)
    )
    start = time.perf_counter()
    worker._feed_stdout(backlog)
    while len(seen) < LINES:
        app.processEvents()
    assert seen == [f"c{i}" for i in range(LINES)]
    cpu = [p[0] for p in worker.passes]
    wall = [p[1] for p in worker.passes]
    return {
        "passes": len(worker.passes),
        "longest_cpu_ms": max(cpu) * 1000,
        "longest_wall_ms": max(wall) * 1000,
        "total_cpu_ms": sum(cpu) * 1000,
        "all_delivered_ms": (time.perf_counter() - start) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="9a5f1d7")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)
    from relayscope.ui.worker_process import WorkerProcess

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        classes = {"base": base_class(args.base, tmp), "this": WorkerProcess}
        print(f"{LINES} buffered event lines, base {args.base}, {args.rounds} rounds")
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
        for work, label in ((0, "slot keeps the event"), (200, "slot does fixed work")):
            results: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
            for _ in range(args.rounds):
                for which, cls in classes.items():  # interleaved: the same load for both
                    results[which].append(run(cls, app, work, tmp / "r.db"))
            print(f"-- {label}")
            for which, rows in results.items():
                best = min(rows, key=lambda r: r["longest_cpu_ms"])
                worst = max(r["longest_cpu_ms"] for r in rows)
                print(
                    f"{which:>5}: {best['passes']:.0f} passes; longest pass "
                    f"{best['longest_cpu_ms']:.1f}-{worst:.1f} ms CPU "
                    f"({best['longest_wall_ms']:.1f} ms wall); "
                    f"total CPU {best['total_cpu_ms']:.0f} ms; "
                    f"all delivered after {best['all_delivered_ms']:.0f} ms"
                )


if __name__ == "__main__":
    main()
