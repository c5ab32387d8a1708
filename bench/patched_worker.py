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
    apply(spec)
    from relayscope.cli.main import main as relayscope

    return relayscope(rest)


if __name__ == "__main__":
    sys.exit(main())
