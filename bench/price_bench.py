"""What loading the price list costs a process: the CPU time of its first list price.

    .venv/bin/python -m bench.price_bench [--base REV] [--rounds 5]

Each measurement is a fresh Python process that imports `relayscope.analysis.cost` (which
the app imports anyway: timed apart) and then asks for one list price, timing that in process
CPU time (`time.process_time`, which the machine's load does not inflate). "cold" runs with
an empty cache directory (XDG_CACHE_HOME), so the price list is built there; "warm" runs
again on the cache the cold run left. `--base REV` measures the app code of git revision
REV the same way, alternately with this tree's, on the same machine at the same time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.static_bench import export_tree

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, random, resource, sys, threading, time
started = time.process_time()
from datetime import UTC, datetime
from relayscope.analysis import cost
imported = time.process_time()
when = datetime(2026, 12, 1, tzinfo=UTC)
if sys.argv[1] == "contended":
    # A sort of the list's kind on this (the GUI) thread while the price list loads on its own.
    rows = [(random.random(), str(i)) for i in range(150_000)]
    def task():
        began, cpu = time.perf_counter(), time.thread_time()
        sorted(rows, key=lambda row: (row[0], row[1]))
        return (time.perf_counter() - began) * 1000, (time.thread_time() - cpu) * 1000
    alone = min(task() for _ in range(3))
    cost.load_prices_in_background()
    during = task()
    while not cost.prices_loaded():
        time.sleep(0.01)
    print(json.dumps({
        "sort alone (ms)": alone[0], "sort while prices load (ms)": during[0],
        "its thread CPU (ms)": during[1], "code": cost.__file__,
    }))
    raise SystemExit
price = cost.list_price(cost.TokenUsage(1000, 500, 400), "gpt-5.2", when)
done = time.process_time()
print(json.dumps({
    "import cost (ms)": (imported - started) * 1000,
    "first list price (ms)": (done - imported) * 1000,
    "genai_prices imported": "genai_prices" in sys.modules,
    "max RSS (MiB)": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "price": str(price),
    "code": cost.__file__,
}))
"""


def probe(tree: Path, cache: Path, kind: str = "first") -> dict[str, object]:
    roots = [tree / "app", tree / "proxy_addons"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(map(str, roots)),
        "XDG_CACHE_HOME": str(cache),
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, kind], env=env, check=True, capture_output=True, text=True
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="also measure the app code of this git revision")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="relayscope-price-bench-") as tmp:
        trees = {"this tree": ROOT}
        if args.base:
            trees = {args.base: export_tree(args.base, Path(tmp) / "base"), "this tree": ROOT}
        for tree in trees.values():  # compile the bytecode once, outside the measurements
            probe(tree, Path(tmp) / "warm-up")
        results: dict[tuple[str, str], list[dict[str, object]]] = {}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                cache = Path(tmp) / f"cache-{round_}-{len(results)}"
                for kind in ("cold", "warm"):
                    results.setdefault((name, kind), []).append(probe(tree, cache))
        print(
            "| tree, cache | import cost (ms) | first list price (ms) | genai_prices imported "
            "| max RSS (MiB) |"
        )
        print("|---|---:|---:|---|---:|")
        for (name, kind), runs in results.items():

            def median(key: str, runs: list[dict[str, object]] = runs) -> str:
                values = [float(str(r[key])) for r in runs]
                return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"

            imported = {str(r["genai_prices imported"]) for r in runs}
            print(
                f"| {name}, {kind} | {median('import cost (ms)')} "
                f"| {median('first list price (ms)')} | {'/'.join(sorted(imported))} "
                f"| {median('max RSS (MiB)')} |"
            )
        prices = {str(r["price"]) for runs in results.values() for r in runs}
        print(f"\nprices: {prices}\n")
        contended: dict[str, list[dict[str, object]]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                warm = Path(tmp) / f"cache-{round_}-warm"
                probe(tree, warm)  # (this tree) a warm cache, as on every start but the first
                contended[name].append(probe(tree, warm, "contended"))
        print(
            "| tree (warm cache) | a 150,000-row sort on the main thread: alone "
            "| while the price list loads | ratio |"
        )
        print("|---|---:|---:|---:|")
        for name, runs in contended.items():
            alone = statistics.median(float(str(r["sort alone (ms)"])) for r in runs)
            during = statistics.median(float(str(r["sort while prices load (ms)"])) for r in runs)
            print(f"| {name} | {alone:.0f} ms | {during:.0f} ms | {during / alone:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
