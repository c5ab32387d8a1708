"""Group by turn under live traffic: CPU time per batch, an older grouped model beside this one.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.group_bench --base 9a5f1d7
    .venv/bin/python -m bench.group_bench --base main --codex 60 --rows 1000 --slack 500 \
        --batches 150                                  # Codex sessions side by side

Both grouped models follow one `CallListModel` holding `--rows` loaded calls (about a third
of them in Codex turns of 2-12 calls; with `--codex N`, 80% in N turns running at once, 2-8
calls each, as live_bench's producer records them), each shown in a table view, and live
batches of `--batch` new calls arrive (some join the turns running, some start turns, the
rest are calls of their own), after each of which the list signals its tick (its live
rows' times: one signal over its top 300 rows) and is trimmed back to `--rows` (once
`--slack` rows over it, as the window does with 500). Measured: the thread CPU time
(`time.thread_time`) each grouped model and its view spend in the source's signals, per
batch, per tick and per trim, side by side in one run, so the ratio does not depend on the
machine's load. A base from the split of the following into call_group_follow.py on is
imported with its own.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shiboken6
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QTableView

from bench.ui_bench import _insert, fake_call
from relayscope.store.call_store import CallStore, open_database
from relayscope.ui import call_group_model
from relayscope.ui.call_list_model import COLUMN, CallListModel

ROOT = Path(__file__).resolve().parents[1]
MODULE = "app/relayscope/ui/call_group_model.py"
FOLLOW = "app/relayscope/ui/call_group_follow.py"


def _exec_at(rev: str, path: str, name: str) -> types.ModuleType:
    code = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType(name)
    sys.modules[module.__name__] = module  # what dataclasses look their module up in
    exec(compile(code, f"{rev}:{path}", "exec"), module.__dict__)
    return module


def old_module(rev: str) -> types.ModuleType:
    """`call_group_model` as it was at `rev`, imported beside today's (with the following
    of the source's changes, `call_group_follow`, as it was then where it had been split)."""
    has_follow = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}:{FOLLOW}"], capture_output=True
    )
    if has_follow.returncode != 0:
        return _exec_at(rev, MODULE, f"relayscope.ui.call_group_model_{rev}")
    today = sys.modules["relayscope.ui.call_group_follow"]
    follow = _exec_at(rev, FOLLOW, f"relayscope.ui.call_group_follow_{rev}")
    sys.modules["relayscope.ui.call_group_follow"] = follow  # what the model imports
    try:
        return _exec_at(rev, MODULE, f"relayscope.ui.call_group_model_{rev}")
    finally:
        sys.modules["relayscope.ui.call_group_follow"] = today


class Calls:
    """Calls with turns, recorded into the database (one call every ~100 ms)."""

    def __init__(self, db: Path, seed: int, running: int = 0) -> None:
        self.db, self.rng = db, random.Random(seed)
        self.clock = datetime.now(UTC) - timedelta(hours=2)
        self.index = 0
        self.turn = ""
        self.left = 0
        #: `--codex`: this many turns at once (Codex sessions side by side, as live_bench's
        #: producer records them: 80% of the calls, 2-8 a turn, a call every 1-3 ms).
        self.running = running
        self.turns: dict[str, int] = {}

    def make(self, count: int) -> list[dict[str, Any]]:
        rows: list[tuple[dict[str, Any], str]] = []
        for _ in range(count):
            self.index += 1
            gap = (1, 3) if self.running else (20, 180)
            self.clock += timedelta(milliseconds=self.rng.randint(*gap))
            row, prompt = fake_call(self.index, self.clock, self.rng)
            row["id"] = f"{int(self.clock.timestamp() * 1000):012x}-{self.index:08x}"
            if self.running:
                self._codex(row)
            elif self.left <= 0 and self.rng.random() < 0.1:
                self.turn, self.left = f"turn-{self.index}", self.rng.randint(2, 12)
            if self.left > 0 and self.rng.random() < 0.5:
                row["turn_id"], row["session_id"] = self.turn, "bench-session"
                self.left -= 1
            rows.append((row, prompt))
        database = open_database(self.db)
        try:
            _insert(database.conn, rows)
        finally:
            database.conn.close()
        return [row for row, _ in rows]

    def _codex(self, row: dict[str, Any]) -> None:
        row.pop("turn_id", None)
        if self.rng.random() >= 0.8:
            return
        if len(self.turns) < self.running:
            self.turns[f"turn-{self.index}"] = self.rng.randint(2, 8)
        turn = self.rng.choice(list(self.turns))
        self.turns[turn] -= 1
        if not self.turns[turn]:
            del self.turns[turn]
        row["turn_id"], row["session_id"] = turn, "bench-session"


