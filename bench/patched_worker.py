"""The real `relayscope proxy`, with an experimental patch applied first.

    python -m bench.patched_worker nowriter -- proxy --port 8787 ...

Used by `bench.run_all --variants nowriter` to measure a change side by side with the
shipped code in the same interleaved run, without touching the source tree. The proposals
F1-F6 of docs/benchmarks.md ("Where the time goes") are all in the code now; what is left
here decomposes the shipped worker:

- ``nowriter``: the hooks run, but nothing reaches the recording process (what recording
  costs the proxy process beyond its hooks: the op tuples, the flusher, the child).
- ``nocapture`` is not a code patch: `bench.run_all` writes ``capture_usage = false`` in the
  provider's config for it (the usage rewrite of each chunk is then skipped).

Write a new variant as a ``patch_<name>()`` function; join names with ``+`` to combine.
"""

from __future__ import annotations

import sys
from typing import Any

CONFIG_ONLY = {"nocapture"}


def patch_nowriter() -> None:
    from relayscope.recording import process as recording_process

    def nothing(self: Any, *args: Any) -> None:
        return None

    for name in ("start", "chunk", "raw", "update", "finish"):
        setattr(recording_process.RecordingProcess, name, nothing)


def _after_start(action: Any) -> None:
    """Run `action()` on the worker's loop half a second after it starts serving."""
    import asyncio

    from relayscope.proxy import worker

    serve = worker._serve

    async def patched(*args: Any, **kwargs: Any) -> int:
        asyncio.get_running_loop().call_later(0.5, action)
        return await serve(*args, **kwargs)

    worker._serve = patched


def patch_gcfreeze() -> None:
    """Start-up objects out of the collector's sight once serving (`gc.freeze`)."""
    import gc

    _after_start(gc.freeze)


def patch_gc5k() -> None:
    """Young collections every 5,000 net allocations instead of 700."""
    import gc

    gc.set_threshold(5000, 10, 10)


def patch_gc20k() -> None:
    """Young collections every 20,000 net allocations instead of 700."""
    import gc

    gc.set_threshold(20000, 10, 10)


def patch_nogc() -> None:
    """No cyclic garbage collection at all once serving (a diagnosis, never a fix)."""
    import gc

    _after_start(gc.disable)


def patch_none() -> None:
    """No change: the shipped worker, started through this module (a control)."""


def patch_plaindispatch() -> None:
    """mitmproxy's own hook dispatch (no `hook_dispatch.cache_dispatch`)."""
    from relayscope.proxy import hook_dispatch

    def nothing(manager: Any) -> None:
        return None

    hook_dispatch.cache_dispatch = nothing


def patch_childnice() -> None:
    """The recording process at a lower CPU priority (`nice -n 10`)."""
    from relayscope.recording import process as recording_process

    command = recording_process.child_command

    def niced(*args: Any, **kwargs: Any) -> list[str]:
        return ["nice", "-n", "10", *command(*args, **kwargs)]

    recording_process.child_command = niced


def patch_profile() -> None:
    """cProfile the worker's main thread from start to exit, written to PROFILE_OUT."""
    import atexit
    import cProfile
    import os
    import time

    profiler = cProfile.Profile(time.thread_time)  # CPU: a busy machine must not count
    profiler.enable()

    def dump() -> None:
        profiler.disable()
        profiler.dump_stats(os.environ["PROFILE_OUT"])

    atexit.register(dump)


def patch_tailprobe() -> None:
    """Log, with `time.perf_counter()` (CLOCK_MONOTONIC: comparable across processes on
    Linux), every garbage collection and every batch-window tick of the worker to the file
    named by TAILPROBE_OUT, so a client can tell what overlapped its slowest requests
    (`bench/tail_probe.py`)."""
    import atexit
    import gc
    import os
    import time

    from relayscope.recording import process as recording_process

    events: list[tuple[str, float, float]] = []
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            events.append((f"gc{info['generation']}", started[0], time.perf_counter()))

    gc.callbacks.append(on_gc)
    tick = recording_process.RecordingProcess._tick

    def timed_tick(self: Any) -> None:
        begin = time.perf_counter()
        tick(self)
        events.append(("tick", begin, time.perf_counter()))

    recording_process.RecordingProcess._tick = timed_tick  # type: ignore[method-assign]

    def dump() -> None:
        with open(os.environ["TAILPROBE_OUT"], "w") as out:
            for name, begin, end in events:
                out.write(f"{name} {begin:.6f} {end:.6f}\n")

    atexit.register(dump)


