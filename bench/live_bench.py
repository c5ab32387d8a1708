"""The window while traffic pours in: 500 calls/s for 60 s into the open window, measured.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.live_bench            # this tree
    .venv/bin/python -m bench.live_bench --base main --rounds 2             # side by side

Not the whole proxy: a producer process (this file with `--produce`) plays the recording
process's part. It records calls at the given rate through a real `RecordingWriter` into a
real database: 80% are Codex sessions' calls, recorded as the recorder records them (its
`session-id` and `x-codex-turn-metadata` headers, `session_id` and `turn_id`, a Responses
stream; one call at a time per session, 2-8 calls a turn, 1-4 turns a session), so "Group
by turn" (`--grouped`) folds real turns; the rest are chat calls without a session (70%
streams; the rest plain JSON answers after 50-400 ms). A stream is 0.4-1.4 s long, 4 SSE
events every 200 ms. It prints the writer's commit events as NDJSON, which the
app reads with its real `WorkerProcess` (only the command line is the producer's) and
hands to the real `MainWindow`. Events are printed from a thread of their own, so a slow
window never slows the database: the lag measured is the list's alone.

Measured in the window's process:
- lag: from a call's commit (stamped by the producer) to its row in the list's model;
- stalls: a 5 ms QTimer; the gap between its ticks minus 5 ms is how long the UI thread
  was busy (the longest, and how many exceeded 50 ms);
- memory: the process's RSS every second, and the rows the list holds.

`--hiccup EVERY:FOR` makes the producer stop for FOR seconds every EVERY seconds (a
recorder held up by its disk, a machine busy elsewhere), then catch up: the calls due
meanwhile start at once and reach the window as one batch of hundreds, the case that
makes a long stall when a window applies a batch whole.

The top call is selected and the list read at its top (it follows the newest calls and
trims the rows far below); `--scrolled` reads it in the middle of its first page instead:
nothing is trimmed, and each batch pushes the scroll bar down by the rows inserted above.

`--base REV` runs the same measurement on the app code of git revision REV (exported to a
temporary directory) interleaved with this tree, `--rounds` times each, and prints both.
REV must have the `relayscope` layout (f2d2b73 or later); an older one is refused.
"""

from __future__ import annotations

import argparse
import collections
import gc
import heapq
import itertools
import json
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STALL_TICK_MS = 5
#: How long after the traffic's end the window waits for a late producer's last line.
PRODUCER_GRACE_S = 120

# -- the producer (the recording process's part) ----------------------------------------


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: Of the calls: a Codex session's (the rest are chat calls without a session).
AGENT_SHARE = 0.8
CODEX_AGENT = "codex_cli_rs/0.58.0 (Linux 6.8; x86_64) xterm-256color"


@dataclass(slots=True)
class _Session:
    id: str
    turn_id: str = ""
    calls_left: int = 0  # in this turn
    turns_left: int = 0
    turns: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)  # the conversation so far


class _Agents:
    """Codex sessions, each making one call at a time (a turn is the requests of one user
    message: the model calls a tool, the tool's output goes back, until it answers), with
    the headers and columns the real recorder writes for them (`Recorder.request`)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.idle: list[_Session] = []
        self.busy: dict[str, _Session] = {}  # call id -> its session
        self.sessions = 0
        self.turns = 0

    def start(self, call_id: str) -> dict[str, Any]:
        """The row of a session's next call (a new session when every one is busy)."""
        rng = self.rng
        if self.idle:
            session = self.idle.pop(rng.randrange(len(self.idle)))
        else:
            self.sessions += 1
            session = _Session(f"0199f1a2-{self.sessions:04x}-7c3e-bench-{rng.getrandbits(32):08x}")
            session.turns_left = rng.randint(1, 4)
        if session.calls_left == 0:  # a new turn: the user's message
            self.turns += 1
            session.turns += 1
            session.turn_id = f"turn-{self.turns:06x}-{rng.getrandbits(24):06x}"
            session.calls_left = rng.randint(2, 8)
            session.turns_left -= 1
            session.items.append(
                {"role": "user", "content": f"turn {session.turns}: fix the failing test"}
            )
        else:  # the tool's output goes back
            tool_call = session.items[-1].get("call_id")
            session.items.append(
                {"type": "function_call_output", "call_id": tool_call, "output": "ok"}
            )
        session.calls_left -= 1
        self.busy[call_id] = session
        body = {
            "model": "gpt-5.2-codex",
            "instructions": "You are Codex, a coding agent.",
            "input": session.items[-40:],
            "stream": True,
            "prompt_cache_key": session.id,
        }
        headers = [
            ["content-type", "application/json"],
            ["user-agent", CODEX_AGENT],
            ["session-id", session.id],
            ["x-codex-turn-metadata", json.dumps({"turn_id": session.turn_id})],
        ]
        return {
            "path": "/v1/responses",
            "endpoint": "responses",
            "provider": "openai",
            "model": body["model"],
            "stream": 1,
            "request_headers": json.dumps(headers),
            "request_body": json.dumps(body).encode(),
            "client": CODEX_AGENT,
            "session_id": session.id,
            "turn_id": session.turn_id,
        }

    def owns(self, call_id: str) -> bool:
        return call_id in self.busy

    def end(self, call_id: str) -> None:
        """The call is over: its session is free for its next call, or done."""
        session = self.busy.pop(call_id)
        session.items.append(
            {"type": "function_call", "call_id": f"call_{call_id}", "name": "shell"}
        )
        if session.calls_left or session.turns_left:
            self.idle.append(session)


