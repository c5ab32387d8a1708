"""The measurements. Each takes one target and returns numbers for one round."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from dataclasses import dataclass

from bench.procs import CHAT_PATH, SMALL_BODY, Proc, cpu_seconds
from bench.rawhttp import AsyncConnection, Response, SyncConnection, build_request
from bench.upstream import answer_text

HOST = "127.0.0.1"


@dataclass
class Target:
    """One way to reach the upstream: directly or through a proxy process."""

    name: str
    port: int
    proc: Proc | None = None
    stream_scale: float = 1.0  # LiteLLM gets shorter streams so a round stays bounded
    completed: int = 0  # answers received (the DB check compares Relayscope's count)
    streams: int = 0

    def request(self, body: dict[str, object]) -> bytes:
        return build_request(HOST, self.port, CHAT_PATH, body)

    def cpu(self) -> float | None:
        return cpu_seconds(self.proc.pid) if self.proc is not None else None

    def words(self, n: int) -> int:
        return max(10, round(n * self.stream_scale))


def stream_body(words: int, delay_ms: int = 0) -> dict[str, object]:
    model = f"fake-w{words}" + (f"-d{delay_ms}" if delay_ms else "")
    return {
        "model": model,
        "stream": True,
        "messages": [{"role": "user", "content": "stream please"}],
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _cpu_per(target: Target, before: float | None, count: int, scale: float) -> float:
    """Proxy CPU per item; waits a little first, so work queued behind the answers (such as
    Relayscope's writer thread) is charged too."""
    if before is None:
        return float("nan")
    time.sleep(0.1)
    after = target.cpu()
    if before is None or after is None or count == 0:
        return float("nan")
    return (after - before) * scale / count


# ------------------------------------------------------------------ non-stream requests


def latency(target: Target, n: int, warmup: int) -> dict[str, float]:
    """`n` sequential keep-alive requests after `warmup`: p50/p99 ms, proxy CPU ms/request."""
    request = target.request(SMALL_BODY)
    conn = SyncConnection(HOST, target.port)
    try:
        for _ in range(warmup):
            conn.request(request)
        target.completed += warmup
        times: list[float] = []
        errors = 0
        before = target.cpu()
        for _ in range(n):
            start = time.perf_counter()
            response = conn.request(request, keep_body=False)
            times.append((time.perf_counter() - start) * 1000)
            errors += response.status != 200
        cpu = _cpu_per(target, before, n, 1000)
        target.completed += n
    finally:
        conn.close()
    return {
        "lat_p50": pct(times, 50),
        "lat_p99": pct(times, 99),
        "lat_cpu_ms": cpu,
        "lat_err": errors,
    }


async def _throughput(
    target: Target, concurrency: int, max_requests: int, max_seconds: float
) -> tuple[int, int, float, float]:
    request = target.request(SMALL_BODY)
    conns = [AsyncConnection(HOST, target.port) for _ in range(concurrency)]
    await asyncio.gather(*(c.request(request) for c in conns))  # connect and warm each one
    target.completed += concurrency
    issued = ok = errors = 0
    before = target.cpu()
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker(conn: AsyncConnection) -> None:
        nonlocal issued, ok, errors
        while issued < max_requests and time.perf_counter() < deadline:
            issued += 1
            try:
                response = await conn.request(request, keep_body=False)
            except (OSError, ConnectionError, ValueError):
                errors += 1
                await conn.close()
                continue
            if response.status == 200:
                ok += 1
            else:
                errors += 1

    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - start
    cpu = _cpu_per(target, before, ok + errors, 1000)
    for conn in conns:
        await conn.close()
    target.completed += ok + errors
    return ok, errors, elapsed, cpu


def throughput(
    target: Target, concurrency: int, max_requests: int, max_seconds: float
) -> dict[str, float]:
    """Requests per second with `concurrency` keep-alive connections (bounded count and time)."""
    ok, errors, elapsed, cpu = asyncio.run(
        _throughput(target, concurrency, max_requests, max_seconds)
    )
    return {
        f"rps{concurrency}": ok / elapsed,
        f"rps{concurrency}_err": errors,
        f"rps{concurrency}_cpu_ms": cpu,
    }


# ------------------------------------------------------------------ streams


def _content(response: Response) -> str:
    parts: list[str] = []
    for event in response.events:
        for line in event.splitlines():
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                continue
            try:
                obj = json.loads(data)
                for choice in obj.get("choices") or []:
                    parts.append((choice.get("delta") or {}).get("content") or "")
            except (ValueError, AttributeError, TypeError):
                parts.append("<bad json>")
    return "".join(parts)


def _data_events(response: Response) -> int:
    return sum(1 for e in response.events if e.startswith(b"data:") or b"\ndata:" in e)


@dataclass
class StreamCheck:
    """Events received against events sent, and whether the text arrived whole."""

    expected: int = 0
    received: int = 0
    text_bad: int = 0

    def add(self, response: Response, words: int) -> None:
        self.expected += words + 3
        self.received += _data_events(response)
        if _content(response) != answer_text(words):
            self.text_bad += 1

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)


