"""Smoke tests for the benchmark harness (bench/): its HTTP parser, measurements and report."""

from __future__ import annotations

import random
from pathlib import Path

from bench import measure
from bench.rawhttp import Response
from bench.report import END, START, Run, render, write_doc
from bench.upstream import BenchProvider, answer_text, stream_events


def _chunked(events: list[bytes]) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    body = b"".join(b"%x\r\n%b\r\n" % (len(e), e) for e in events)
    return head + body + b"0\r\n\r\n"


def test_parser_reads_chunked_sse_split_anywhere() -> None:
    events = [b'data: {"n": %d}\n\n' % i for i in range(50)] + [b"data: [DONE]\n\n"]
    wire = _chunked(events)
    rng = random.Random(7)
    for _ in range(20):
        response = Response(sse=True)
        pos = 0
        while pos < len(wire):
            step = rng.randint(1, 40)
            response.feed(wire[pos : pos + step], float(pos))
            pos += step
        assert response.done and response.status == 200
        assert bytes(response.body) == b"".join(events)
        assert response.events == [e[:-2] for e in events]
        assert len(response.event_times) == len(events)


def test_parser_reads_content_length_and_interim_answers() -> None:
    response = Response()
    response.feed(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 0
    )
    assert not response.done
    response.feed(b"loHTTP/1.1", 1)
    assert response.done and bytes(response.body) == b"hello" and response.rest == b"HTTP/1.1"


def test_model_names_choose_the_answer() -> None:
    assert stream_events("fake-w197") == 200
    assert stream_events("bench/fake-w20-d50") == 23
    assert stream_events("fake-1") is None
    assert answer_text(3) == "lorem ipsum dolor"


def test_measurements_run_against_the_upstream() -> None:
    with BenchProvider(name="bench") as provider:
        target = measure.Target("direct", provider.port)
        assert measure.latency(target, 5, 1)["lat_err"] == 0
        assert measure.throughput(target, 4, 20, 5.0)["rps4_err"] == 0
        timing = measure.stream_timing(target, 17, 2)
        assert timing["stream_events"] == 20 and timing["stream_text_bad"] == 0
        paced = measure.gaps(target, 3, 5, 1)
        assert paced["gap_max_dev"] < 50
        for streams in (1, 3):
            result = measure.chunk_rate(target, 30, streams)
            assert result[f"lost{streams}"] == 0 and result[f"text_bad{streams}"] == 0


def _run() -> Run:
    names = ("direct", "relayscope", "relayscope+drain", "mitmdump", "mitm-lean", "litellm")
    metrics = {
        "lat_p50": 1.0,
        "lat_p99": 2.0,
        "rps16": 100.0,
        "rps64": 100.0,
        "ttft": 1.0,
        "ttft_paced": 1.0,
        "stream_total": 3.0,
        "gap_med_dev": 0.5,
        "gap_max_dev": 2.0,
        "cps1": 20_000.0,
        "cps16": 20_000.0,
        "lost64": 0.0,
    }
    values = {
        k: {n: [v * (i + 1), v * (i + 1.5)] for i, n in enumerate(names)}
        for k, v in metrics.items()
    }
    proxies = names[1:]
    return Run(
        mode="quick",
        command=".venv/bin/python -m bench.run_all --quick",
        machine={
            "nproc": "2",
            "cpu": "CPU",
            "python": "3.12",
            "mitmproxy": "12",
            "kernel": "6",
            "loadavg_start": "0 0 0",
        },
        rounds=2,
        params={
            "lat_n": 1,
            "lat_warmup": 1,
            "rps_max": 1,
            "rps_seconds": 1,
            "ttft_streams": 1,
            "gap_streams": 1,
            "gap_words": 20,
            "words1": 1,
            "words16": 1,
            "words64": 1,
            "litellm_scale": 0.1,
            "soak_calls": 1,
            "soak_seconds": 1,
        },
        values=values,
        startup={n: [0.5] for n in proxies},
        rss={n: {"idle": 50.0, "after": 60.0, "calls": 10_000} for n in proxies},
    )


def test_report_renders_every_section(tmp_path: Path) -> None:
    text = render(_run())
    for part in ("Relayscope + drain", "LiteLLM / Relayscope", "PASS", "Targets:", "Spread:"):
        assert part in text
    page = tmp_path / "benchmarks.md"
    page.write_text(f"# B\n\nintro\n\n{START}\nold\n{END}\n\n## Where the time goes\nkept\n")
    write_doc(page, text)
    written = page.read_text()
    assert "old" not in written and "kept" in written and "intro" in written
    assert text in written


def test_ui_bench_runs_end_to_end_on_a_small_database(tmp_path: Path) -> None:
    """The window benchmark drives the real window; a refactor must not break it silently."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.ui_bench", "--rows", "400", "--db", str(tmp_path / "u.db")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "first paint" in result.stdout
