"""How the window copes with a big recording: 100,000 calls, measured offscreen.

    QT_QPA_PLATFORM=offscreen python bench/ui_bench.py [--rows 100000] [--db PATH]
        [--screenshot docs/screenshots/filter-100k.png]

Fills a database (kept at --db, reused when it already holds enough rows) with realistic
calls: 1-4 KB request bodies, JSON responses, headers, and full-text rows in `calls_fts`,
then times what a person feels: opening the window, the first paint, sorting by duration,
a filter keystroke, scrolling through 50 pages, and one repaint of the visible rows in CPU
time with the style's cell paint and the list's own side by side. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QWidget

from relayscope.protocols.conversation import prompt_text
from relayscope.store.call_store import CallStore, open_database
from relayscope.ui.application import create_application
from relayscope.ui.call_list_model import COLUMN
from relayscope.ui.main_window import MainWindow
from relayscope.ui.worker_process import WorkerProcess

if TYPE_CHECKING:
    from relayscope.ui.call_list_view import CallListView

_FILLER = (
    "the a to of and in for is on that with this as it be are by from at or an was have "
    "please explain why how what when which could would should make write list compare "
    "function return value error request response result code line file change test"
)
WORDS = tuple(_FILLER.split())
#: Each call is about one or two of these (so a search finds a few percent of the calls).
_TOPICS = (
    "kubernetes deployment invoice customer weather forecast refactor python rust query "
    "database migration translate summary poem recipe garden travel budget report "
    "contract lawsuit marathon vaccine telescope volcano jazz mortgage sourdough chess "
    "bicycle glacier tariff quantum protein ballet harbor satellite wildfire vineyard "
    "cathedral submarine origami falcon lantern meteor orchard pyramid saxophone tornado"
)
TOPICS = tuple(_TOPICS.split())
PROVIDERS = ("openai", "constreet", "openrouter", "demo", "local-vllm")
MODELS = ("gpt-5.2", "gpt-5.2-mini", "claude-sonnet-4.5", "qwen3-coder", "demo-1", "llama-4")
ENDPOINTS = ("chat.completions", "chat.completions", "chat.completions", "responses")


def words(rng: random.Random, size: int, topics: tuple[str, ...] = ()) -> str:
    out: list[str] = list(topics)
    length = 0
    while length < size:
        word = rng.choice(topics) if topics and rng.random() < 0.05 else rng.choice(WORDS)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)


def fake_call(i: int, started: datetime, rng: random.Random) -> tuple[dict[str, Any], str]:
    """One realistic call row and the prompt text its FTS row indexes."""
    endpoint = rng.choice(ENDPOINTS)
    model = rng.choice(MODELS)
    stream = rng.random() < 0.7
    topics = tuple(rng.sample(TOPICS, rng.randint(1, 2)))
    user = words(rng, rng.randint(700, 3600), topics)
    system = "You are a careful assistant. " + words(rng, 200)
    if endpoint == "responses":
        body: dict[str, Any] = {"model": model, "input": user, "instructions": system}
        path = "/v1/responses"
    else:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        body = {"model": model, "messages": messages}
        path = "/v1/chat/completions"
    body["stream"] = stream
    roll = rng.random()
    state, status, error = "complete", 200, None
    if roll < 0.04:
        state, status = "error", rng.choice((400, 401, 429, 500, 502, 503))
        error = {429: "Rate limit exceeded", 401: "Invalid API key"}.get(status, "upstream error")
    elif roll < 0.06:
        state, error = "interrupted", "The provider closed the stream before it finished."
    output = None if state == "error" else words(rng, rng.randint(200, 1400), topics)
    prompt_tokens = len(user + system) // 4
    completion = None if output is None else len(output) // 4
    ttft = rng.lognormvariate(6.0, 0.6)
    duration = ttft + (completion or 0) * rng.uniform(8, 30)
    response = (
        {"error": {"message": error, "type": "api_error", "code": status}}
        if state == "error"
        else {"id": f"chatcmpl-{i}", "model": model, "choices": [{"text": output}]}
    )
    row: dict[str, Any] = {
        "id": f"{int(started.timestamp() * 1000):012x}-{i:08x}",
        "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": "POST",
        "path": path,
        "endpoint": endpoint,
        "provider": rng.choice(PROVIDERS),
        "model": model,
        "stream": int(stream),
        "status": status,
        "state": state,
        "error": error,
        "request_headers": json.dumps(
            [
                ["content-type", "application/json"],
                ["authorization", "Bearer ****abcd"],
                ["user-agent", "OpenAI/Python 2.8.0"],
            ]
        ),
        "request_body": json.dumps(body),
        "response_headers": json.dumps(
            [["content-type", "text/event-stream" if stream else "application/json"]]
        ),
        "response_body": None if stream and state != "error" else json.dumps(response),
        "output_text": output,
        "finish_reason": None if output is None else "stop",
        "prompt_tokens": None if state == "error" else prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": None if completion is None else prompt_tokens + completion,
        "ttft_ms": None if state == "error" else round(ttft, 1),
        "duration_ms": round(duration, 1),
        "chunk_count": (completion or 0) // 3 + 2 if stream else 0,
        "client": "OpenAI/Python 2.8.0",
        "transport": "http",
    }
    if stream and state != "error":
        # The Gaps sparkline: ~25 ms between chunks with jitter; one stream in eight stalls.
        gaps = [round(rng.uniform(8, 45), 1) for _ in range(24)]
        if rng.random() < 0.125:
            gaps[rng.randrange(24)] = round(rng.uniform(1200, 8000), 1)
        row["max_gap_ms"] = max(gaps)
        row["gap_profile"] = json.dumps({"max": gaps, "stall": 1000.0})
    return row, prompt_text(endpoint, row["request_body"])


def fill(db_path: Path, count: int) -> float:
    """Insert `count` calls ending now (one every ~2 s). Returns the seconds it took."""
    started = time.perf_counter()
    db = open_database(db_path)
    have = db.execute("SELECT count(*) FROM calls").fetchone()[0]
    if have >= count:
        db.conn.close()
        return 0.0
    rng = random.Random(20260101)
    now = datetime.now(UTC)
    batch: list[tuple[dict[str, Any], str]] = []
    for i in range(have, count):
        batch.append(fake_call(i, now - timedelta(seconds=2 * (count - i)), rng))
        if len(batch) == 5000 or i == count - 1:
            _insert(db.conn, batch)
            batch = []
            print(f"\r  filling {i + 1:,}/{count:,}", end="", file=sys.stderr)
    print(file=sys.stderr)
    db.conn.close()
    return time.perf_counter() - started


def _insert(conn: Any, batch: list[tuple[dict[str, Any], str]]) -> None:
    columns = list(dict.fromkeys(column for row, _ in batch for column in row))
    sql = f"INSERT INTO calls ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    with conn:
        for row, prompt in batch:
            rowid = conn.execute(sql, [row.get(c) for c in columns]).lastrowid
            conn.execute(
                "INSERT INTO calls_fts (rowid, model, provider, path, prompt_text, output_text)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (rowid, row["model"], row["provider"], row["path"], prompt, row["output_text"]),
            )


class PaintWatch(QObject):
    """Notes when a widget paints."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.painted = False
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted = True
        return False


