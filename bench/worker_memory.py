"""The proxy worker's memory under sustained traffic: does it level off or keep growing?

    .venv/bin/python -m bench.worker_memory                      # this tree, 5 phases
    .venv/bin/python -m bench.worker_memory --base main          # + main's worker, side by side
    .venv/bin/python -m bench.worker_memory --probe --phases 4   # + what the worker holds
    .venv/bin/python -m bench.worker_memory --stopped 12 --base main  # recorder stopped

Each phase sends every worker the same traffic: one stream of `--words1` chunks, 16
concurrent ones of `--words16`, 64 of `--words64` (the shapes of `bench.run_all`'s stream
rounds), then `--calls` small non-stream calls over 16 keep-alive connections. After each
phase (a second's pause, so the recording process has taken everything) it reads VmRSS of the
worker process alone and of its recording process. Workers run side by side, phases
interleaved in a rotating order, each against its own database.

A worker whose memory is bounded levels off after the first phase or two (the allocator's
high-water mark of the largest burst: 64 streams in flight); one that keeps per-call state
grows by about the same amount every phase.

`--probe` runs this tree's worker alone through `bench.patched_worker memprobe`: between
phases it signals the worker to dump the objects it holds (counted by type, after a full
collection) and, with `--frames N`, a `tracemalloc` snapshot; the printout is each phase's
difference to the one before (types whose count changed, top allocation sites).

`--stopped N` stops each worker's recording process (SIGSTOP) and sends N rounds of
`--words16` chunks over 16 concurrent streams, reading the worker's VmRSS after each round,
then resumes it (SIGCONT) and waits until every call is in the database as complete (or
120 s): the backlog of a recorder that falls behind, and whether it all arrives.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import signal
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import measure
from bench.procs import Proc, Upstream, _tree, loadavg, vm_kib
from bench.sdk_bench import base_tree, proxy

MIB = 2**20


def phase(target: measure.Target, args: argparse.Namespace) -> dict[str, float]:
    """One phase of traffic; returns what it served and lost."""
    result: dict[str, float] = {}
    for streams, words in ((1, args.words1), (16, args.words16), (64, args.words64)):
        result |= measure.chunk_rate(target, words, streams)
    result |= measure.throughput(target, 16, args.calls, 120.0)
    return result


def probe(proc: Proc, out: Path, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Signal the worker and its recording process to dump; both dumps once written."""
    dumps = []
    for prefix, pid in (("", proc.pid), ("child-", _tree(proc.pid)[1])):
        os.kill(pid, signal.SIGUSR1)
        path = out / f"{prefix}{number}.pickle"
        deadline = time.monotonic() + 120
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path.name} not written within 120 s")
            time.sleep(0.1)
        with path.open("rb") as f:
            dumps.append(pickle.load(f))
        split = {k: vm_kib(pid, k) / 1024 for k in ("RssAnon", "RssFile", "RssShmem")}
        dumps[-1]["rss"] = split
    return dumps[0], dumps[1]


def show_probe_diff(before: dict[str, Any], after: dict[str, Any], top: int) -> None:
    old, new = before["types"], after["types"]
    changed = sorted(
        ((new.get(t, 0) - old.get(t, 0), t) for t in set(old) | set(new)),
        key=lambda item: -abs(item[0]),
    )
    total = sum(new.values()) - sum(old.values())
    print(f"    gc-tracked objects: {sum(new.values()):,} ({total:+,})")
    for delta, name in changed[:top]:
        if delta:
            print(f"      {delta:+8,} {name} (now {new.get(name, 0):,})")
    py, glibc = after["pymalloc"], after["glibc"]
    if py:  # none while tracemalloc traces: its hooks stand in front of pymalloc
        print(
            f"    pymalloc: {py['arenas allocated current']} arenas now (high-water "
            f"{py['arenas highwater mark']}), {py['bytes in allocated blocks'] / MIB:.1f} MiB in "
            f"blocks, {py['bytes in available blocks'] / MIB:.1f} MiB free in them"
        )
    if glibc:
        print(
            f"    glibc malloc: heap {glibc['arena'] / MIB:.1f} MiB, in use "
            f"{glibc['uordblks'] / MIB:.1f}, free but kept {glibc['fordblks'] / MIB:.1f}, "
            f"mmapped {glibc['hblkhd'] / MIB:.1f}"
        )
    rss = after["rss"]
    print(
        f"    RSS: anonymous {rss['RssAnon']:.1f} MiB, files {rss['RssFile']:.1f}, "
        f"shared memory {rss['RssShmem']:.1f}"
    )
    if after["backlog"]:
        print(f"    largest backlog for the recording process: {after['backlog'] / MIB:.2f} MiB")
    if before["snapshot"] is None or after["snapshot"] is None:
        return
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    snap_old = before["snapshot"].filter_traces(ignore)
    snap_new = after["snapshot"].filter_traces(ignore)
    size = sum(s.size for s in snap_new.statistics("filename"))
    print(f"    live Python memory allocated since serving began: {size / MIB:.2f} MiB")
    for stat in snap_new.compare_to(snap_old, "traceback")[:top]:
        if not stat.size_diff:
            continue
        print(f"      {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7,} blocks, at:")
        for line in stat.traceback.format(limit=6, most_recent_first=True)[::2]:
            print(f"          {line.strip()}")


