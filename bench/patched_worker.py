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