def _responses_chunk(call_id: str, step: int) -> bytes:
    return b"".join(
        b"event: response.output_text.delta\ndata: "
        + json.dumps(
            {
                "type": "response.output_text.delta",
                "item_id": f"msg_{call_id}",
                "output_index": 0,
                "content_index": 0,
                "delta": f"word {step}.{i} ",
            }
        ).encode()
        + b"\n\n"
        for i in range(4)
    )


def _responses_end(call_id: str, steps: int) -> bytes:
    usage = {"input_tokens": 1200, "output_tokens": 4 * steps, "total_tokens": 1200 + 4 * steps}
    response = {"id": f"resp_{call_id}", "status": "completed", "usage": usage}
    event = {"type": "response.completed", "response": response}
    return b"event: response.completed\ndata: " + json.dumps(event).encode() + b"\n\n"


def _chat_call(rng: random.Random, number: int) -> dict[str, Any]:
    """A chat call without a session (a script, an SDK): a row of its own in any view."""
    stream = rng.random() < 0.7
    model = rng.choice(("gpt-5.2", "gpt-5.2-mini", "demo-1", "qwen3-coder"))
    body = {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": f"question {number} about the weather"}],
    }
    return {
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "provider": rng.choice(("openai", "openrouter", "local-vllm")),
        "model": model,
        "stream": int(stream),
        "request_headers": "[]",
        "request_body": json.dumps(body).encode(),
    }


def produce(
    db: Path, rate: float, seconds: float, seed: int, hiccup: tuple[float, float] | None = None
) -> None:
    from relayscope.recording.writer import RecordingWriter

    out: queue.SimpleQueue[list[dict[str, Any]] | None] = queue.SimpleQueue()

    def on_commit(events: list[dict[str, Any]]) -> None:
        stamp = time.time()
        for event in events:
            if event["event"] == "call_started":
                event["t"] = stamp
        out.put(events)

    def printer() -> None:
        while (events := out.get()) is not None:
            sys.stdout.write("".join(json.dumps(e) + "\n" for e in events))
            sys.stdout.flush()

    thread = threading.Thread(target=printer, daemon=True)
    thread.start()
    writer = RecordingWriter(db, on_commit=on_commit).open(interrupt_leftovers=False)
    sys.stdout.write(json.dumps({"event": "listening", "url": "http://bench/v1", "port": 1}))
    sys.stdout.write("\n")
    sys.stdout.flush()
    rng = random.Random(seed)
    agents = _Agents(rng)
    todo: list[tuple[float, int, str, str, int]] = []  # (due, seq, kind, call id, n)
    begun: dict[str, float] = {}  # call id -> when its request came (monotonic)
    seq = 0
    started = 0
    late = 0.0  # how far behind its schedule the producer got (a loaded machine)
    t0 = time.monotonic()
    next_hiccup = hiccup[0] if hiccup else float("inf")
    next_beat = t0 + 5.0
    while True:
        now = time.monotonic()
        if now >= next_beat:  # on stderr: the window keeps the last lines it read
            next_beat += 5.0
            print(
                f"producer: {now - t0:.0f} s, {started} calls started, {len(todo)} steps due,"
                f" {writer.queued()} ops queued, journal {'in use' if writer.journal else 'empty'}"
                f", {out.qsize()} commits to print",
                file=sys.stderr,
                flush=True,
            )
        if hiccup and now - t0 >= next_hiccup and now - t0 < seconds:
            time.sleep(hiccup[1])  # nothing is committed meanwhile; then it all comes at once
            next_hiccup += hiccup[0]
            now = time.monotonic()
        if now - t0 < seconds:
            late = max(late, now - t0 - started / rate)
            while started < int((now - t0) * rate):
                started += 1
                seq += 1
                call_id = f"{time.time_ns() // 1_000_000:012x}-{started:08x}"
                if rng.random() < AGENT_SHARE:
                    call = agents.start(call_id)
                else:
                    call = _chat_call(rng, started)
                stream = bool(call["stream"])
                writer.start(
                    {
                        "id": call_id,
                        "started_at": _now_iso(),
                        "method": "POST",
                        "state": "pending",
                        "transport": "http",
                        **call,
                    }
                )
                begun[call_id] = now
                if stream:
                    steps = rng.randint(2, 7)
                    for step in range(1, steps + 1):
                        heapq.heappush(todo, (now + 0.2 * step, seq, "chunk", call_id, step))
                        seq += 1
                    heapq.heappush(todo, (now + 0.2 * steps + 0.01, seq, "end", call_id, steps))
                else:
                    heapq.heappush(todo, (now + rng.uniform(0.05, 0.4), seq, "answer", call_id, 0))
        elif not todo:
            break
        while todo and todo[0][0] <= now:
            due, _, kind, call_id, n = heapq.heappop(todo)
            t_ms = (due - begun[call_id]) * 1000  # what the tap stamps: since the request
            agent = agents.owns(call_id)
            if kind == "chunk":
                if agent:
                    data = _responses_chunk(call_id, n)
                else:
                    data = b"".join(
                        b'data: {"choices":[{"index":0,"delta":{"content":"word %d "}}]}\n\n' % i
                        for i in range(4)
                    )
                writer.raw(call_id, t_ms, data)
            elif kind == "end":
                end = _responses_end(call_id, n) if agent else b"data: [DONE]\n\n"
                writer.raw(call_id, t_ms, end)
                writer.raw(call_id, t_ms, b"")
                writer.finish(
                    call_id,
                    {
                        "status": 200,
                        "state": "complete",
                        "duration_ms": 200.0 * n + 10,
                        "first_byte_ms": 200.0,
                    },
                )
                del begun[call_id]
                if agent:
                    agents.end(call_id)
            else:
                answer = {
                    "choices": [{"message": {"role": "assistant", "content": "sunny"}}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 3},
                }
                writer.finish(
                    call_id,
                    {
                        "status": 200,
                        "state": "complete",
                        "duration_ms": 120.0,
                        "response_body": json.dumps(answer).encode(),
                    },
                )
                del begun[call_id]
        time.sleep(0.005)
    print("producer: closing the writer", file=sys.stderr, flush=True)
    writer.close()
    produced = {
        "calls": started,
        "sessions": agents.sessions,
        "turns": agents.turns,
        "late_s": late,
        "done_s": time.monotonic() - t0 - seconds,  # the last commit, after the traffic
    }
    out.put([{"event": "produced", **produced}])
    out.put(None)
    thread.join()
    sys.stdin.read()  # like the worker: exit when the app closes the pipe


