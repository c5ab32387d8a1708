"""Group by turn under live traffic: CPU time per batch, an older grouped model beside this one.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.group_bench --base 9a5f1d7

Both grouped models follow one `CallListModel` holding `--rows` loaded calls (about a third
of them in Codex turns of 2-12 calls), each shown in a table view, and live batches of
`--batch` new calls arrive (some join the turns running, some start turns, the rest are
calls of their own), after each of which the list is trimmed back to `--rows`, as the
window does. Measured: the thread CPU time (`time.thread_time`) each grouped model and its
view spend in the source's signals, per batch and per trim, side by side in one run, so
the ratio does not depend on the machine's load.
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
from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QApplication, QTableView

from bench.ui_bench import _insert, fake_call
from relayscope.store.call_store import CallStore, open_database
from relayscope.ui import call_group_model
from relayscope.ui.call_list_model import CallListModel

ROOT = Path(__file__).resolve().parents[1]
MODULE = "app/relayscope/ui/call_group_model.py"


def old_module(rev: str) -> types.ModuleType:
    """`call_group_model` as it was at `rev`, imported beside today's."""
    code = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{MODULE}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType(f"relayscope.ui.call_group_model_{rev}")
    sys.modules[module.__name__] = module  # what dataclasses look their module up in
    exec(compile(code, f"{rev}:{MODULE}", "exec"), module.__dict__)
    return module


class Calls:
    """Calls with turns, recorded into the database (one call every ~100 ms)."""

    def __init__(self, db: Path, seed: int) -> None:
        self.db, self.rng = db, random.Random(seed)
        self.clock = datetime.now(UTC) - timedelta(hours=2)
        self.index = 0
        self.turn = ""
        self.left = 0

    def make(self, count: int) -> list[dict[str, Any]]:
        rows: list[tuple[dict[str, Any], str]] = []
        for _ in range(count):
            self.index += 1
            self.clock += timedelta(milliseconds=self.rng.randint(20, 180))
            row, prompt = fake_call(self.index, self.clock, self.rng)
            row["id"] = f"{int(self.clock.timestamp() * 1000):012x}-{self.index:08x}"
            if self.left <= 0 and self.rng.random() < 0.1:
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
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="relayscope-group-") as tmp:
        db = Path(tmp) / "group.db"
        open_database(db).conn.close()
        calls = Calls(db, seed=17)
        calls.make(args.rows)
        store = CallStore(db)
        source = CallListModel(store)
        while source.rowCount() < args.rows and source.canFetchMore(QModelIndex()):
            source.fetchMore(QModelIndex())
        old_spent, new_spent = {"cpu": 0.0}, {"cpu": 0.0}
        old_cls = timed(
            old_module(args.base).CallGroupModel,
            ("_restructure", "_on_source_data_changed", "_on_source_model_reset"),
            old_spent,
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
        for _ in range(args.batches):
            rows = calls.make(args.batch)
            before = {name: s["cpu"] for name, s in spent.items()}
            for row in rows:
                source.on_call_started(row["id"])
            source.flush_events()
            after = {name: s["cpu"] for name, s in spent.items()}
            for name in per_batch:
                per_batch[name].append((after[name] - before[name]) * 1000)
            source.trim(args.rows)
            for name in per_trim:
                per_trim[name].append((spent[name]["cpu"] - after[name]) * 1000)
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
        for label, figures in (("batch of new calls", per_batch), ("trim", per_trim)):
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