def stream_timing(target: Target, words: int, count: int) -> dict[str, float]:
    """`count` sequential streams of `words` + 3 events: time to first event and total, ms."""
    request = target.request(stream_body(words))
    conn = SyncConnection(HOST, target.port)
    ttft: list[float] = []
    total: list[float] = []
    check = StreamCheck()
    try:
        conn.request(request, sse=True)  # warm
        for _ in range(count):
            start = time.perf_counter()
            response = conn.request(request, sse=True, keep_body=False)
            done = time.perf_counter()
            ttft.append((response.event_times[0] - start) * 1000)
            total.append((done - start) * 1000)
            check.add(response, words)
    finally:
        conn.close()
    target.completed += count + 1
    target.streams += count + 1
    return {
        "ttft": statistics.median(ttft),
        "stream_total": statistics.median(total),
        "stream_events": check.received / count,
        "stream_text_bad": check.text_bad,
    }


def gaps(target: Target, words: int, delay_ms: int, streams: int) -> dict[str, float]:
    """Streams paced at `delay_ms`, one at a time on a warm connection: how far the gaps
    between events at the client stray from the pacing, and the time to the first event.

    Unlike in a burst, nothing queues behind the first event here: that time is the delay a
    person sees with a real model. The gap before `[DONE]` is left out: Relayscope's usage
    capture hides a usage chunk sent just before it, so that gap is legitimately doubled.
    """
    request = target.request(stream_body(words, delay_ms))
    conn = SyncConnection(HOST, target.port)
    ttft: list[float] = []
    deviations: list[float] = []
    try:
        conn.request(target.request(SMALL_BODY))  # connect first
        for _ in range(streams):
            start = time.perf_counter()
            times = conn.request(request, sse=True, keep_body=False).event_times
            ttft.append((times[0] - start) * 1000)
            content = times[:-1]  # without [DONE]
            deviations += [abs((b - a) * 1000 - delay_ms) for a, b in itertools.pairwise(content)]
    finally:
        conn.close()
    target.completed += streams + 1
    target.streams += streams
    return {
        "ttft_paced": statistics.median(ttft),
        "gap_med_dev": statistics.median(deviations),
        "gap_p99_dev": pct(deviations, 99),
        "gap_max_dev": max(deviations),
    }


async def _concurrent_streams(
    target: Target, words: int, streams: int
) -> tuple[list[Response], float, float | None]:
    request = target.request(stream_body(words))
    conns = [AsyncConnection(HOST, target.port) for _ in range(streams)]
    await asyncio.gather(*(c.request(target.request(SMALL_BODY)) for c in conns))
    target.completed += streams
    before = target.cpu()
    start = time.perf_counter()
    responses = await asyncio.gather(
        *(c.request(request, sse=True, keep_body=False) for c in conns)
    )
    elapsed = time.perf_counter() - start
    for conn in conns:
        await conn.close()
    return list(responses), elapsed, before


def chunk_rate(target: Target, words: int, streams: int) -> dict[str, float]:
    """SSE events per second through `streams` concurrent streams; counts checked."""
    if streams == 1:
        conn = SyncConnection(HOST, target.port)
        try:
            conn.request(target.request(SMALL_BODY))  # connect first
            target.completed += 1
            before = target.cpu()
            start = time.perf_counter()
            responses = [
                conn.request(target.request(stream_body(words)), sse=True, keep_body=False)
            ]
            elapsed = time.perf_counter() - start
        finally:
            conn.close()
    else:
        responses, elapsed, before = asyncio.run(_concurrent_streams(target, words, streams))
    events = 0
    check = StreamCheck()
    for response in responses:
        events += len(response.events)
        check.add(response, words)
    target.completed += streams
    target.streams += streams
    return {
        f"cps{streams}": events / elapsed,
        f"cps{streams}_cpu_us": _cpu_per(target, before, events, 1e6),
        f"lost{streams}": check.lost,
        f"text_bad{streams}": check.text_bad,
    }


def soak(target: Target, total: int, max_seconds: float) -> int:
    """Top `target` up to `total` answered calls (concurrency 16); returns the count reached."""
    missing = total - target.completed
    if missing > 0:
        ok, errors, _, _ = asyncio.run(_throughput(target, 16, missing, max_seconds))
        del ok, errors
    return target.completed
