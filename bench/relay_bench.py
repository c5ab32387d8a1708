"""Relay benchmark: Relayscope (recording on) side by side with direct calls, one run.

    .venv/bin/python -m bench.relay_bench [--requests 500] [--chunks 20000] [--rounds 3]

Rounds interleave the paths so machine noise hits both alike; results are medians over
rounds, reported as ratios. The upstream is the tests' fake provider on loopback.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

BODY = {"model": "fake-1", "messages": [{"role": "user", "content": "ping"}]}


def latencies(base_url: str, n: int) -> list[float]:
    out = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(20):  # warm the connection and the caches
            client.post("/chat/completions", json=BODY)
        for _ in range(n):
            start = time.perf_counter()
            client.post("/chat/completions", json=BODY).raise_for_status()
            out.append((time.perf_counter() - start) * 1000)
    return out


def chunk_rate(base_url: str, model: str) -> tuple[float, int]:
    body = {**BODY, "model": model, "stream": True}
    count = 0
    with httpx.Client(base_url=base_url, timeout=120) as client:
        start = time.perf_counter()
        with client.stream("POST", "/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    count += 1
        elapsed = time.perf_counter() - start
    return count / elapsed, count


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {
        p: {"p50": [], "p99": [], "cps": []} for p in ("direct", "relayscope")
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeProvider() as fake,
        FakeProvider(name="long", words=args.chunks) as long,
    ):
        config = (
            f'[[providers]]\nname = "fake"\nbase_url = "{fake.base_url}"\ndefault = true\n'
            f'[[providers]]\nname = "long"\nbase_url = "{long.base_url}"\n'
        )
        with WorkerProcess(Path(tmp), config, events=False, extra_args=("--quiet",)) as worker:
            paths = {
                "direct": (fake.base_url, long.base_url, "fake-1"),
                "relayscope": (worker.base_url, worker.base_url, "long/fake-1"),
            }
            for round_no in range(args.rounds):
                order = list(paths) if round_no % 2 == 0 else list(reversed(paths))
                for name in order:
                    small_url, stream_url, model = paths[name]
                    lat = latencies(small_url, args.requests)
                    cps, _count = chunk_rate(stream_url, model)
                    results[name]["p50"].append(statistics.median(lat))
                    results[name]["p99"].append(pct(lat, 99))
                    results[name]["cps"].append(cps)
                    fake.clear()
                    long.clear()
            recorded = worker.store().count_calls()
    med = {p: {k: statistics.median(v) for k, v in r.items()} for p, r in results.items()}
    d, r = med["direct"], med["relayscope"]
    print(
        f"machine: {platform.machine()} {platform.python_version()}; rounds={args.rounds}, "
        f"{args.requests} sequential keep-alive requests, {args.chunks}-chunk stream"
    )
    print(f"{'':28}{'direct':>12}{'relayscope':>14}{'ratio / added':>16}")
    print(
        f"{'latency p50 (ms)':28}{d['p50']:12.2f}{r['p50']:14.2f}"
        f"{'+%.2f ms' % (r['p50'] - d['p50']):>16}"
    )
    print(
        f"{'latency p99 (ms)':28}{d['p99']:12.2f}{r['p99']:14.2f}"
        f"{'+%.2f ms' % (r['p99'] - d['p99']):>16}"
    )
    print(
        f"{'SSE chunks/s (1 stream)':28}{d['cps']:12.0f}{r['cps']:14.0f}"
        f"{'x%.2f' % (r['cps'] / d['cps']):>16}"
    )
    print(f"calls recorded by relayscope: {recorded}")


if __name__ == "__main__":
    main()