def _settle_after_start_up(app: QApplication, window: QWidget) -> None:
    """What the app's start-up does once the window is shown (freeze the start-up objects
    when the price list is in); in an older tree the call list's view did it itself."""
    from relayscope.ui import application

    settle = getattr(application, "settle_after_start_up", None)
    if settle is not None:
        settle(app, window)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def measure(app: QApplication, db_path: Path, screenshot: Path | None) -> Iterator[tuple[str, str]]:
    store = CallStore(db_path)
    worker = WorkerProcess(db_path)
    started, started_cpu, process_started = (
        time.perf_counter(),
        time.thread_time(),
        time.process_time(),
    )
    window = MainWindow(store, worker, config_path=db_path.with_suffix(".toml"))
    view = window.call_list
    watch = PaintWatch(view.viewport())
    window.show()
    _settle_after_start_up(app, window)
    shown = (time.perf_counter() - started) * 1000
    while not watch.painted:
        app.processEvents()
    painted = (time.perf_counter() - started) * 1000
    painted_cpu = (time.thread_time() - started_cpu) * 1000
    painted_process_cpu = (time.process_time() - process_started) * 1000
    yield "window construct + show", f"{shown:.0f} ms"
    yield "first paint of the list", f"{painted:.0f} ms"
    yield "  GUI thread CPU until the first paint", f"{painted_cpu:.0f} ms"
    yield "  process CPU until the first paint (every thread)", f"{painted_process_cpu:.0f} ms"
    import relayscope.ui.call_list_model as list_model

    yield "app code measured", str(Path(list_model.__file__).parents[3])

    def repaint_after(action: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            action()
            app.processEvents()
            view.viewport().repaint()

        return run

    model = window.model
    # This tree reads a new filter's or sort's page on a thread: "GUI busy" is how long the
    # handler holds the GUI thread (typing is blocked meanwhile), "shown" how long until the
    # new rows are painted, "GUI CPU" the GUI thread's own CPU time until then (what the
    # machine's load does not inflate). An older tree reads on the GUI thread: there "GUI
    # busy" includes the reads.
    settle = getattr(model, "wait_for_page", lambda: None)

    def wait_counts() -> None:
        model.wait_for_counts(60.0)  # a count of the older tree takes seconds

    counted_at_start = timed(wait_counts)
    yield "  all calls counted, after the first paint", f"{counted_at_start:.0f} ms"

    process_cpu: list[float] = []  # each busy_and_shown's CPU time of every thread

    def busy_and_shown(action: Callable[[], object]) -> tuple[float, float, float]:
        cpu, all_cpu = time.thread_time(), time.process_time()
        started = time.perf_counter()
        action()
        busy = (time.perf_counter() - started) * 1000
        app.processEvents()
        settle()
        app.processEvents()
        view.viewport().repaint()
        shown = (time.perf_counter() - started) * 1000
        process_cpu.append((time.process_time() - all_cpu) * 1000)
        return busy, shown, (time.thread_time() - cpu) * 1000

    header = view.horizontalHeader()
    sorts = []
    for name, key, order in (
        ("duration (desc)", "duration", Qt.SortOrder.DescendingOrder),
        ("tokens (asc)", "tokens", Qt.SortOrder.AscendingOrder),
        ("longest gap (desc)", "gaps", Qt.SortOrder.DescendingOrder),
        ("back to newest first", "time", Qt.SortOrder.DescendingOrder),
    ):
        if key == "time":
            models = timed(window._refresh_providers)
            yield "provider and model menus refreshed", f"{models:.1f} ms"
        busy, shown, cpu = busy_and_shown(
            functools.partial(header.setSortIndicator, COLUMN[key], order)
        )
        sorts.append(shown)
        yield (
            f"sort by {name}: GUI busy / shown / GUI CPU / process CPU",
            f"{busy:.0f} / {shown:.0f} / {cpu:.0f} / {process_cpu[-1]:.0f} ms",
        )

    search = window.filter_bar
    series = {
        "many matches": ("k", "ku", "kub", "kube", "kuber", "kubernetes", "kubernetes x"),
        "few matches": ("kubernetes volcano j", "kubernetes volcano jazz", "origami falcon"),
    }
    for kind, texts in series.items():
        busy_all, shown_all, counted, cpus = [], [], [], []
        del process_cpu[:]
        for prefix in texts:
            search.search.setText(prefix)
            started = time.perf_counter()
            # What the debounce's timeout runs on the GUI thread.
            busy, shown, cpu = busy_and_shown(search._emit)
            wait_counts()  # the count runs in a thread meanwhile
            count = (time.perf_counter() - started) * 1000
            busy_all.append(busy)
            shown_all.append(shown)
            counted.append(count)
            cpus.append(cpu)
            yield (
                f"  keystroke '{prefix}': GUI busy / shown / GUI CPU / counted",
                f"{busy:.0f} / {shown:.0f} / {cpu:.0f} / {count:.0f} ms"
                f" ({model.shown_count:,} calls)",
            )
        yield (
            f"filter keystroke, {kind}: GUI CPU median / worst",
            f"{statistics.median(cpus):.0f} / {max(cpus):.0f} ms",
        )
        yield (
            f"filter keystroke, {kind}: GUI busy median / worst",
            f"{statistics.median(busy_all):.0f} / {max(busy_all):.0f} ms",
        )
        yield (
            f"filter keystroke, {kind}: page shown median / worst",
            f"{statistics.median(shown_all):.0f} / {max(shown_all):.0f} ms",
        )
        # The page's read on its thread, its paint, and whatever else ran meanwhile (an
        # older tree's count beside the paint): what a loaded machine does not inflate.
        yield (
            f"filter keystroke, {kind}: process CPU until shown, median / worst",
            f"{statistics.median(process_cpu):.0f} / {max(process_cpu):.0f} ms",
        )
        yield (
            f"  count label updated after (median, {kind})",
            f"{statistics.median(counted):.0f} ms",
        )
    search.search.setText("kubernetes")
    search._emit()
    settle()
    wait_counts()
    yield "  calls matching 'kubernetes'", f"{model.shown_count:,}"
    busy, shown, cpu = busy_and_shown(window.clear_filter)
    yield (
        "clear filter (Esc): GUI busy / shown / GUI CPU",
        f"{busy:.0f} / {shown:.0f} / {cpu:.0f} ms",
    )
    busy, shown, cpu = busy_and_shown(lambda: search.errors.setChecked(True))
    toggle_counted = timed(wait_counts) + shown
    yield (
        "Errors toggle: GUI busy / shown / GUI CPU / counted",
        f"{busy:.0f} / {shown:.0f} / {cpu:.0f} / {toggle_counted:.0f} ms",
    )
    yield "  failed or interrupted calls", f"{model.shown_count:,}"
    window.clear_filter()
    settle()

    bar = view.verticalScrollBar()
    pages = []
    for _ in range(50):
        pages.append(timed(repaint_after(lambda: bar.setValue(bar.maximum()))))
    yield (
        "scroll to end of loaded rows x50 (fetch page + paint), median",
        f"{statistics.median(pages):.1f} ms",
    )
    yield "  worst", f"{max(pages):.1f} ms"
    yield "  rows loaded after 50 pages", f"{window.model.rowCount():,}"

    def page_up() -> None:
        bar.setValue(bar.value() - view.viewport().height())
        app.processEvents()  # paints

    steps = [timed(page_up) for _ in range(200)]
    yield "page up (scroll + paint, no fetch), median", f"{statistics.median(steps):.1f} ms"
    repaints = [timed(view.viewport().repaint) for _ in range(100)]
    yield "repaint of the visible rows, median", f"{statistics.median(repaints):.1f} ms"
    yield from repaint_cost(view)

    if screenshot is not None:
        worker.start(0)  # the proxy running, as a person would see it
        while worker.state == "starting":
            app.processEvents()
        bar.setValue(0)
        search.search.setText("kubernetes")
        search._emit()
        window.model.wait_for_counts()
        view.selectRow(2)
        app.processEvents()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(screenshot))
        yield "screenshot", str(screenshot)
    window.close()  # stops the worker
    store.close()


