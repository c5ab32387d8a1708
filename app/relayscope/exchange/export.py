"""Exports of recorded calls: which calls, in what order, streamed with progress and cancel.

The formats live in their own modules (`har`, `jsonl_export`, `finetune_export`; `otlp`
sends instead of writing). Every writer takes an iterable of `RecordedCall`s that this module
reads one at a time, so exporting 100,000 calls never holds more than one call in memory.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from relayscope.analysis.cost import Pricer
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

#: Formats written to a file (or standard output); OTLP is sent to a collector instead.
FILE_FORMATS = ("har", "jsonl", "finetune")

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


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One call's row and its chunks (`seq`, `t_ms`, `data`, `direction`), in seq order."""

    call: dict[str, Any]
    chunks: list[dict[str, Any]]


@dataclass(slots=True)
class ExportResult:
    """What an export did: how many calls were selected, written and skipped (and why)."""

    format: str
    total: int = 0
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    path: Path | None = None

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def skipped_count(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        """`Exported 12 calls as har to out.har; skipped 2 (2 failed or interrupted).`"""
        where = f" to {self.path}" if self.path else ""
        noun = "call" if self.written == 1 else "calls"
        text = f"Exported {self.written} {noun} as {self.format}{where}"
        if self.skipped:
            reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
            text += f"; skipped {self.skipped_count} ({reasons})"
        return text + "."


class Writer(Protocol):
    def __call__(self, calls: Iterable[RecordedCall], out: TextIO, result: ExportResult) -> None:
        """Write `calls` to `out`, counting what was written and skipped in `result`."""


# --- choosing and reading calls ------------------------------------------------------------


def count_selected(store: CallStore, selection: Selection) -> int:
    if selection.ids is None:
        return store.count_calls(selection.filter)
    return len(set(selection.ids))


def iter_selected(store: CallStore, selection: Selection) -> Iterator[dict[str, Any]]:
    """Rows of the selected calls, oldest first, read lazily from the database."""
    if selection.ids is None:
        where, params = selection.filter.where()
        sql = f"SELECT * FROM calls WHERE {where} ORDER BY started_at, rowid"
        yield from store.iter_query_calls(sql, params)
        return
    # Call ids start with their start time in hex, so sorted ids are in time order.
    ids = sorted(set(selection.ids))
    for start in range(0, len(ids), _ID_BATCH):
        batch = ids[start : start + _ID_BATCH]
        marks = ", ".join("?" for _ in batch)
        sql = f"SELECT * FROM calls WHERE id IN ({marks}) ORDER BY id"
        yield from store.iter_query_calls(sql, batch)


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
    # Imported here: the format modules import this one for RecordedCall and the helpers.
    if fmt == "har":
        from relayscope.exchange.har import write_har

        return functools.partial(write_har, pricer=pricer)
    if fmt == "jsonl":
        from relayscope.exchange.jsonl_export import write_jsonl

        return functools.partial(write_jsonl, pricer=pricer)
    if fmt == "finetune":
        from relayscope.exchange.finetune_export import write_finetune

        return write_finetune
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FILE_FORMATS)}")


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


# --- small helpers the formats share -------------------------------------------------------


def as_bytes(value: str | bytes | None) -> bytes:
    """A TEXT or BLOB column as bytes (None → b"")."""
    if value is None:
        return b""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)


def as_text(value: str | bytes | None) -> tuple[str, bool]:
    """(text, is_base64): UTF-8 text as it is, anything else base64-encoded."""
    if value is None:
        return "", False
    if isinstance(value, str):
        return value, False
    try:
        return bytes(value).decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii"), True


def joined_body(chunks: Sequence[dict[str, Any]]) -> bytes:
    """The stream's body: the server's chunks concatenated (each keeps its terminator)."""
    return b"".join(as_bytes(c["data"]) for c in chunks if c.get("direction") != "client")
