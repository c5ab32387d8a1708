"""Relayscope side by side with direct calls, bare mitmproxy and LiteLLM, in one run.

    .venv/bin/python -m bench.run_all --quick     # about 2 minutes (+ LiteLLM's first install)
    .venv/bin/python -m bench.run_all             # full: about 10-15 minutes

Every path talks to the same fake OpenAI-format upstream (`bench/upstream.py`, its own
process) on loopback; the load generator is this process, each proxy is its own process.
Rounds interleave the paths test by test, in a rotating order, so that noise from other work
on the machine hits every path alike; figures are medians over rounds. Results go to
docs/benchmarks.md (between the generated-results markers) unless --no-write.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import measure
from bench.litellm_env import ENV as LITELLM_ENV
from bench.litellm_env import cache_dir, config_yaml, ensure_litellm
from bench.measure import Target
from bench.procs import ROOT, Proc, Upstream, free_port, loadavg, rss_mib
from bench.report import Run, render, write_doc
from bench.upstream import stream_events

USAGE_CHUNK = 1
PATHS = ("direct", "relayscope", "mitmdump", "mitm-lean", "litellm")


@dataclass(frozen=True)
class Mode:
    name: str
    rounds: int
    lat_n: int
    lat_warmup: int
    rps_max: int
    rps_seconds: float
    ttft_streams: int
    gap_streams: int
    gap_words: int
    words1: int
    words16: int
    words64: int
    soak_calls: int
    soak_seconds: float  # per proxy; LiteLLM needs ~150 s for 10,000 calls
    startup_extra: int  # restarts per proxy (LiteLLM: none, it takes seconds)
    litellm_scale: float  # LiteLLM streams are this much shorter (it passes ~1k chunks/s)


QUICK = Mode("quick", 2, 200, 20, 1500, 1.0, 5, 1, 20, 10_000, 1_000, 300, 2_000, 8, 1, 0.15)
FULL = Mode("full", 5, 500, 50, 4000, 4.0, 10, 2, 20, 20_000, 2_000, 500, 10_000, 180, 3, 0.15)


def machine() -> dict[str, str]:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    from mitmproxy.version import VERSION

    return {
        "code": _git_state(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "mitmproxy": VERSION,
        "kernel": platform.release(),
        "loadavg_start": loadavg(),
    }


def _git_state() -> str:
    """The commit measured, and whether the working tree differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "?"
    return f"{head or '?'}{' + uncommitted changes' if dirty else ''}"


def models_used(mode: Mode) -> list[str]:
    words = {197, mode.words1, mode.words16, mode.words64}
    words |= {max(10, round(w * mode.litellm_scale)) for w in words if w != 197}
    return ["fake-1", f"fake-w{mode.gap_words}-d50", *(f"fake-w{w}" for w in sorted(words))]


