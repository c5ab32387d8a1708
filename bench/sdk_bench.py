"""The official OpenAI SDK as the client, and the latency tail, side by side in one run.

    .venv/bin/python -m bench.sdk_bench --quick           # about a minute
    .venv/bin/python -m bench.sdk_bench                   # 5 rounds
    .venv/bin/python -m bench.sdk_bench --base 6c46563    # + the worker of an older commit

`bench/rawhttp.py` costs the load generator almost nothing per chunk; a real client does not.
Here the client is the `openai` SDK (`chat.completions.create(stream=True)`, every chunk
parsed into its pydantic model, as an application reads it), on the same two cores as the
proxy under test, so a proxy that leaves the client less CPU shows it. Paths: direct,
Relayscope (recording on, this tree), bare `mitmdump` (streaming on) and the lean mitmproxy
floor (`bench/lean_mitm.py`), as in `bench.run_all`; `--base REV` adds Relayscope at another
commit (its `app/` and `proxy_addons/` unpacked from git) to compare a change side by side.

Each round, in a rotating order of paths, measures:

- ``lat``: sequential small non-stream requests with `bench/rawhttp.py` (p50 / p99, and the
  p99 added over direct in the same round): the tail the recording process could cause;
- ``sdk``: one SDK stream of `--words` chunks, chunks/s as the SDK yields them (text and
  count checked), and the SDK's own time to the first chunk over a few short streams.

Figures are medians over rounds; "added" figures are medians of per-round differences to
direct, ratios are medians of per-round ratios. Nothing is written to docs/benchmarks.md:
copy the printed table there by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import measure
from bench.procs import ROOT, Proc, Upstream, cpu_seconds, free_port, loadavg
from bench.upstream import answer_text

PATHS = ("direct", "relayscope", "mitmdump", "mitm-lean")


def sdk_client(port: int, *, prefix: str = "/v1") -> Any:
    """An SDK client on its own keep-alive connection pool (no retries: a failure shows)."""
    import openai

    return openai.OpenAI(
        base_url=f"http://127.0.0.1:{port}{prefix}",
        api_key="sk-bench-client",
        max_retries=0,
        timeout=120,
    )


def sdk_stream(client: Any, words: int) -> dict[str, float]:
    """One streamed chat completion of `words` words read through the SDK: chunks/s, the
    time to the first chunk, and whether every chunk and word arrived."""
    start = time.perf_counter()
    first = None
    chunks = 0
    parts: list[str] = []
    stream = client.chat.completions.create(
        model=f"fake-w{words}",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
    )
    for chunk in stream:
        if first is None:
            first = time.perf_counter()
        chunks += 1
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    elapsed = time.perf_counter() - start
    expected = words + 2  # role, N words, finish (the SDK consumes [DONE] itself)
    return {
        "chunks": chunks,
        "cps": chunks / elapsed,
        "first_ms": ((first or time.perf_counter()) - start) * 1000,
        "lost": max(0, expected - chunks),
        "text_bad": int("".join(parts).strip() != answer_text(words)),
    }


def sdk_round(client: Any, words: int, short_streams: int) -> dict[str, float]:
    long = sdk_stream(client, words)
    firsts = [sdk_stream(client, 20)["first_ms"] for _ in range(short_streams)]
    return {
        "sdk_cps": long["cps"],
        "sdk_first_ms": statistics.median(firsts),
        "sdk_lost": long["lost"],
        "sdk_text_bad": long["text_bad"],
    }


def base_tree(tmp: Path, rev: str) -> Path:
    """`app/` and `proxy_addons/` at `rev`, unpacked from git (`proxy` runs its worker from there:
    the `relayscope` layout through PYTHONPATH, or, before it, `python -m app` from that cwd)."""
    archive = subprocess.run(
        ["git", "archive", rev, "app", "proxy_addons"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    target = tmp / f"base-{rev}"
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def proxy(name: str, tmp: Path, upstream: int, code: Path = ROOT) -> Proc:
    port = free_port()
    up = f"http://127.0.0.1:{upstream}"
    log = tmp / f"{name}.log"
    if name.startswith("relayscope"):
        config = tmp / f"{name}.toml"
        config.write_text(
            f'[[providers]]\nname = "bench"\nbase_url = "{up}/v1"\n'
            'api_key = "sk-bench-upstream"\ndefault = true\n'
        )
        spec = name.partition("+")[2]
        # This tree and later ones: one `relayscope` namespace over app/ and proxy_addons/;
        # a revision before it ran as `python -m app` from its own folder.
        layout = (code / "app" / "relayscope").is_dir()
        env = {"XDG_DATA_HOME": str(tmp / "xdg")}
        if layout:
            env["PYTHONPATH"] = os.pathsep.join([str(code / "app"), str(code / "proxy_addons")])
        module = "relayscope" if layout else "app"
        command = ["bench.patched_worker", spec, "--"] if spec else [module]
        argv = [
            sys.executable,
            "-m",
            *command,
            "proxy",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(tmp / f"{name}.db"),
            "--config",
            str(config),
            "--quiet",
        ]
        return Proc(name, argv, port, env, log, cwd=code)
    if name == "mitmdump":
        argv = [
            str(Path(sys.executable).parent / "mitmdump"),
            *("--mode", f"reverse:{up}", "--listen-host", "127.0.0.1"),
            *("--listen-port", str(port), "-q", "--set", "stream_large_bodies=1"),
            *("--set", f"confdir={tmp / 'mitmdump-conf'}"),
        ]
        return Proc(name, argv, port, {}, log)
    if name == "mitm-lean":
        argv = [sys.executable, "-m", "bench.lean_mitm", "--upstream", up]
        argv += ["--port", str(port), "--confdir", str(tmp / "lean-conf")]
        return Proc(name, argv, port, {}, log)
    raise ValueError(name)


@contextlib.contextmanager
def started(procs: list[Proc]) -> Iterator[None]:
    try:
        for proc in procs:
            proc.start()
        yield
    finally:
        for proc in procs:
            proc.stop()


def run(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    values: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="relayscope-sdk-bench-") as name, Upstream() as up:
        tmp = Path(name)
        names = [p for p in PATHS[1:] if p in args.paths]
        names[1:1] = [f"relayscope+{spec}" for spec in args.variants]
        procs = {n: proxy(n, tmp, up.port) for n in names}
        if args.base:
            procs[f"relayscope@{args.base}"] = proxy(
                f"relayscope@{args.base}", tmp, up.port, base_tree(tmp, args.base)
            )
        ports = {"direct": up.port} | {n: p.port for n, p in procs.items()}
        with started(list(procs.values())):
            clients = {n: sdk_client(port) for n, port in ports.items()}
            for client in clients.values():
                sdk_stream(client, 20)  # connect, warm the pools and the SDK's caches
            order = list(ports)
            for round_no in range(args.rounds):
                began = time.monotonic()
                for test in ("lat",) if args.no_sdk else ("lat", "sdk"):
                    shift = round_no % len(order)
                    for name in order[shift:] + order[:shift]:
                        target = measure.Target(name, ports[name], procs.get(name))
                        cpu0 = cpu_seconds(procs[name].pid) if name in procs else None
                        if test == "lat":
                            result = measure.latency(target, args.requests, args.requests // 10)
                        else:
                            result = sdk_round(clients[name], args.words, args.short_streams)
                            if cpu0 is not None:
                                cpu = cpu_seconds(procs[name].pid) - cpu0
                                result["sdk_proxy_cpu_us"] = cpu * 1e6 / (args.words + 3)
                        for key, value in result.items():
                            values.setdefault(key, {}).setdefault(name, []).append(value)
                print(f"  round {round_no + 1}/{args.rounds}: {time.monotonic() - began:.0f} s")
    return values


def _per_round(values: list[float], base: list[float], op: str) -> float:
    pairs = zip(values, base, strict=False)
    diffs = [v - b if op == "-" else v / b for v, b in pairs]
    return statistics.median(diffs) if diffs else float("nan")


def render(values: dict[str, dict[str, list[float]]]) -> str:
    names = list(values["lat_p50"])
    rows = [
        ("latency p50, small non-stream (ms)", "lat_p50", "{:.2f}"),
        ("latency p99 (ms)", "lat_p99", "{:.2f}"),
        (
            "proxy CPU per request, sequential (ms; recording process included)",
            "lat_cpu_ms",
            "{:.2f}",
        ),
        ("SDK stream: chunks/s", "sdk_cps", "{:,.0f}"),
        ("SDK stream: first chunk (ms)", "sdk_first_ms", "{:.2f}"),
        ("proxy CPU per chunk during the SDK stream (µs)", "sdk_proxy_cpu_us", "{:.1f}"),
    ]
    head = "| figure (median of rounds) | " + " | ".join(names) + " |"
    lines = [head, "|---|" + "---:|" * len(names)]
    for title, key, fmt in rows:
        cells = []
        for n in names:
            vals = values.get(key, {}).get(n)
            cells.append(fmt.format(statistics.median(vals)) if vals else "")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
        if key in ("lat_p50", "lat_p99"):
            direct = values[key]["direct"]
            added = [
                f"+{_per_round(values[key][n], direct, '-'):.2f}" if n != "direct" else ""
                for n in names
            ]
            lines.append(f"| ↳ added over direct, {key[4:]} (ms) | " + " | ".join(added) + " |")
    if "sdk_cps" not in values:  # --no-sdk
        return "\n".join(lines)
    lost = {n: int(sum(values["sdk_lost"][n])) for n in names}
    bad = {n: int(sum(values["sdk_text_bad"][n])) for n in names}
    lines.append(
        "| SDK stream: chunks lost / wrong text (all rounds) | "
        + " | ".join(f"{lost[n]} / {bad[n]}" for n in names)
        + " |"
    )
    out = ["\n".join(lines), ""]
    cps = values["sdk_cps"]
    for proxy_name in [n for n in names if n.startswith("relayscope")]:
        for floor in ("mitmdump", "mitm-lean"):
            if floor in cps:
                ratio = _per_round(cps[proxy_name], cps[floor], "/")
                out.append(f"{proxy_name} / {floor}, SDK chunks/s: {ratio:.2f}×")
        if "mitm-lean" in values["lat_p99"]:
            p99 = values["lat_p99"]
            extra = _per_round(p99[proxy_name], p99["mitm-lean"], "-")
            out.append(f"{proxy_name} p99 over the lean floor's: {extra:+.2f} ms")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, shorter (~1 min)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--requests", type=int, help="sequential requests per latency round")
    parser.add_argument("--words", type=int, help="chunks of the SDK stream")
    parser.add_argument("--short-streams", type=int, default=5)
    parser.add_argument("--no-sdk", action="store_true", help="latency only")
    parser.add_argument("--paths", default=",".join(PATHS[1:]))
    parser.add_argument("--base", help="also run Relayscope at this git revision")
    parser.add_argument(
        "--variants",
        default="",
        help="Relayscope with bench/patched_worker.py patches, e.g. nowriter",
    )
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    args.paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.requests = args.requests or (300 if args.quick else 1000)
    args.words = args.words or (3_000 if args.quick else 10_000)
    load0 = loadavg()
    began = time.monotonic()
    values = run(args)
    load1 = loadavg()
    print(
        f"\n{args.rounds} rounds, {args.requests} sequential requests, one SDK stream of "
        f"{args.words} chunks + {args.short_streams} short ones per round and path; "
        f"load {load0} → {load1}; {time.monotonic() - began:.0f} s\n"
    )
    print(render(values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