# -- the window (the measured side) -----------------------------------------------------


def _settle_after_start_up(app: Any, window: Any) -> None:
    """What the app's start-up does once the window is shown (freeze the start-up objects
    when the price list is in); in an older tree the call list's view did it itself."""
    from relayscope.ui import application

    settle = getattr(application, "settle_after_start_up", None)
    if settle is not None:
        settle(app, window)


def _rss_mib() -> float:
    from bench.procs import vm_kib  # here: the producer runs this file without bench's path

    return vm_kib(os.getpid(), "VmRSS") / 1024


def measure_window(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QModelIndex, QTimer

    from relayscope.store.call_store import CallStore, open_database
    from relayscope.ui.application import create_application
    from relayscope.ui.main_window import MainWindow
    from relayscope.ui.worker_process import WorkerProcess

    commit_t: dict[str, float] = {}
    produced: list[int] = []
    produced_at: list[float] = []  # when its "produced" line came (time.monotonic)
    turns: list[str] = []  # the producer's Codex sessions and turns
    producer: dict[str, Any] = {}  # its own figures: how late it ran

    class Producer(WorkerProcess):
        def command(self, port: int) -> list[str]:
            return [
                sys.executable,
                str(Path(__file__).resolve()),
                "--produce",
                "--db",
                str(self.db_path),
                "--rate",
                str(args.rate),
                "--seconds",
                str(args.seconds),
                *(["--hiccup", args.hiccup] if args.hiccup else []),
            ]

        def _split_stdout(self, data: bytes) -> None:
            # "produced" is the producer's own line: the app's parser (typed events) drops
            # an unknown event, so it is read here, as the lines come (the app's code of
            # any revision splits them here, however it then parses them).
            before = len(self._stdout_lines)
            super()._split_stdout(data)
            new = len(self._stdout_lines) - before
            for line in itertools.islice(reversed(self._stdout_lines), max(0, new)):
                if b'"produced"' in line:
                    event = json.loads(line)
                    if event.get("event") == "produced":
                        produced.append(int(event["calls"]))
                        produced_at.append(time.monotonic())
                        turns.append(f"{event['sessions']:,} / {event['turns']:,}")
                        producer.update(event)

        def _dispatch(self, event: Any) -> None:
            if event.get("event") == "call_started":
                commit_t[str(event.get("id"))] = float(event["t"])
            super()._dispatch(event)

    split = _split_cpu()
    slow = _Slow() if os.environ.get("LIVE_BENCH_SLOW") else None
    app = create_application([sys.argv[0]])
    db = Path(args.db)
    if args.prefill:
        from bench.ui_bench import fill

        fill(db, args.prefill)  # the window opens on a list, as it usually does
    open_database(db).conn.close()
    store = CallStore(db)
    worker = Producer(db)
    window = MainWindow(store, worker, config_path=db.with_suffix(".toml"))
    window.show()
    _settle_after_start_up(app, window)
    if args.grouped:
        window.call_list.set_grouped(True)
    model = window.model
    if slow is not None:
        slow.watch(window.call_list.model(), window.call_list)
    for _ in range(20):  # the first paint, the first call shown in the inspector
        app.processEvents()
        time.sleep(0.01)
    window.call_list.select_first_row()  # someone reads a call while traffic comes in
    if args.scrolled:  # ... further down: nothing is trimmed, each batch moves the scroll bar
        bar = window.call_list.verticalScrollBar()
        bar.setValue(bar.maximum() // 2)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)

    lags: list[float] = []

    def on_rows_inserted(_: QModelIndex, first: int, last: int) -> None:
        now = time.time()
        for row in range(first, last + 1):
            t = commit_t.pop(model.call_id(row) or "", None)
            if t is not None:
                lags.append((now - t) * 1000)

    model.rowsInserted.connect(on_rows_inserted)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def on_tick() -> None:
        now, cpu, queued = clock.nsecsElapsed(), time.thread_time(), _run_delay()
        gap = (now - last[0]) / 1e6 - STALL_TICK_MS
        gaps.append(gap)
        if gap > 50:  # how much of it the UI thread worked, and waited for a core
            stall_cpu.append((cpu - last_cpu[0]) * 1000)
            stall_queued.append((queued - last_queued[0]) * 1000)
        if slow is not None:
            slow.tick(gap, (cpu - last_cpu[0]) * 1000)
        last[0], last_cpu[0], last_queued[0] = now, cpu, queued
        last_tick[0] = time.monotonic()

    stall_cpu: list[float] = []
    stall_queued: list[float] = []
    last_cpu, last_queued = [time.thread_time()], [_run_delay()]

    last_tick = [time.monotonic()]
    blame: collections.Counter[str] = collections.Counter()
    if os.environ.get("LIVE_BENCH_BLAME"):
        # Where the UI thread is while a stall goes on: its Python stack, sampled every 2 ms
        # from another thread once 30 ms have passed without a tick (printed to stderr).
        main_id = threading.get_ident()

        def sample() -> None:
            while True:
                time.sleep(0.002)
                if time.monotonic() - last_tick[0] < 0.030:
                    continue
                frame = sys._current_frames().get(main_id)
                names: list[str] = []
                while frame is not None and len(names) < 7:
                    code = frame.f_code
                    names.append(f"{Path(code.co_filename).stem}.{code.co_name}")
                    frame = frame.f_back
                blame[" < ".join(names)] += 1

        threading.Thread(target=sample, daemon=True).start()
        # A collection holds the interpreter lock, so the sampler cannot see it: time them.
        gc_started = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_started[0] = time.perf_counter()
                return
            took = (time.perf_counter() - gc_started[0]) * 1000
            if took >= 10:
                blame[f"gc generation {info['generation']} ({info['collected']} collected)"] += max(
                    1, round(took / 2)
                )

        gc.callbacks.append(on_gc)

    ticker = QTimer()
    ticker.setInterval(STALL_TICK_MS)
    ticker.timeout.connect(on_tick)
    rss: list[float] = []
    sampler = QTimer()
    sampler.setInterval(1000)
    sampler.timeout.connect(lambda: rss.append(_rss_mib()))
    rss_start = _rss_mib()
    cpu0 = time.process_time()
    model.wait_for_counts()  # over a page of calls, the total is counted on a thread
    before = model.total_count
    worker.start(0)
    ticker.start()
    # Stalls are counted from here: the set-up above (the first count, the worker's start) is
    # not a stall of the window under traffic (it was once the run's longest "stall").
    last[0], last_cpu[0], last_queued[0] = clock.nsecsElapsed(), time.thread_time(), _run_delay()
    last_tick[0] = time.monotonic()
    if slow is not None:
        slow.start()
    sampler.start()
    started = time.monotonic()
    # The window has 30 s after the producer's last line to show every call; a producer
    # running late (this machine's speed varies) is waited for, up to PRODUCER_GRACE_S.
    deadline = started + args.seconds + PRODUCER_GRACE_S

    def result(drained_after: float) -> dict[str, Any]:
        ongoing = (clock.nsecsElapsed() - last[0]) / 1e6  # a stall still going on
        stalls = [*gaps, ongoing] if ongoing > 50 else gaps
        return {
            "produced": produced[0] if produced else -1,
            "turns": turns[0] if turns else "?",
            "producer_late_s": producer.get("late_s", -1.0),
            "producer_done_s": producer.get("done_s", -1.0),
            "counted": model.total_count - before,
            "rows": model.rowCount(),
            "never_shown": len(commit_t),  # started calls never inserted
            "lag_p50": statistics.median(lags) if lags else -1,
            "lag_p99": _pct(lags, 99),
            "lag_max": max(lags) if lags else -1,
            "stall_max": max(stalls) if stalls else -1,
            "stall_p99": _pct(stalls, 99),
            "stalls_over_50": sum(1 for g in stalls if g > 50),
            # Of those, the ones the UI thread spent over 50 ms of its own CPU in (the rest
            # it was waiting: for a core, or for the interpreter lock another thread held).
            "stalls_working_50": sum(1 for c in stall_cpu if c > 50),
            "stall_cpu_max": max(stall_cpu, default=0.0),
            # The stalls' time: working, waiting for a core, the rest blocked (the
            # interpreter lock another thread held, or a system call).
            "stalls_s": sum(g for g in stalls if g > 50) / 1000,
            "stalls_cpu_s": sum(stall_cpu) / 1000,
            "stalls_queued_s": sum(stall_queued) / 1000,
            "rss_start": rss_start,
            "rss_max": max([*rss, _rss_mib()]),
            "rss_end": _rss_mib(),
            "cpu_s": time.process_time() - cpu0,
            "drained_after_s": drained_after,
            # Why a producer's last line never came: its state and its last words.
            "producer_state": worker.state,
            "producer_stderr": list(getattr(worker, "_stderr_tail", []))[-6:],
            **{f"split_{k}": v for k, v in split.items()},
        }

    def watchdog() -> None:
        # A window stuck in one event handler never returns to the loop: say what it
        # reached, from here, and end the run.
        time.sleep(max(0.0, deadline + 45 - time.monotonic()))
        if finished:
            return
        print(json.dumps(result(time.monotonic() - started - args.seconds)), flush=True)
        os._exit(0)

    finished: list[bool] = []
    threading.Thread(target=watchdog, daemon=True).start()
    while time.monotonic() < (produced_at[0] + 30 if produced_at else deadline):
        app.processEvents()
        time.sleep(0.001)
        if produced and model.total_count >= before + produced[0] and not _pending(model):
            break
    ticker.stop()
    sampler.stop()
    outcome = result(time.monotonic() - started - args.seconds)
    finished.append(True)
    for stack, samples in blame.most_common(15):
        print(f"{samples * 2:6d} ms  {stack}", file=sys.stderr)
    if slow is not None:
        slow.report()
    window.close()
    store.close()
    return outcome


class _Slow:
    """`LIVE_BENCH_SLOW=1`: the UI thread's Python entry points timed (wall and thread CPU),
    each invocation with what it called of the others; gc collections and the grouped
    model's resets and layout changes counted. Each stall over 50 ms keeps what ran in it,
    and the rest of its CPU, outside every timed entry, is Qt's own C++ work (layout,
    geometry after rows come and go, the event loop). Printed to stderr at the end."""

    #: (module, class or None for a module function, name): the entries, outermost first.
    ENTRIES = (
        ("call_list_live", "LiveRows", "_on_tick_timeout"),
        ("call_list_live", "LiveRows", "flush_events"),
        ("call_list_live", "LiveRows", "_insert_live"),
        ("call_list_live", "LiveRows", "_rerender"),
        ("call_list_model", "CallListModel", "trim"),
        ("call_list_model", "CallListModel", "fetchMore"),
        ("call_list_model", "CallListModel", "_on_page"),
        ("call_list_model", "CallListModel", "_recount"),
        ("call_list_model", "CallListModel", "_on_counted"),
        ("call_list_view", "CallListView", "paintEvent"),
        ("call_list_view", None, "paint_rows"),
        ("call_list_view", "CallListView", "_trim_rows"),
        ("call_list_view", "CallListView", "_on_model_rows_inserted"),
        ("call_list_view", "CallListView", "_on_selection_current_row_changed"),
        ("worker_process", "WorkerProcess", "_on_process_stdout"),
        ("worker_process", "WorkerProcess", "_drain_stdout"),
        ("worker_process", "WorkerProcess", "_dispatch"),
        ("call_group_follow", "FollowedRows", "_follow"),
        ("call_group_follow", "FollowedRows", "_rebuild"),
        ("call_group_follow", "FollowedRows", "_attach"),
        ("call_group_follow", "FollowedRows", "_detach"),
        ("call_group_follow", "FollowedRows", "_join"),
        ("call_group_follow", "FollowedRows", "_move_turns"),
        ("call_group_follow", "FollowedRows", "_move_turn"),
        ("call_group_follow", "FollowedRows", "_follow_data_changed"),
        ("call_group_follow", "FollowedRows", "_emit_changed"),
        ("call_group_follow", "FollowedRows", "_insert_rows"),
        ("call_group_follow", "FollowedRows", "_remove_rows"),
        ("call_group_model", "CallGroupModel", "_group"),
        ("main_window", "MainWindow", "_on_call_list_call_selected"),
        ("main_window", "MainWindow", "_on_model_counts_changed"),
    )

    def __init__(self) -> None:
        import importlib

        self.stack: list[list[Any]] = []  # [name, wall0, cpu0, {child: [n, wall, cpu]}]
        self.longest: list[tuple[float, float, int, str, dict[str, list[float]]]] = []
        self.totals: dict[str, float] = collections.defaultdict(float)  # name -> CPU s
        self.counts: collections.Counter[str] = collections.Counter()
        self.top_cpu = 0.0  # thread CPU inside outermost entries, so far
        self.cpu0 = time.thread_time()
        self.seq = 0
        self.window: list[tuple[str, float, float]] = []  # the outermost since the last tick
        self.order: list[str] = []  # the same, in the order they ran, with their biggest callee
        self.marks: collections.Counter[str] = collections.Counter()  # since the last tick
        self.stalls: list[dict[str, Any]] = []
        self.all_marks: collections.Counter[str] = collections.Counter()
        self.selected: list[str] = []
        for module_name, class_name, name in self.ENTRIES:
            module = importlib.import_module(f"relayscope.ui.{module_name}")
            owner: Any = module if class_name is None else getattr(module, class_name)
            if class_name is not None and name not in vars(owner):
                continue  # not in this revision
            if class_name is None and not hasattr(owner, name):
                continue
            label = name if class_name is None else f"{class_name}.{name}"
            setattr(owner, name, self._wrap(getattr(owner, name), label, class_name is None))
        self.gc_started = (0.0, 0.0)
        gc.callbacks.append(self._on_gc)

    def _wrap(self, original: Any, label: str, function: bool) -> Any:
        slow = self

        def enter() -> None:
            slow.stack.append([label, time.perf_counter(), time.thread_time(), {}])

        def leave() -> None:
            name, wall0, cpu0, children = slow.stack.pop()
            wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
            slow.totals[name] += cpu
            slow.counts[name] += 1
            if slow.stack:  # the caller keeps its callees' times, theirs under their names
                into = slow.stack[-1][3]
                for key, n, w, c in [(name, 1, wall, cpu)] + [
                    (f"{name} > {inner}", *times) for inner, times in children.items()
                ]:
                    child = into.setdefault(key, [0, 0.0, 0.0])
                    child[0] += n
                    child[1] += w
                    child[2] += c
                return
            slow.top_cpu += cpu
            slow.window.append((name, wall * 1000, cpu * 1000))
            biggest = max(children.items(), key=lambda i: i[1][2], default=None)
            slow.order.append(
                f"{name.split('.')[-1]} {cpu * 1000:.0f}"
                + (f" ({biggest[0].split('.')[-1]} {biggest[1][2] * 1000:.0f})" if biggest else "")
            )
            slow.seq += 1
            entry = (cpu * 1000, wall * 1000, slow.seq, name, children)
            if len(slow.longest) < 15:
                heapq.heappush(slow.longest, entry)
            elif entry[0] > slow.longest[0][0]:
                heapq.heapreplace(slow.longest, entry)

        if function:

            def wrapped_function(*args: Any, **kwargs: Any) -> Any:
                enter()
                try:
                    return original(*args, **kwargs)
                finally:
                    leave()

            return wrapped_function

        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            enter()
            try:
                return original(self, *args, **kwargs)
            finally:
                leave()

        return wrapped

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.gc_started = (time.perf_counter(), time.thread_time())
            return
        if threading.current_thread() is not threading.main_thread():
            return
        wall = (time.perf_counter() - self.gc_started[0]) * 1000
        for marks in (self.marks, self.all_marks):
            marks[f"gc{info['generation']}"] += 1
            marks[f"gc{info['generation']} ms"] += round(wall)

    def watch(self, model: Any, view: Any) -> None:
        """Count the list's model's resets and layout changes (each lays out every row),
        and note each new call shown in the inspector from inside a timed entry."""
        for signal in ("modelAboutToBeReset", "layoutAboutToBeChanged", "rowsAboutToBeMoved"):
            getattr(model, signal).connect(partial(self._mark, signal))
        view.call_selected.connect(self._on_call_selected)

    def _on_call_selected(self, call_id: str) -> None:
        if self.stack:
            self.selected.append(
                f"{call_id or '(none)'} from {' > '.join(s[0] for s in self.stack)}"
            )

    def _mark(self, name: str, *_: Any) -> None:
        self.marks[name] += 1
        self.all_marks[name] += 1

    def start(self) -> None:
        """Traffic starts: what the set-up did is not counted."""
        self.cpu0, self.top_cpu = time.thread_time(), 0.0
        self.window, self.marks, self.all_marks = [], collections.Counter(), collections.Counter()
        self.order = []
        self.totals.clear()
        self.counts.clear()
        self.longest, self.selected = [], []

    def tick(self, gap_ms: float, cpu_ms: float) -> None:
        """The 5 ms ticker came: keep what ran if it was a stall, start again."""
        if gap_ms > 50:
            inside = sum(c for _, _, c in self.window)
            self.stalls.append(
                {
                    "gap": gap_ms,
                    "cpu": cpu_ms,
                    "outside": cpu_ms - inside,
                    "entries": sorted(self.window, key=lambda e: -e[2])[:6],
                    "marks": dict(self.marks),
                    "order": self.order,
                }
            )
        self.window, self.order = [], []
        self.marks = collections.Counter()

    def report(self) -> None:
        out = sys.stderr
        cpu_total_s = time.thread_time() - self.cpu0
        print(
            f"slow: UI thread CPU {cpu_total_s:.2f} s, in timed entries {self.top_cpu:.2f} s,"
            f" outside them (Qt's C++, the event loop) {cpu_total_s - self.top_cpu:.2f} s",
            file=out,
        )
        marks = " ".join(f"{k}={v}" for k, v in sorted(self.all_marks.items()))
        print(f"slow: in all: {marks}", file=out)
        for line in self.selected[:10]:
            print(f"slow: the inspector shown {line}", file=out)
        print("slow: CPU by entry (s, calls):", file=out)
        for name, seconds in sorted(self.totals.items(), key=lambda i: -i[1])[:25]:
            print(f"  {seconds:7.2f} {self.counts[name]:8d}  {name}", file=out)
        print("slow: the 15 longest outermost invocations (CPU / wall ms):", file=out)
        for rank, (cpu, wall, _, name, children) in enumerate(sorted(self.longest, reverse=True)):
            print(f"  {cpu:6.1f} / {wall:6.1f}  {name}", file=out)
            if rank < 5:
                for child, (n, w, c) in sorted(children.items(), key=lambda i: -i[1][2])[:12]:
                    print(f"      {c * 1000:6.1f} / {w * 1000:6.1f}  {n:5.0f}x {child}", file=out)
        print(f"slow: {len(self.stalls)} stalls over 50 ms (gap, CPU, outside entries):", file=out)
        for stall in sorted(self.stalls, key=lambda s: -s["cpu"]):
            entries = ", ".join(f"{n} {c:.0f}/{w:.0f}" for n, w, c in stall["entries"])
            marks = " ".join(f"{k}={v}" for k, v in sorted(stall["marks"].items()))
            print(
                f"  {stall['gap']:5.0f} ms, CPU {stall['cpu']:5.1f},"
                f" outside {stall['outside']:5.1f}"
                f" | {entries} | {marks}",
                file=out,
            )
            print(f"      in order: {' → '.join(stall['order'])}", file=out)


def _split_cpu() -> dict[str, float]:
    """The UI thread's CPU time in the grouped model's following of the list's changes and
    in the list's paints, and how many of each (`time.thread_time`): work done per call and
    per paint, which the machine's load does not change (how many calls a loaded machine
    lets the window read in the time does)."""
    from relayscope.ui import call_group_model, call_list_view

    split = {"follow_s": 0.0, "follows": 0.0, "paint_s": 0.0, "paints": 0.0}

    def timed(cls: type, name: str, key: str) -> None:
        original = getattr(cls, name)

        def handler(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                split[f"{key}_s"] += time.thread_time() - started
                split[f"{key}s"] += 1

        setattr(cls, name, handler)

    timed(call_group_model.CallGroupModel, "_follow", "follow")
    timed(call_list_view.CallListView, "paintEvent", "paint")
    return split


def _run_delay() -> float:
    """Seconds the calling thread has waited for a core (runnable, not running) so far:
    the second field of Linux's schedstat; 0 where there is none."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _pending(model: Any) -> bool:
    return bool(getattr(model, "has_pending_events", lambda: False)())


def _pct(values: list[float], pct: int) -> float:
    if not values:
        return -1
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


# -- side by side -----------------------------------------------------------------------


def export_tree(rev: str, into: Path) -> Path:
    """The app code of `rev` (only app/: the producer's recorder is the same either way).

    `rev` must have the `relayscope` layout (app/relayscope/), as this script imports it:
    an older revision's app would not be found on PYTHONPATH and the window would silently
    run this tree's code, so it is refused.
    """
    has_layout = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}:app/relayscope"],
        capture_output=True,
    )
    if has_layout.returncode != 0:
        raise SystemExit(
            f"live_bench: {rev} has no app/relayscope (it is older than the relayscope "
            "layout, or not a revision), so its window cannot be measured by this script; "
            "give a revision from f2d2b73 on."
        )
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "app"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_child(tree: Path, args: argparse.Namespace, db: Path) -> dict[str, Any]:
    from bench.procs import host_steal_seconds

    env = {**os.environ, "PYTHONPATH": str(tree / "app"), "QT_QPA_PLATFORM": "offscreen"}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--window",
        "--json",
        "--db",
        str(db),
        "--rate",
        str(args.rate),
        "--seconds",
        str(args.seconds),
        "--prefill",
        str(args.prefill),
        *(["--hiccup", args.hiccup] if args.hiccup else []),
    ]
    command += ["--grouped"] * args.grouped + ["--scrolled"] * args.scrolled
    # A window stuck in a handler may hold the GIL from its watchdog: the run is ended here.
    limit = args.seconds + PRODUCER_GRACE_S + 120
    steal, began = host_steal_seconds(), time.monotonic()
    try:
        done = subprocess.run(
            command, env=env, check=True, capture_output=True, text=True, timeout=limit
        )
    except subprocess.TimeoutExpired:
        return {"stuck_after_s": limit}
    steal = (host_steal_seconds() - steal) / ((time.monotonic() - began) * (os.cpu_count() or 1))
    if os.environ.get("LIVE_BENCH_BLAME"):
        print(f"where the UI thread stalled ({tree.name}):", file=sys.stderr)
        for line in done.stderr.splitlines():
            if " ms  " in line:
                print(line, file=sys.stderr)
    if os.environ.get("LIVE_BENCH_SLOW"):
        print(f"the UI thread's longest work ({tree.name}):", file=sys.stderr)
        for line in done.stderr.splitlines():
            if line.startswith(("slow:", "  ")):
                print(line, file=sys.stderr)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "host_steal": steal}


#: A run on a host that gave other machines more than this share of the cores is said to be.
STOLEN = 0.05

ROWS = (
    (
        "calls recorded / counted by the window",
        lambda r: (
            f"{r['produced']:,} / {r['counted']:,}"
            if r["produced"] >= 0
            else f"? (the window never read the producer's last line) / {r['counted']:,}"
        ),
    ),
    ("Codex sessions / turns in them", lambda r: r.get("turns", "?")),
    (
        # A producer behind its schedule (a loaded machine) delays the list as well.
        "producer: most behind schedule / last commit after the traffic",
        lambda r: (
            f"{r.get('producer_late_s', -1) * 1000:.0f} ms / {r.get('producer_done_s', -1):.1f} s"
            if r.get("producer_late_s", -1) >= 0
            else "?"
        ),
    ),
    (
        # A shared host's other guests slow the producer and the window alike.
        "cores' time the host gave to other machines",
        lambda r: f"{r['host_steal']:.0%}" if "host_steal" in r else "?",
    ),
    ("rows the list holds at the end", lambda r: f"{r['rows']:,}"),
    (
        "lag commit → list: median / p99 / max",
        lambda r: f"{r['lag_p50']:.0f} / {r['lag_p99']:.0f} / {r['lag_max']:,.0f} ms",
    ),
    ("UI thread stall: longest / p99", lambda r: f"{r['stall_max']:.0f} / {r['stall_p99']:.1f} ms"),
    ("stalls > 50 ms", lambda r: f"{r['stalls_over_50']}"),
    (
        "of them, the UI thread working > 50 ms / most it worked in one",
        lambda r: f"{r.get('stalls_working_50', '?')} / {r.get('stall_cpu_max', 0):.0f} ms",
    ),
    (
        "their time: in all / working / waiting for a core",
        lambda r: (
            f"{r.get('stalls_s', 0):.2f} / {r.get('stalls_cpu_s', 0):.2f}"
            + f" / {r.get('stalls_queued_s', 0):.2f} s"
        ),
    ),
    (
        "RSS start / max / end",
        lambda r: f"{r['rss_start']:.0f} / {r['rss_max']:.0f} / {r['rss_end']:.0f} MiB",
    ),
    ("window CPU time", lambda r: f"{r['cpu_s']:.1f} s"),
    (
        "grouped model's CPU per 1,000 calls counted",
        lambda r: (
            f"{r['split_follow_s'] * 1e6 / max(1, r['counted']):.0f} ms"
            + f" ({r['split_follows']:,.0f} changes followed)"
        ),
    ),
    (
        "list paint CPU per paint",
        lambda r: (
            f"{r['split_paint_s'] * 1000 / max(1, r['split_paints']):.1f} ms"
            + f" ({r['split_paints']:,.0f} paints)"
        ),
    ),
    (
        "list caught up after the traffic stopped",
        lambda r: (
            f"{max(0.0, r['drained_after_s']):.1f} s"
            if r["counted"] >= r["produced"] >= 0
            else f"not within {r['drained_after_s']:.0f} s"
            + (f" ({r['produced'] - r['counted']:,} missing)" if r["produced"] >= 0 else "")
        ),
    ),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--grouped", action="store_true", help="with Group by turn on")
    parser.add_argument("--prefill", type=int, default=2000, help="calls recorded before")
    parser.add_argument("--scrolled", action="store_true", help="the list read in its middle")
    parser.add_argument("--base", help="also run the app code of this git revision")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--hiccup", metavar="EVERY:FOR", help="the producer stops FOR s every EVERY s"
    )
    parser.add_argument("--produce", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--window", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.produce:
        hiccup = None
        if args.hiccup:
            every, length = (float(x) for x in args.hiccup.split(":"))
            hiccup = (every, length)
        produce(args.db, args.rate, args.seconds, seed=17, hiccup=hiccup)
        return 0
    if args.window:
        print(json.dumps(measure_window(args)))
        return 0
    with tempfile.TemporaryDirectory(prefix="relayscope-live-") as tmp:
        trees = {"this tree": ROOT}
        if args.base:
            trees = {args.base: export_tree(args.base, Path(tmp)), "this tree": ROOT}
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                db = Path(tmp) / f"live-{round_}-{len(results[name])}-{name.replace(' ', '_')}.db"
                print(f"round {round_ + 1}: {name}…", file=sys.stderr)
                results[name].append(run_child(tree, args, db))
        print(
            f"{args.rate:.0f} calls/s for {args.seconds:.0f} s"
            + (", grouped by turn" if args.grouped else "")
            + (f", the producer stopping {args.hiccup} (every:for, s)" if args.hiccup else "")
            + (", the list read in its middle" if args.scrolled else "")
        )
        for name, runs in results.items():
            for i, result in enumerate(runs):
                print(f"\n{name}, round {i + 1}")
                if "stuck_after_s" in result:
                    print(f"  the window did not answer within {result['stuck_after_s']:.0f} s")
                    continue
                for label, show in ROWS:
                    print(f"  {label:<44} {show(result)}")
                if result.get("host_steal", 0) > STOLEN:
                    print(
                        "  (a host that steals this much slows the producer and the window"
                        " alike: compare side by side only)"
                    )
                if result["produced"] < 0:  # what the producer said last, and its state
                    print(f"  the producer ({result.get('producer_state', '?')}) said last:")
                    for line in result.get("producer_stderr", []):
                        print(f"    {line}")
        if args.json:
            print(json.dumps(results))
    return 0


if __name__ == "__main__":
    for folder in (ROOT, ROOT / "app", ROOT / "proxy_addons"):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))  # after PYTHONPATH: --base's app comes first
    sys.exit(main())