def repaint_cost(
    view: CallListView, batches: int = 40, per_batch: int = 10
) -> Iterator[tuple[str, str]]:
    """One repaint of the visible rows, CPU time of the UI thread, with the style's cell
    painting (`StyledRowDelegate`, the list's delegate before), the list's own delegate
    called by Qt cell by cell (`RowDelegate`), and the view painting its rows itself in one
    Python pass (`paint_rows`), in alternating batches in the same run: the ratios hold on
    a loaded machine, where wall-clock times are mostly waiting for a core."""
    # Imported here: live_bench and static_bench run this module with older app code too,
    # which has neither delegate (its repaint is measured by the steps before).
    try:
        from relayscope.ui.call_list_paint import RowDelegate, StyledRowDelegate
    except ImportError:
        return

    one_pass = hasattr(view, "fast_paint")  # older app code has no one-pass paint
    ways: dict[str, tuple[Any, bool]] = {
        "style's": (StyledRowDelegate(view), False),
        "own": (RowDelegate(view), False),
    }
    if one_pass:
        ways["own, one pass"] = (ways["own"][0], True)
    times: dict[str, list[float]] = {name: [] for name in ways}
    viewport = view.viewport()
    for _ in range(batches):
        for name, (delegate, fast) in ways.items():
            view.fast_paint = fast
            view.setItemDelegate(delegate)
            viewport.repaint()  # the first paint after a switch lays out anew: not timed
            for _ in range(per_batch):
                started = time.thread_time()
                viewport.repaint()
                times[name].append((time.thread_time() - started) * 1000)
    view.fast_paint = True
    view.setItemDelegate(ways["own"][0])
    rows = view.rowAt(viewport.height() - 1) - view.rowAt(0) + 1
    rows = rows if view.rowAt(viewport.height() - 1) >= 0 else view.model().rowCount()
    yield "repaint CPU time, cells", f"{rows} rows x {view.model().columnCount()} columns"
    for name, values in times.items():
        ordered = sorted(values)
        p95 = ordered[int(len(ordered) * 0.95)]
        yield (
            f"  {name} cell paint: median / p95",
            f"{statistics.median(values):.2f} / {p95:.2f} ms",
        )
    style = statistics.median(times["style's"])
    yield "  own / style's (medians)", f"{statistics.median(times['own']) / style:.2f}x"
    if one_pass:
        one_pass_ms = statistics.median(times["own, one pass"])
        yield "  one pass / style's (medians)", f"{one_pass_ms / style:.2f}x"
        own_ms = statistics.median(times["own"])
        yield "  one pass / own (medians)", f"{one_pass_ms / own_ms:.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "relayscope-ui-bench.db"
    )
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    app = create_application([sys.argv[0]])
    seconds = fill(args.db, args.rows)
    size = args.db.stat().st_size / 1e6
    print(
        f"{args.db}: {size:,.0f} MB" + (f" (filled in {seconds:.0f} s)" if seconds else " (reused)")
    )
    results = list(measure(app, args.db, args.screenshot))
    width = max(len(name) for name, _ in results)
    for name, value in results:
        print(f"{name:<{width}}  {value:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