def timed(cls: type, handlers: tuple[str, ...], spent: dict[str, float]) -> type:
    """`cls` with the CPU time of its source handlers (and what they set off) added up."""

    def wrap(name: str) -> Callable[..., Any]:
        original = getattr(cls, name)

        def handler(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                spent["cpu"] += time.thread_time() - started

        return handler

    return type(f"Timed{cls.__name__}", (cls,), {name: wrap(name) for name in handlers})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="9a5f1d7", help="the older grouped model's revision")
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument(
        "--codex", type=int, default=0, metavar="TURNS", help="this many turns running at once"
    )
    parser.add_argument(
        "--slack", type=int, default=0, help="trim once this many rows over --rows (window: 500)"
    )
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="relayscope-group-") as tmp:
        db = Path(tmp) / "group.db"
        open_database(db).conn.close()
        calls = Calls(db, seed=17, running=args.codex)
        calls.make(args.rows)
        store = CallStore(db)
        source = CallListModel(store)
        while source.rowCount() < args.rows and source.canFetchMore(QModelIndex()):
            source.fetchMore(QModelIndex())
        old_spent, new_spent = {"cpu": 0.0}, {"cpu": 0.0}
        old_model = old_module(args.base).CallGroupModel
        old_handlers = ("_restructure", "_on_source_data_changed", "_on_source_model_reset")
        old_cls = timed(
            old_model, ("_follow",) if hasattr(old_model, "_follow") else old_handlers, old_spent
        )
        new_cls = timed(call_group_model.CallGroupModel, ("_follow",), new_spent)
        models = {"old": old_cls(source), "new": new_cls(source)}
        spent = {"old": old_spent, "new": new_spent}
        views = []
        for model in models.values():
            view = QTableView()
            view.setModel(model)
            view.resize(1200, 600)
            view.show()
            views.append(view)
        app.processEvents()
        per_batch: dict[str, list[float]] = {"old": [], "new": []}
        per_trim: dict[str, list[float]] = {"old": [], "new": []}
        per_tick: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.batches):
            rows = calls.make(args.batch)
            before = {name: s["cpu"] for name, s in spent.items()}
            for row in rows:
                source.on_call_started(row["id"])
            source.flush_events()
            after = {name: s["cpu"] for name, s in spent.items()}
            for name in per_batch:
                per_batch[name].append((after[name] - before[name]) * 1000)
            # The list's tick: its live rows' elapsed times and spinners, one signal over
            # their span (here the top 300 rows), roles given.
            source.dataChanged.emit(
                source.index(0, COLUMN["status"]),
                source.index(min(300, source.rowCount() - 1), COLUMN["duration"]),
                [int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.DecorationRole)],
            )
            ticked = {name: s["cpu"] for name, s in spent.items()}
            for name in per_tick:
                per_tick[name].append((ticked[name] - after[name]) * 1000)
            if source.rowCount() > args.rows + args.slack:
                source.trim(args.rows)
                for name in per_trim:
                    per_trim[name].append((spent[name]["cpu"] - ticked[name]) * 1000)
            app.processEvents()
        assert [models["old"].call_id(r) for r in range(models["old"].rowCount())] == [
            models["new"].call_id(r) for r in range(models["new"].rowCount())
        ], "the two grouped models disagree"
        load = os.getloadavg()
        print(
            f"{args.rows:,} loaded rows, {models['new'].group_count()} turns,"
            f" {models['new'].rowCount():,} grouped rows; {args.batches} batches of"
            f" {args.batch} new calls; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        steps = (("batch of new calls", per_batch), ("trim", per_trim), ("tick", per_tick))
        for label, figures in steps:
            if not figures["old"]:
                continue  # no trim (--slack)
            old, new = statistics.median(figures["old"]), statistics.median(figures["new"])
            print(
                f"  {label:<20} CPU per batch, median: {args.base} {old:.2f} ms,"
                f" this tree {new:.2f} ms, ratio {new / old if old else float('nan'):.3f}"
                f" (sums {sum(figures['old']):.0f} / {sum(figures['new']):.0f} ms)"
            )
        # Laying out every loaded row (a new grouped model; what a reset costs).
        layout: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(5):
            for name, cls in (("old", old_cls), ("new", new_cls)):
                started = time.thread_time()
                model = cls(source)
                layout[name].append((time.thread_time() - started) * 1000)
                shiboken6.delete(model)
        old, new = statistics.median(layout["old"]), statistics.median(layout["new"])
        print(
            f"  {'layout of every row':<20} CPU, median of 5: {args.base} {old:.2f} ms,"
            f" this tree {new:.2f} ms, ratio {new / old:.3f}"
        )
        for view in views:
            view.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