class Bench:
    def __init__(self, mode: Mode, tmp: Path, upstream_port: int, args: argparse.Namespace):
        self.mode = mode
        self.tmp = tmp
        self.up = upstream_port
        self.args = args
        self.targets: dict[str, Target] = {}
        self.values: dict[str, dict[str, list[float]]] = {}
        self.notes: list[str] = []
        self.startup: dict[str, list[float]] = {}
        self.rss: dict[str, dict[str, float]] = {}
        self.extra: dict[str, object] = {}

    # -------------------------------------------------------------- proxies

    def proc(self, name: str, tag: str = "") -> Proc:
        port = free_port()
        up = f"http://127.0.0.1:{self.up}"
        log = self.tmp / f"{name}{tag}.log"
        if name.startswith("relayscope"):
            spec = name.partition("+")[2]
            capture = "" if "nocapture" not in spec.split("+") else "capture_usage = false\n"
            config = self.tmp / f"{name}.toml"
            config.write_text(
                f'[[providers]]\nname = "bench"\nbase_url = "{up}/v1"\n'
                f'api_key = "sk-bench-upstream"\ndefault = true\n{capture}'
            )
            args = [
                "proxy",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--db",
                str(self.tmp / f"{name}{tag}.db"),
                "--config",
                str(config),
                "--quiet",
            ]
            if spec:
                argv = [sys.executable, "-m", "bench.patched_worker", spec, "--", *args]
            else:
                argv = [sys.executable, "-m", "relayscope", *args]
            # The worker keeps mitmproxy's CA in the platform data dir: a throwaway one here.
            env = {"XDG_DATA_HOME": str(self.tmp / "xdg")}
            return Proc(name, argv, port, env, log)
        if name == "mitmdump":
            argv = [
                str(Path(sys.executable).parent / "mitmdump"),
                "--mode",
                f"reverse:{up}",
                "--listen-host",
                "127.0.0.1",
                "--listen-port",
                str(port),
                "-q",
                "--set",
                "stream_large_bodies=1",
                "--set",
                f"confdir={self.tmp / 'mitmdump-conf'}",
            ]
            return Proc(name, argv, port, {}, log)
        if name == "mitm-lean":
            argv = [
                sys.executable,
                "-m",
                "bench.lean_mitm",
                "--upstream",
                up,
                "--port",
                str(port),
                "--confdir",
                str(self.tmp / "lean-conf"),
            ]
            return Proc(name, argv, port, {}, log)
        if name == "litellm":
            exe = self.extra["litellm_exe"]
            config = self.tmp / "litellm.yaml"
            config.write_text(config_yaml(self.up, models_used(self.mode)))
            argv = [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
            return Proc(name, argv, port, dict(LITELLM_ENV), log)
        raise ValueError(name)

    def start_all(self) -> None:
        self.targets["direct"] = Target("direct", self.up)
        wanted = [p for p in PATHS[1:] if p in self.args.paths]
        wanted[1:1] = [f"relayscope+{spec}" for spec in self.args.variants]
        if "litellm" in wanted:
            exe, why = ensure_litellm(cache_dir() / "litellm-install.log")
            if exe is None:
                print(f"LiteLLM skipped: {why}", flush=True)
                self.notes.append(f"LiteLLM skipped: {why}.")
                wanted.remove("litellm")
            else:
                self.extra["litellm_exe"] = exe
                self.extra["litellm_version"] = why
        for name in wanted:
            proc = self.proc(name)
            timeout = 180.0 if name == "litellm" else 60.0
            try:
                proc.start(timeout)
            except RuntimeError as exc:
                print(f"{name} skipped: {exc}", flush=True)
                self.notes.append(f"{name} skipped: it did not start ({str(exc)[:200]}).")
                continue
            time.sleep(1.0)  # settle, then idle memory
            scale = self.mode.litellm_scale if name == "litellm" else 1.0
            target = Target(name, proc.port, proc, stream_scale=scale)
            target.completed = 1  # the readiness request
            self.targets[name] = target
            self.startup[name] = [proc.startup_s]
            self.rss[name] = {"idle": rss_mib(proc.pid)}
            print(f"  {name}: answered {proc.startup_s:.2f} s after spawn", flush=True)

    def stop_all(self) -> None:
        for name, target in self.targets.items():
            if target.proc is not None:
                code = target.proc.stop()
                if name == "relayscope" and code != 0:
                    self.notes.append(f"Relayscope exited with status {code} on SIGTERM.")

    # -------------------------------------------------------------- rounds

    def record(self, name: str, result: dict[str, float]) -> None:
        for key, value in result.items():
            self.values.setdefault(key, {}).setdefault(name, []).append(float(value))

    def rounds(self) -> None:
        m = self.mode
        tests: list[tuple[str, Callable[[Target], dict[str, float]]]] = [
            ("latency", lambda t: measure.latency(t, m.lat_n, m.lat_warmup)),
            ("rps16", lambda t: measure.throughput(t, 16, m.rps_max, m.rps_seconds)),
            ("rps64", lambda t: measure.throughput(t, 64, m.rps_max, m.rps_seconds)),
            ("ttft", lambda t: measure.stream_timing(t, 197, m.ttft_streams)),
            ("gaps", lambda t: measure.gaps(t, m.gap_words, 50, m.gap_streams)),
            ("cps1", lambda t: measure.chunk_rate(t, t.words(m.words1), 1)),
            ("cps16", lambda t: measure.chunk_rate(t, t.words(m.words16), 16)),
            ("cps64", lambda t: measure.chunk_rate(t, t.words(m.words64), 64)),
        ]
        names = list(self.targets)
        for round_no in range(m.rounds):
            started = time.monotonic()
            for test_no, (test, run) in enumerate(tests):
                shift = (round_no + test_no) % len(names)
                order = names[shift:] + names[:shift]
                for name in order:
                    try:
                        self.record(name, run(self.targets[name]))
                    except (OSError, ConnectionError, ValueError, IndexError) as exc:
                        self.notes.append(f"round {round_no + 1} {test} {name}: {exc!r}")
                        print(f"  {test} {name} failed: {exc!r}", flush=True)
            took = time.monotonic() - started
            print(f"  round {round_no + 1}/{m.rounds} done in {took:.0f} s", flush=True)

    # -------------------------------------------------------------- after the rounds

    def check_recording(self) -> None:
        """Each Relayscope's database against what the client received."""
        checks: dict[str, dict[str, int]] = {}
        for name, target in self.targets.items():
            if name.startswith("relayscope"):
                usage_chunk = 0 if "nocapture" in name.split("+") else USAGE_CHUNK
                checks[name] = _check_db(self.tmp / f"{name}.db", target, usage_chunk)
        self.extra["db"] = checks

    def soak(self) -> None:
        for name, target in self.targets.items():
            if target.proc is None:
                continue
            reached = measure.soak(target, self.mode.soak_calls, self.mode.soak_seconds)
            self.rss[name]["after"] = rss_mib(target.proc.pid)
            self.rss[name]["calls"] = reached
            print(f"  {name}: {reached} calls, RSS {self.rss[name]['after']:.0f} MiB", flush=True)

    def restarts(self) -> None:
        names = [n for n in self.targets if n not in ("direct", "litellm")]
        for i in range(self.mode.startup_extra):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                proc = self.proc(name, tag=f"-restart{i}")
                try:
                    proc.start()
                    self.startup[name].append(proc.startup_s)
                except RuntimeError as exc:
                    self.notes.append(f"{name} restart failed: {exc}")
                finally:
                    proc.stop()


def _check_db(db: Path, target: Target, usage_chunk: int) -> dict[str, int]:
    deadline = time.monotonic() + 15
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        while time.monotonic() < deadline:
            live = conn.execute(
                "SELECT count(*) FROM calls WHERE state IN ('pending', 'streaming')"
            ).fetchone()[0]
            if not live:
                break
            time.sleep(0.1)
        calls = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
        # A finished stream's chunks are one pack (schema m015), a live one's are rows.
        has_packs = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'chunk_packs'"
        ).fetchone()
        packed = (
            " + coalesce((SELECT p.count FROM chunk_packs p WHERE p.call_id = c.id), 0)"
            if has_packs
            else ""
        )
        rows = conn.execute(
            "SELECT c.model, c.chunk_count, c.state,"
            f" (SELECT count(*) FROM chunks k WHERE k.call_id = c.id){packed}"
            " FROM calls c WHERE c.stream = 1"
        ).fetchall()
    bad = recorded_chunks = expected_chunks = 0
    for model, chunk_count, state, chunk_rows in rows:
        expected = stream_events(model or "")
        recorded_chunks += chunk_rows
        if expected is None:
            continue
        # Usage capture (on by default) asks the provider for usage: the recording has the
        # usage chunk that the client, which did not ask for usage, never sees.
        expected += usage_chunk
        expected_chunks += expected
        if chunk_count != expected or chunk_rows != expected or state != "complete":
            bad += 1
    return {
        "calls_recorded": calls,
        "calls_answered": target.completed,
        "streams_recorded": len(rows),
        "streams_answered": target.streams,
        "chunks_recorded": recorded_chunks,
        "chunks_expected": expected_chunks,
        "streams_with_wrong_chunk_count": bad,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests (~2 min)")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument(
        "--paths",
        default=",".join(PATHS[1:]),
        help=f"proxies to compare with direct (default: all of {', '.join(PATHS[1:])})",
    )
    parser.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out")
    parser.add_argument(
        "--variants",
        default="",
        help="extra Relayscope paths with experimental patches, e.g. nowriter,nocapture"
        " (see bench/patched_worker.py)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update the docs page")
    parser.add_argument(
        "--doc", type=Path, default=ROOT / "docs" / "benchmarks.md", help="page to update"
    )
    parser.add_argument("--json", type=Path, help="also write the raw per-round figures here")
    args = parser.parse_args(argv)
    args.paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if args.no_litellm and "litellm" in args.paths:
        args.paths.remove("litellm")
    mode = QUICK if args.quick else FULL
    if args.rounds:
        mode = Mode(**{**asdict(mode), "rounds": args.rounds})
    command = ".venv/bin/python -m bench.run_all" + (
        " " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""
    )
    info = machine()
    print(f"{mode.name} run on {info['nproc']} x {info['cpu']}, load {info['loadavg_start']}")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="relayscope-bench-") as tmp_name, Upstream() as up:
        bench = Bench(mode, Path(tmp_name), up.port, args)
        try:
            for title, phase in (
                ("starting proxies", bench.start_all),
                ("interleaved rounds", bench.rounds),
                ("checking Relayscope's recording", bench.check_recording),
                ("soak (memory after many calls)", bench.soak),
                ("restarts (startup time)", bench.restarts),
            ):
                phase_start = time.monotonic()
                print(title, flush=True)
                phase()
                print(f"  ({time.monotonic() - phase_start:.0f} s)", flush=True)
        finally:
            bench.stop_all()
    info["loadavg_end"] = loadavg()
    run = Run(
        mode=mode.name,
        command=command,
        machine=info,
        rounds=mode.rounds,
        params=asdict(mode),
        values=bench.values,
        startup=bench.startup,
        rss=bench.rss,
        extra={k: v for k, v in bench.extra.items() if k != "litellm_exe"},
        notes=bench.notes,
        duration_s=time.monotonic() - began,
    )
    if args.json:
        args.json.write_text(json.dumps(asdict(run), indent=1, default=str))
    text = render(run)
    print(text)
    if not args.no_write:
        write_doc(args.doc, text)
        print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