@dataclass(frozen=True)
class Reading:
    """One worker's memory at one moment (MiB); peaks are VmHWM, since the process began."""

    worker: float
    worker_peak: float
    recorder: float
    recorder_peak: float
    calls: int

    def cell(self) -> str:
        return (
            f"{self.worker:.1f} ({self.worker_peak:.1f}) / "
            f"{self.recorder:.1f} ({self.recorder_peak:.1f})"
        )


def read(proc: Proc, target: measure.Target) -> Reading:
    children = _tree(proc.pid)[1:]  # the recording process (one, or none if it died)
    return Reading(
        worker=vm_kib(proc.pid, "VmRSS") / 1024,
        worker_peak=vm_kib(proc.pid, "VmHWM") / 1024,
        recorder=sum(vm_kib(pid, "VmRSS") for pid in children) / 1024,
        recorder_peak=sum(vm_kib(pid, "VmHWM") for pid in children) / 1024,
        calls=target.completed,
    )


def recorded(db: Path) -> tuple[int, int, int]:
    """Calls, complete calls and their chunks in a worker's database."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(state = 'complete'), 0), "
            "coalesce(sum(chunk_count), 0) FROM calls"
        ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def stopped(procs: dict[str, Proc], tmp: Path, args: argparse.Namespace) -> None:
    """`--stopped`: each worker in turn, its recording process stopped then resumed."""
    for name, proc in procs.items():
        target = measure.Target(name, proc.port, proc)
        recorder = _tree(proc.pid)[1]
        rss = [vm_kib(proc.pid, "VmRSS") / 1024]
        os.kill(recorder, signal.SIGSTOP)
        try:
            for _ in range(args.stopped):
                measure.chunk_rate(target, args.words16, 16)
                rss.append(vm_kib(proc.pid, "VmRSS") / 1024)
        finally:
            os.kill(recorder, signal.SIGCONT)
        resumed = time.monotonic()
        streams = 16 * args.stopped
        while time.monotonic() - resumed < 300:
            got = recorded(tmp / f"{proc.name}.db")
            if got[0] == got[1] and got[2] >= streams * args.words16:
                break  # every call complete and (at least) every chunk sent in
            time.sleep(0.5)
        print(
            f"{name}: worker VmRSS {' -> '.join(f'{v:.0f}' for v in rss)} MiB over "
            f"{args.stopped} x 16 x {args.words16:,} chunks (peak "
            f"{vm_kib(proc.pid, 'VmHWM') / 1024:.0f}); resumed: {got[1]:,} of {got[0]:,} calls "
            f"complete, {got[2]:,} chunks in {time.monotonic() - resumed:.1f} s; then worker "
            f"{vm_kib(proc.pid, 'VmRSS') / 1024:.0f} MiB, recorder "
            f"{vm_kib(recorder, 'VmRSS') / 1024:.0f} "
            f"(peak {vm_kib(recorder, 'VmHWM') / 1024:.0f}), "
            f"load {loadavg()}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000, help="small calls per phase")
    parser.add_argument("--words1", type=int, default=10_000)
    parser.add_argument("--words16", type=int, default=1_000)
    parser.add_argument("--words64", type=int, default=300)
    parser.add_argument("--base", help="also run the worker of this git revision")
    parser.add_argument(
        "--tunables", help="also run this tree with GLIBC_TUNABLES set to this (malloc settings)"
    )
    parser.add_argument("--probe", action="store_true", help="this tree alone, with memprobe")
    parser.add_argument("--frames", type=int, default=0, help="tracemalloc frames (--probe)")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--stopped", type=int, default=0, help="rounds with the recorder stopped")
    args = parser.parse_args(argv)
    print(f"load average at the start: {loadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="relayscope-memory-") as name, Upstream() as up:
        tmp = Path(name)
        procs: dict[str, Proc] = {}
        if args.probe:
            proc = proxy("relayscope+memprobe", tmp, up.port)
            (tmp / "probe").mkdir()
            proc.env |= {"MEMPROBE_OUT": str(tmp / "probe"), "MEMPROBE_FRAMES": str(args.frames)}
            procs["this"] = proc
        else:
            procs["this"] = proxy("relayscope", tmp, up.port)
            if args.tunables:
                procs["this, tuned"] = proxy("relayscope-tuned", tmp, up.port)
                procs["this, tuned"].env["GLIBC_TUNABLES"] = args.tunables
            if args.base:
                code = base_tree(tmp, args.base)
                procs[args.base] = proxy(f"relayscope@{args.base}", tmp, up.port, code)
        targets = {n: measure.Target(n, p.port, p) for n, p in procs.items()}
        rows: dict[str, list[Reading]] = {n: [] for n in procs}
        cpu: dict[str, list[dict[str, float]]] = {n: [] for n in procs}
        probes: list[tuple[dict[str, Any], dict[str, Any]]] = []
        try:
            for proc in procs.values():
                proc.start()
            time.sleep(1.0)
            if args.stopped:
                stopped(procs, tmp, args)
                return 0
            for n, proc in procs.items():
                rows[n].append(read(proc, targets[n]))
            if args.probe:
                probes.append(probe(procs["this"], tmp / "probe", 1))
                for i, who in enumerate(("worker", "recording process")):
                    print(f"  {who} at the start:")
                    show_probe_diff(probes[0][i], probes[0][i], 0)
            names = list(procs)
            for number in range(1, args.phases + 1):
                began = time.monotonic()
                shift = number % len(names)
                lost = 0.0
                for n in names[shift:] + names[:shift]:
                    result = phase(targets[n], args)
                    cpu[n].append(result)
                    lost += sum(v for k, v in result.items() if k.startswith(("lost", "text_bad")))
                    lost += result["rps16_err"]
                time.sleep(1.0)  # the recording processes take what is queued
                for n, proc in procs.items():
                    rows[n].append(read(proc, targets[n]))
                print(
                    f"phase {number}/{args.phases} in {time.monotonic() - began:.0f} s, "
                    f"load {loadavg()}, lost or failed: {lost:.0f}; worker / recorder MiB: "
                    + ", ".join(
                        f"{n} {rows[n][-1].worker:.1f} / {rows[n][-1].recorder:.1f}" for n in names
                    ),
                    flush=True,
                )
                if args.probe:
                    probes.append(probe(procs["this"], tmp / "probe", number + 1))
                    for i, who in enumerate(("worker", "recording process")):
                        print(f"  {who}:")
                        show_probe_diff(probes[-2][i], probes[-1][i], args.top)
        finally:
            for proc in procs.values():
                proc.stop()
    print(f"\nload average at the end: {loadavg()}")
    print("VmRSS (VmHWM) in MiB, worker / recording process:\n")
    print("| after | calls | " + " | ".join(rows) + " |")
    print("|---|---:|" + "---:|" * len(rows))
    for i in range(args.phases + 1):
        label = "start" if i == 0 else f"phase {i}"
        cells = " | ".join(rows[n][i].cell() for n in rows)
        print(f"| {label} | {rows[names[0]][i].calls:,} | {cells} |")
    print("\nworker + recording process CPU per chunk (µs), median over phases:")
    for key in ("cps1_cpu_us", "cps16_cpu_us", "cps64_cpu_us"):
        medians = {n: statistics.median(r[key] for r in cpu[n]) for n in cpu}
        first = medians[names[0]]
        print(
            f"  {key}: " + ", ".join(f"{n} {v:.1f} ({v / first:.3f})" for n, v in medians.items())
        )
    for n, values in rows.items():
        if len(values) > 2:
            worker = (values[-1].worker - values[1].worker) / (len(values) - 2)
            recorder = (values[-1].recorder - values[1].recorder) / (len(values) - 2)
            print(
                f"{n}: after the first phase, the worker {worker:+.2f} MiB a phase, "
                f"the recording process {recorder:+.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
