"""What overlaps the proxy's slowest requests: garbage collections, batch-window ticks, or nothing.

    .venv/bin/python -m bench.tail_probe [--requests 3000] [--rounds 3] [--variants gcfreeze]

Sequential small non-stream requests (as `bench.measure.latency`) through the real worker,
run as `bench.patched_worker tailprobe[+VARIANT]`, which logs every garbage collection and
every batch-window tick of the worker with `time.perf_counter()` (CLOCK_MONOTONIC, the same
clock in every process on Linux). The client keeps each request's start and end on that clock,
so the slowest 1 % can be matched with what the worker was doing meanwhile. Direct calls and
the lean mitmproxy floor run in the same rounds, interleaved, for scale. A diagnosis tool: it
prints, it writes nothing to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import HOST, Target, pct
from bench.procs import SMALL_BODY, Proc, Upstream
from bench.rawhttp import SyncConnection
from bench.sdk_bench import proxy

Span = tuple[float, float]


def timed_requests(target: Target, n: int, warmup: int = 50) -> list[Span]:
    request = target.request(SMALL_BODY)
    conn = SyncConnection(HOST, target.port)
    try:
        for _ in range(warmup):
            conn.request(request)
        spans: list[Span] = []
        for _ in range(n):
            start = time.perf_counter()
            conn.request(request, keep_body=False)
            spans.append((start, time.perf_counter()))
        return spans
    finally:
        conn.close()


def read_events(path: Path) -> list[tuple[str, float, float]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        name, begin, end = line.split()
        events.append((name, float(begin), float(end)))
    return events


def overlapping(span: Span, events: list[tuple[str, float, float]]) -> list[str]:
    start, end = span
    return [name for name, b, e in events if b < end and e > start]


def report(
    name: str, spans: list[Span], events: list[tuple[str, float, float]], floor: float
) -> None:
    times = [(e - s) * 1000 for s, e in spans]
    print(
        f"\n{name}: {len(times)} requests, p50 {pct(times, 50):.2f} ms,"
        f" p99 {pct(times, 99):.2f} ms, p99.9 {pct(times, 99.9):.2f} ms,"
        f" max {max(times):.2f} ms (direct p50 {floor:.2f})"
    )
    if not events:
        return
    kinds = collections.Counter(n for n, _, _ in events)
    durations: dict[str, list[float]] = collections.defaultdict(list)
    for n, b, e in events:
        durations[n].append((e - b) * 1000)
    for kind in sorted(kinds):
        d = durations[kind]
        print(
            f"  worker {kind}: {kinds[kind]} times, median {statistics.median(d):.3f} ms,"
            f" max {max(d):.3f} ms"
        )
    cut = pct(times, 99)
    slow = [sp for sp, t in zip(spans, times, strict=True) if t >= cut]
    rest = [sp for sp, t in zip(spans, times, strict=True) if t < cut]
    for label, group in (("slowest 1%", slow), ("the other 99%", rest)):
        seen: collections.Counter[str] = collections.Counter()
        for sp in group:
            names = set(overlapping(sp, events))
            seen.update(names or {"nothing"})
        share = ", ".join(f"{k} {v / len(group):.0%}" for k, v in seen.most_common())
        print(f"  {label} overlapped: {share}")
    clean = [t for sp, t in zip(spans, times, strict=True) if not overlapping(sp, events)]
    if clean:
        print(
            f"  requests overlapping nothing: p50 {pct(clean, 50):.2f}, p99 {pct(clean, 99):.2f} ms"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="", help="comma-separated, e.g. gcfreeze,nogc")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tail-probe-") as tmp_name, Upstream() as up:
        tmp = Path(tmp_name)
        specs = ["tailprobe"] + [f"tailprobe+{v}" for v in args.variants.split(",") if v]
        procs: dict[str, Proc] = {}
        outs: dict[str, Path] = {}
        for spec in specs:
            name = f"relayscope+{spec}"
            proc = proxy(name, tmp, up.port)
            outs[name] = tmp / f"{spec}.events"
            proc.env["TAILPROBE_OUT"] = str(outs[name])
            procs[name] = proc
        procs["mitm-lean"] = proxy("mitm-lean", tmp, up.port)
        for proc in procs.values():
            proc.start()
        targets = {"direct": Target("direct", up.port)}
        targets.update({n: Target(n, p.port, p) for n, p in procs.items()})
        spans: dict[str, list[Span]] = collections.defaultdict(list)
        try:
            for r in range(args.rounds):
                order = list(targets)
                order = order[r % len(order) :] + order[: r % len(order)]
                for name in order:
                    spans[name] += timed_requests(targets[name], args.requests)
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            for proc in procs.values():
                proc.stop()
        floor = pct([(e - s) * 1000 for s, e in spans["direct"]], 50)
        for name in targets:
            report(name, spans[name], read_events(outs[name]) if name in outs else [], floor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
