"""A filtered page of the call list, planned and read, in CPU time: this tree against REV.

    .venv/bin/python -m bench.list_pages --db /tmp/relayscope-static-bench.db --base REV

For each text, `plan_page` (the probes that choose the plan included) and the page's read,
on a read-only connection, best of 5 in CPU time of the process, for `call_filter` as it is
at REV (exported to a temporary directory) and in this tree, in alternating rounds (the
machine is shared). Both must return the same calls in the same order: each side prints a
digest of the page's ids. Needs a database from bench/static_bench.py; reads only.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEXTS = (
    "k",
    "kubernetes",
    "kubernetes x",
    "kubernetes volcano jazz",
    "origami falcon",
    "kubernetes volcano",
)
ORDERS = ("started_at", "duration_ms")


def measure(db: Path) -> dict[str, tuple[float, str]]:
    from relayscope.store.call_filter import CallFilter, plan_page
    from relayscope.ui.call_rows import SQL_COLUMNS

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out: dict[str, tuple[float, str]] = {}
    for order in ORDERS:
        for text in TEXTS:
            flt = CallFilter(text=text)
            best, ids = float("inf"), ""
            for _ in range(5):
                started = time.process_time()
                sql, params = plan_page(
                    conn, flt, SQL_COLUMNS, order_by=order, descending=True, limit=200, offset=0
                )
                rows = conn.execute(sql, params).fetchall()
                best = min(best, time.process_time() - started)
                ids = f"{len(rows)} rows, {zlib.crc32(repr([r[0] for r in rows]).encode()):08x}"
            out[f"{order} {text!r}"] = (best * 1000, ids)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--base", required=True, help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.db)))
        return 0
    from bench.static_bench import export_tree

    with tempfile.TemporaryDirectory(prefix="relayscope-pages-") as tmp:
        trees = {args.base: export_tree(args.base, Path(tmp) / "base"), "this tree": ROOT}
        runs: dict[str, list[dict[str, list[Any]]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                roots = [tree / "app", tree / "proxy_addons", ROOT]
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, roots))}
                command = [sys.executable, __file__, "--measure", "--db", str(args.db)]
                command += ["--base", args.base]
                done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"| page (plan + read, CPU, best of 5) | {args.base} | this tree | same calls |")
    print("|---|---:|---:|---|")
    for case in runs["this tree"][0]:
        base = [run[case][0] for run in runs[args.base]]
        here = [run[case][0] for run in runs["this tree"]]
        same = runs[args.base][0][case][1] == runs["this tree"][0][case][1]
        print(
            f"| {case} | {' / '.join(f'{v:.1f}' for v in base)} ms"
            f" | {' / '.join(f'{v:.1f}' for v in here)} ms | {'yes' if same else 'NO'} |"
        )
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    sys.exit(main())
