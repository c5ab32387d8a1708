"""Exports of recorded calls: which calls, in what order, streamed with progress and cancel.

The formats live in their own modules (`har`, `jsonl_export`, `finetune_export`; `otlp`
sends instead of writing), registered in `WRITERS`; what they share with this module (the
`RecordedCall` they are given, the `ExportResult` they fill in) is in `records`, so the
imports go one way. Every writer takes an iterable of `RecordedCall`s that this module
reads one at a time, so exporting 100,000 calls never holds more than one call in memory.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from relayscope.analysis.cost import Pricer
from relayscope.calls.record import CallRecord
from relayscope.exchange.finetune_export import write_finetune
from relayscope.exchange.har import write_har
from relayscope.exchange.jsonl_export import write_jsonl
from relayscope.exchange.records import (
    ExportResult,
    RecordedCall,
    Writer,
    as_bytes,
    as_text,
    joined_body,
)
from relayscope.store.call_store import CallFilter, CallStore

__all__ = [
    "FILE_FORMATS",
    "ExportCancelled",
    "ExportResult",
    "ProgressCallback",
    "RecordedCall",
    "Selection",
    "as_bytes",
    "as_text",
    "count_selected",
    "export_calls",
    "export_to_path",
    "iter_selected",
    "joined_body",
    "recorded_calls",
]

#: The formats written to a file (or standard output), each a function of the pricer that
#: returns its writer. OTLP is sent to a collector instead (`otlp`).
WRITERS: dict[str, Callable[[Pricer | None], Writer]] = {
    "har": lambda pricer: functools.partial(write_har, pricer=pricer),
    "jsonl": lambda pricer: functools.partial(write_jsonl, pricer=pricer),
    "finetune": lambda _pricer: write_finetune,
}
FILE_FORMATS = tuple(WRITERS)

ProgressCallback = Callable[[int, int], None]
"""`on_progress(done, total)`: called on the exporting thread, at most ~1,000 times."""

_ID_BATCH = 500  # ids per `IN (...)` query: well under SQLite's variable limit


class ExportCancelled(Exception):
    """The `cancel` event was set; nothing was written (files are removed)."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which calls to export: these ids, or every call the filter matches. Oldest first."""

    ids: tuple[str, ...] | None = None
    filter: CallFilter = field(default_factory=CallFilter)


# --- choosing and reading calls ------------------------------------------------------------


def count_selected(store: CallStore, selection: Selection) -> int:
    if selection.ids is None:
        return store.count_calls(selection.filter)
    return len(set(selection.ids))


def iter_selected(store: CallStore, selection: Selection) -> Iterator[CallRecord]:
    """Rows of the selected calls, oldest first, read lazily from the database."""
    if selection.ids is None:
        yield from store.iter_calls_matching(selection.filter)
    else:
        yield from store.iter_calls_by_id(selection.ids, _ID_BATCH)


def recorded_calls(
    store: CallStore,
    selection: Selection,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    result: ExportResult | None = None,
) -> Iterator[RecordedCall]:
    """Each selected call with its chunks; reports progress, raises ExportCancelled."""
    total = count_selected(store, selection)
    if result is not None:
        result.total = total
    step = max(1, total // 1000)
    done = 0
    if on_progress:
        on_progress(0, total)
    for call in iter_selected(store, selection):
        if cancel is not None and cancel.is_set():
            raise ExportCancelled
        yield RecordedCall(call, store.chunks(call["id"]))
        done += 1
        if on_progress and (done % step == 0 or done == total):
            on_progress(done, total)
    if result is not None and selection.ids is not None and done < total:
        result.skipped["not in the database"] = total - done
    if on_progress and done != total:
        on_progress(total, total)


# --- writing -------------------------------------------------------------------------------


def _writer(fmt: str, pricer: Pricer | None = None) -> Writer:
    try:
        make = WRITERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown export format {fmt!r}; choose one of {', '.join(FILE_FORMATS)}"
        ) from None
    return make(pricer)


def export_calls(
    store: CallStore,
    fmt: str,
    out: TextIO,
    selection: Selection | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    pricer: Pricer | None = None,
) -> ExportResult:
    """Write the selected calls to `out` as `fmt` ("har", "jsonl" or "finetune").

    `pricer` prices each call in HAR and JSONL (the caller's, with its config's overrides;
    by default `cost.default_pricer()`)."""
    write = _writer(fmt, pricer)
    result = ExportResult(format=fmt)
    calls = recorded_calls(
        store, selection or Selection(), on_progress=on_progress, cancel=cancel, result=result
    )
    write(calls, out, result)
    return result


def export_to_path(
    store: CallStore,
    fmt: str,
    path: Path | str,
    selection: Selection | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    pricer: Pricer | None = None,
) -> ExportResult:
    """Export to a file, atomically: a cancelled or failed export leaves no file behind.

    The file is created owner-only (0600), like the database: it holds prompts and answers.
    """
    path = Path(path)
    _writer(fmt)  # an unknown format fails before any file is created
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            result = export_calls(
                store, fmt, out, selection, on_progress=on_progress, cancel=cancel, pricer=pricer
            )
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    result.path = path
    return result
