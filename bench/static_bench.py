"""The window over a million recorded calls: first paint, a filter keystroke, sorting.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.static_bench [--rows 1000000]
        [--db PATH] [--base REV]

Fills a database (kept at --db, reused when it already holds enough rows) fast: rows are
built from a few thousand prepared bodies and texts and written with `executemany` in
transactions of 50,000, with the full-text index's insert trigger off and the index
rebuilt in one statement at the end (what the recorder's trigger would have written, at a
fraction of the time). Bodies are short (a million 1-4 KB calls would be ~10 GB): the
list never reads them. Then `bench/ui_bench.py`'s measurements run on the real window:
first paint, sorts, filter keystrokes, scrolling.

`--base REV` runs the same measurements on the app code of git revision REV (exported to a
temporary directory) and this tree, alternately, `--rounds` times each, on the same
database: the machine is shared, so figures are compared side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50_000
_TOPICS = (
    "kubernetes deployment invoice customer weather forecast refactor python rust query "
    "database migration translate summary poem recipe garden travel budget report "
    "contract lawsuit marathon vaccine telescope volcano jazz mortgage sourdough chess "
    "bicycle glacier tariff quantum protein ballet harbor satellite wildfire vineyard "
    "cathedral submarine origami falcon lantern meteor orchard pyramid saxophone tornado"
)
TOPICS = _TOPICS.split()
_FILLER = (
    "the a to of and in for is on that with this as it be are by from at or an was have "
    "please explain why how what when which could would should make write list compare "
    "function return value error request response result code line file change test"
)
FILLER = _FILLER.split()
PROVIDERS = ("openai", "constreet", "openrouter", "demo", "local-vllm")
MODELS = ("gpt-5.2", "gpt-5-mini", "claude-sonnet-4-6", "qwen3-coder", "demo-1", "llama-4")
COLUMNS = (
    "id", "started_at", "method", "path", "endpoint", "provider", "model", "stream",
    "status", "state", "error", "request_headers", "request_body", "response_body",
    "output_text", "prompt_text", "finish_reason", "prompt_tokens", "completion_tokens",
    "total_tokens", "ttft_ms", "duration_ms", "chunk_count", "client", "transport",
    "max_gap_ms", "gap_profile",
)  # fmt: skip


def _texts(rng: random.Random, count: int, size: int) -> list[tuple[str, str]]:
    """(topic words, text) pairs: each text carries one or two topics (a search finds a few
    percent of the calls) among filler words."""
    out = []
    for _ in range(count):
        topics = rng.sample(TOPICS, rng.randint(1, 2))
        words = list(topics) + [rng.choice(FILLER) for _ in range(size // 5)]
        rng.shuffle(words)
        out.append((" ".join(topics), " ".join(words)))
    return out


def fill(db_path: Path, count: int) -> float:
    """Insert `count` calls ending now (one every ~0.2 s). Returns the seconds it took."""
    from relayscope.store.call_store import open_database

    started = time.perf_counter()
    db = open_database(db_path)
    db.conn.close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    have = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    if have >= count:
        conn.close()
        return 0.0
    conn.execute("PRAGMA synchronous = OFF")
    trigger = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'calls_ai'"
    ).fetchone()[0]
    conn.execute("DROP TRIGGER calls_ai")
    rng = random.Random(20261202)
    prompts = _texts(rng, 4000, 400)
    answers = _texts(rng, 4000, 200)
    headers = json.dumps([["content-type", "application/json"], ["user-agent", "OpenAI/Python"]])
    profiles = [
        json.dumps({"max": [round(rng.uniform(8, 45), 1) for _ in range(24)], "stall": 1000.0})
        for _ in range(500)
    ]
    now = datetime.now(UTC)
    sql = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    try:
        for first in range(have, count, BATCH):
            rows: list[tuple[Any, ...]] = []
            for i in range(first, min(count, first + BATCH)):
                when = now - timedelta(milliseconds=200 * (count - i))
                model = MODELS[i % len(MODELS)]
                stream = rng.random() < 0.7
                roll = rng.random()
                state, status, error = "complete", 200, None
                if roll < 0.04:
                    state, status, error = "error", (429, 500, 401)[i % 3], "upstream error"
                elif roll < 0.06:
                    state, error = "interrupted", "The provider closed the stream early."
                _, prompt = prompts[rng.randrange(len(prompts))]
                _, answer = answers[rng.randrange(len(answers))]
                output = None if state == "error" else answer
                body = json.dumps(
                    {"model": model, "stream": stream,
                     "messages": [{"role": "user", "content": prompt}]}
                )  # fmt: skip
                prompt_tokens = len(prompt) // 4
                completion = None if output is None else len(output) // 4
                ttft = rng.lognormvariate(6.0, 0.6)
                profile = profiles[i % len(profiles)] if stream and output else None
                rows.append(
                    (
                        f"{int(when.timestamp() * 1000):012x}-{i:08x}",
                        when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                        "POST", "/v1/chat/completions", "chat.completions",
                        PROVIDERS[(i * 7) % len(PROVIDERS)], model, int(stream), status,
                        state, error, headers, body,
                        None if stream else json.dumps({"choices": [{"text": output}]}),
                        output, prompt, None if output is None else "stop",
                        None if state == "error" else prompt_tokens, completion,
                        None if completion is None else prompt_tokens + completion,
                        None if state == "error" else round(ttft, 1),
                        round(ttft + (completion or 0) * rng.uniform(8, 30), 1),
                        (completion or 0) // 3 + 2 if stream else 0, "OpenAI/Python",
                        "http",
                        None if profile is None else max(json.loads(profile)["max"]),
                        profile,
                    )
                )  # fmt: skip
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            print(f"\r  filling {first + len(rows):,}/{count:,}", end="", file=sys.stderr)
        print("\n  rebuilding the full-text index", file=sys.stderr)
        conn.execute("INSERT INTO calls_fts (calls_fts) VALUES ('rebuild')")
        conn.execute("ANALYZE")
    finally:
        conn.execute(trigger)
        conn.close()
    return time.perf_counter() - started


def measure_here(db: Path) -> list[tuple[str, str]]:
    """ui_bench's measurements of the window (this process's app code) on `db`."""
    from bench.ui_bench import measure
    from relayscope.ui.application import create_application

    app = create_application([sys.argv[0]])
    return list(measure(app, db, None))


def export_tree(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "app", "proxy_addons"],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "relayscope-static-bench.db"
    )
    parser.add_argument("--base", help="also measure the app code of this git revision")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.measure:
        print(json.dumps(measure_here(args.db)))
        return 0
    seconds = fill(args.db, args.rows)
    size = args.db.stat().st_size / 1e6
    print(f"{args.db}: {size:,.0f} MB" + (f" (filled in {seconds:.0f} s)" if seconds else ""))
    with tempfile.TemporaryDirectory(prefix="relayscope-static-") as tmp:
        trees = {"this tree": ROOT}
        if args.base:
            trees = {args.base: export_tree(args.base, Path(tmp) / "base"), "this tree": ROOT}
        results: dict[str, list[list[tuple[str, str]]]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                print(f"round {round_ + 1}: {name}…", file=sys.stderr)
                # The source roots first: `relayscope` is a namespace over app/ and
                # proxy_addons/, found on the path before the venv's editable install of
                # this tree (with the tree itself on the path, a base of that layout ran
                # this tree's code).
                roots = [tree / "app", tree / "proxy_addons", ROOT]
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, roots))}
                # The script's path, not -m: the current directory must not come first.
                command = [sys.executable, __file__, "--measure", "--db", str(args.db)]
                done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    names = list(results)
    labels = [label for label, _ in results[names[0]][0]]
    header = " | ".join(f"{name} r{i + 1}" for name in names for i in range(len(results[name])))
    print(f"| measure | {header} |")
    print("|---|" + "---:|" * sum(len(r) for r in results.values()))
    for n, label in enumerate(labels):
        cells = " | ".join(run[n][1] for name in names for run in results[name])
        print(f"| {label} | {cells} |")
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    sys.exit(main())