def patch_memprobe() -> None:
    """On SIGUSR1, write what the worker holds to MEMPROBE_OUT/<n>.pickle (n counts from 1):
    after a full collection, the live objects the collector tracks counted by type; what the
    two allocators hold (pymalloc's arenas and blocks, `sys._debugmallocstats`; glibc's heap,
    `mallinfo2`); the largest backlog of frames for the recording process since the last
    dump; and, with MEMPROBE_FRAMES=N set, a `tracemalloc` snapshot of what was allocated
    since serving began (N frames a traceback; tracing slows the worker several times over).
    The recording process runs through `main`'s RECORD_PROBE and writes the same (no
    backlog, no tracemalloc) to MEMPROBE_OUT/child-<n>.pickle on its own SIGUSR1.
    `bench/worker_memory.py --probe` signals both between phases and diffs the files."""
    import asyncio
    import os
    import signal
    import tracemalloc

    from relayscope.recording import process as recording_process

    frames = int(os.environ.get("MEMPROBE_FRAMES", "0"))
    backlog = [0]
    queue_frame = recording_process.RecordingProcess._queue_frame

    def measured_queue_frame(self: Any) -> None:
        queue_frame(self)
        backlog[0] = max(backlog[0], self.queued_bytes + self._backlog.size())

    recording_process.RecordingProcess._queue_frame = measured_queue_frame  # type: ignore[method-assign]
    child_command = recording_process.child_command

    def probed_child(*args: Any, **kwargs: Any) -> list[str]:
        command = child_command(*args, **kwargs)
        return [sys.executable, "-m", "bench.patched_worker", RECORD_PROBE, "--", *command[3:]]

    recording_process.child_command = probed_child

    def extra() -> dict[str, object]:
        taken, backlog[0] = backlog[0], 0
        return {
            "backlog": taken,
            "snapshot": tracemalloc.take_snapshot() if frames else None,
        }

    dump = _dumper("", extra)

    def install() -> None:
        if frames:  # from here on: tracing the start-up too would take minutes
            tracemalloc.start(frames)
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)

    _after_start(install)


#: `main`'s spec for the recording process of a `memprobe` worker.
RECORD_PROBE = "_record_memprobe"


def _dumper(prefix: str, extra: Any) -> Any:
    """A function that writes MEMPROBE_OUT/<prefix><n>.pickle: objects by type, allocators,
    and `extra()`'s entries."""
    import collections
    import gc
    import os
    import pickle
    from pathlib import Path

    out = Path(os.environ["MEMPROBE_OUT"])
    dumps = [0]

    def dump() -> None:
        gc.collect()
        counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        dumps[0] += 1
        part = out / f"{prefix}{dumps[0]}.part"
        scratch = out / f"{prefix}mallocstats.txt"
        with part.open("wb") as f:
            pickle.dump(
                {
                    "types": dict(counts),
                    "pymalloc": _pymalloc_stats(scratch),
                    "glibc": _mallinfo(),
                    **extra(),
                },
                f,
            )
        part.rename(out / f"{prefix}{dumps[0]}.pickle")

    return dump


def _record_probe(argv: list[str]) -> int:
    """The recording process (`relayscope.recording.child`), dumping on SIGUSR1."""
    import signal

    from relayscope.recording.child import child_main

    dump = _dumper("child-", lambda: {"backlog": 0, "snapshot": None})
    signal.signal(signal.SIGUSR1, lambda *_: dump())
    return child_main(argv)


def _pymalloc_stats(scratch: Any) -> dict[str, int]:
    """The `# name = value` lines of `sys._debugmallocstats()` (it writes to C's stderr)."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(scratch, "w") as f:
            os.dup2(f.fileno(), 2)
            sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    stats = {}
    with open(scratch) as f:
        lines = f.readlines()
    for line in lines:
        if line.startswith("# ") and "=" in line:
            name, _, value = line[2:].partition("=")
            stats[name.strip()] = int(value.strip().replace(",", ""))
    return stats


def _mallinfo() -> dict[str, int]:
    """glibc's `mallinfo2()`: `arena` bytes of heap from the system, `uordblks` in use,
    `fordblks` free but kept, `hblkhd` in mmapped blocks; {} where there is none."""
    import ctypes

    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in names.split()]

    try:
        function = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return {}
    function.restype = MallInfo2
    info = function()
    return {name: int(getattr(info, name)) for name in names.split()}


def apply(spec: str) -> None:
    for name in spec.split("+"):
        if name in CONFIG_ONLY:
            continue
        patch = globals().get(f"patch_{name}")
        if patch is None:
            raise SystemExit(f"unknown variant {name!r}; see bench/patched_worker.py")
        patch()


def main() -> int:
    spec, sep, *rest = sys.argv[1:]
    if sep != "--":
        raise SystemExit("usage: python -m bench.patched_worker SPEC -- proxy ARGS...")
    if spec == RECORD_PROBE:
        return _record_probe(rest)
    apply(spec)
    from relayscope.cli.main import main as relayscope

    return relayscope(rest)


if __name__ == "__main__":
    sys.exit(main())
