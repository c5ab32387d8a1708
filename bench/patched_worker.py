"""The real `relayscope proxy`, with experimental hot-path patches applied first.

    python -m bench.patched_worker drain+many -- proxy --port 8787 ...

Used by `bench.run_all --variants drain+many` to measure a proposed change side by side
with the shipped code in the same interleaved run, without touching the source tree. The
proposals (F1-F6 in docs/benchmarks.md, "Where the time goes"):

- ``drain`` (F1): the writer thread sleeps through its batch window and then takes everything
  queued at once, instead of blocking on the queue for each item. Every `queue.get` that
  blocks makes the next `put` on the event loop wake the writer: one thread switch (and a
  GIL hand-over) per SSE chunk.
- ``many`` (F2): chunk rows of a batch go to SQLite in one `executemany`.
- ``oneaddon`` (F3): our addons become children of one entry in mitmproxy's addon chain.
- ``fastsse`` (F4): `SSEDecoder.feed` fast path for a chunk that is exactly one event.
- ``rawtap`` (F5, needs ``many``): the event-loop tap only timestamps and queues the bytes;
  the writer splits the SSE events.
- ``procwriter`` (F6): the RecordingWriter runs in a child process.
- ``lateasm``: assemble streams at call end instead of per chunk (no gain once F1 is in).
- ``nocapture`` is not a code patch: `bench.run_all` writes ``capture_usage = false`` in the
  provider's config for it (the usage rewrite of every chunk is then skipped).

Decomposition only, never proposals (they drop recording work to see what it costs):
``nochunks`` (chunks split and timed but not queued), ``noasm`` (stored, not assembled),
``nowriter`` (nothing reaches the writer).
"""

from __future__ import annotations

import queue
import sys
import time
import types
from collections.abc import Callable
from typing import Any

from app.core import recording
from app.core.openai_format import StreamAssembler
from app.core.sse import SSEDecoder, SSEEvent

CONFIG_ONLY = {"nocapture"}


def patch_drain() -> None:
    writer = recording.RecordingWriter

    def _gather(self: Any, pending: list[Any]) -> bool:
        time.sleep(self._batch_seconds)
        get = self._queue.get_nowait
        while True:
            try:
                op = get()
            except queue.Empty:
                return False
            if op is recording._STOP:
                return True
            pending.append(op)

    writer._gather = _gather  # type: ignore[method-assign]


def patch_many() -> None:
    writer = recording.RecordingWriter
    chunk_kind = recording._CHUNK
    as_text = recording.as_text

    def _commit(self: Any, ops: list[Any]) -> list[Any]:
        events: list[dict[str, Any]] = []
        try:
            with self.db.conn:
                rows: list[tuple[Any, ...]] = []
                for op in ops:
                    if op[0] == chunk_kind:
                        call_id, seq, t_ms, raw = op[1], op[2], op[3], op[4]
                        rows.append((call_id, seq, t_ms, as_text(raw)))
                        self._track_chunk(call_id, seq, op[5], op[6])
                        continue
                    if op[0] == RAW:
                        for call_id, seq, t_ms, event in _split_raw(self, op):
                            rows.append((call_id, seq, t_ms, as_text(event.raw)))
                            self._track_chunk(call_id, seq, event.data, event.event)
                        continue
                    if rows:
                        self._insert_chunks(rows)
                        rows = []
                    self._apply(op, events)
                if rows:
                    self._insert_chunks(rows)
                self._flush_counts(events)
        except recording.sqlite3.Error as exc:
            self._report_failure(exc)
            return ops
        if self._failing is not None:
            self._failing = None
            if self._on_error:
                self._on_error(None)
        for event in events:
            if event["event"] == "call_finished":
                self._live.pop(event["id"], None)
        if self._on_commit and events:
            self._on_commit(events)
        return []

    def _insert_chunks(self: Any, rows: list[tuple[Any, ...]]) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO chunks (call_id, seq, t_ms, data) VALUES (?, ?, ?, ?)", rows
        )

    def _track_chunk(
        self: Any, call_id: str, seq: int, data: str | None, event: str | None
    ) -> None:
        live = self._live.get(call_id)
        if live is None:
            return
        if live.chunk_count <= seq:
            live.chunk_count = seq + 1
            self._feed(live, data, event)
        live.dirty = True

    writer._commit = _commit  # type: ignore[method-assign]
    writer._insert_chunks = _insert_chunks  # type: ignore[attr-defined]
    writer._track_chunk = _track_chunk  # type: ignore[attr-defined]
    if not hasattr(writer, "_feed"):
        writer._feed = _feed_now  # type: ignore[attr-defined]


def _feed_now(self: Any, live: Any, data: str | None, event: str | None) -> None:
    if live.assembler is None:
        live.assembler = StreamAssembler(live.endpoint)
    live.assembler.feed(data, event)


def patch_lateasm() -> None:
    writer = recording.RecordingWriter

    class _Late:
        """Stands in for StreamAssembler: keeps the data, parses it all when asked."""

        __slots__ = ("endpoint", "items")

        def __init__(self, endpoint: str) -> None:
            self.endpoint = endpoint
            self.items: list[tuple[str | None, str | None]] = []

        def feed(self, data: str | None, event: str | None = None) -> None:
            self.items.append((data, event))

        def result(self) -> Any:
            assembler = StreamAssembler(self.endpoint)
            for data, event in self.items:
                assembler.feed(data, event)
            return assembler.result()

    def _feed(self: Any, live: Any, data: str | None, event: str | None) -> None:
        if live.assembler is None:
            live.assembler = _Late(live.endpoint)
        live.assembler.feed(data, event)

    writer._feed = _feed  # type: ignore[attr-defined]
    original_apply_chunk = writer._apply_chunk

    def _apply_chunk(
        self: Any, call_id: str, seq: int, t_ms: float, raw: bytes, data: str | None, ev: Any
    ) -> None:
        live = self._live.get(call_id)
        if live is not None and live.assembler is None:
            live.assembler = _Late(live.endpoint)
        original_apply_chunk(self, call_id, seq, t_ms, raw, data, ev)

    writer._apply_chunk = _apply_chunk  # type: ignore[method-assign]


RAW = 99  # op kind: (RAW, call_id, t_ms, bytes as received); b"" marks the end


def _split_raw(writer: Any, op: tuple[Any, ...]) -> list[tuple[str, int, float, SSEEvent]]:
    """SSE events in one raw op, numbered per call (the decoder lives with the call)."""
    _, call_id, t_ms, data = op
    state = writer._raw_state.get(call_id)
    if state is None:
        state = writer._raw_state[call_id] = [SSEDecoder(), 0]
    decoder: SSEDecoder = state[0]
    events = decoder.feed(data) if data else []
    if not data:
        leftover = decoder.flush()
        if leftover is not None:
            events.append(leftover)
        del writer._raw_state[call_id]
    out = []
    for event in events:
        out.append((call_id, state[1], t_ms, event))
        state[1] += 1
    return out


def patch_rawtap() -> None:
    """The event-loop tap only timestamps and queues the bytes; SSE splitting moves to the
    writer thread (needs `many`, which handles the new op). Streams that the client sees
    rewritten (usage capture, aggregation) or compressed keep the existing tap."""
    from proxy_addons.recorder import Recorder

    original_tap = Recorder._tap
    recording.RecordingWriter._raw_state = {}  # type: ignore[attr-defined]

    def _tap(
        self: Any, ctx: Any, encoding: str, rewrite: Any = None
    ) -> Callable[[bytes], bytes | list[bytes]]:
        if rewrite is not None or encoding.strip().lower() not in ("", "identity"):
            return original_tap(self, ctx, encoding, rewrite)
        put = self.writer._queue.put
        call_id, t0, monotonic = ctx.id, ctx.t0, time.monotonic

        def tap(data: bytes) -> bytes:
            now = monotonic()
            ctx.last_activity = now
            put((RAW, call_id, round((now - t0) * 1000, 3), data))
            return data

        return tap

    Recorder._tap = _tap  # type: ignore[method-assign]


class ProcessWriter:
    """Experiment: the RecordingWriter runs in a child process. The event loop only appends
    op tuples to a deque; a flusher thread ships them every batch window as one pickle, so
    the proxy process never runs SQLite or stream assembly (nor hands the GIL to them)."""

    def __init__(
        self,
        path: Any,
        *,
        on_commit: Any = None,
        on_error: Any = None,
        batch_seconds: float = 0.02,
    ) -> None:
        import collections
        import multiprocessing
        import threading

        self._ops: collections.deque[Any] = collections.deque()
        self._queue = types.SimpleNamespace(put=self._ops.append)  # for `rawtap`
        self._batch_seconds = batch_seconds
        context = multiprocessing.get_context("fork")
        self._recv, self._send = context.Pipe(duplex=False)
        self._child = context.Process(
            target=_writer_child, args=(str(path), self._recv, batch_seconds), daemon=True
        )
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True)

    def open(self) -> ProcessWriter:
        self._child.start()
        self._flusher.start()
        return self

    def start(self, row: dict[str, Any]) -> None:
        self._ops.append((recording._START, row))

    def chunk(self, *args: Any) -> None:
        self._ops.append((recording._CHUNK, *args))

    def update(self, call_id: str, fields: dict[str, Any]) -> None:
        self._ops.append((recording._UPDATE, call_id, fields))

    def finish(self, call_id: str, fields: dict[str, Any]) -> None:
        self._ops.append((recording._FINISH, call_id, fields))

    def _ship(self) -> None:
        import pickle

        ops = self._ops
        batch = [ops.popleft() for _ in range(len(ops))]
        if batch:
            self._send.send_bytes(pickle.dumps(batch, pickle.HIGHEST_PROTOCOL))

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._batch_seconds):
            self._ship()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._flusher.join(timeout)
        self._ship()
        self._send.send_bytes(b"")
        self._child.join(timeout)


def _writer_child(path: str, conn: Any, batch_seconds: float) -> None:
    import pickle

    patch_drain()
    patch_many()
    writer = recording.RecordingWriter(path, batch_seconds=batch_seconds).open()
    put = writer._queue.put
    while True:
        data = conn.recv_bytes()
        if not data:
            break
        for op in pickle.loads(data):
            put(op)
    writer.close()


def patch_procwriter() -> None:
    from proxy_addons import worker

    worker.RecordingWriter = ProcessWriter  # type: ignore[misc,assignment]


class AddonGroup:
    """One entry in mitmproxy's addon chain holding all of Relayscope's addons as children.

    For every hook (and the `update` hook that follows each flow hook) mitmproxy's
    AddonManager enters a `safecall()` context manager and creates and awaits an
    `invoke_addon` coroutine per top-level addon, whether or not it has that hook; children
    are only `getattr`-probed. Same hooks, same order; the one difference is that an
    exception in one child skips its later siblings for that hook.
    """

    def __init__(self, addons: list[Any]) -> None:
        self.addons = addons


def patch_oneaddon() -> None:
    from mitmproxy.addonmanager import AddonManager

    from proxy_addons.router import Router

    original_add = AddonManager.add

    def add(self: Any, *addons: Any) -> None:
        if addons and isinstance(addons[0], Router):
            addons = (AddonGroup(list(addons)),)
        original_add(self, *addons)

    AddonManager.add = add  # type: ignore[method-assign]


def patch_fastsse() -> None:
    """SSEDecoder.feed: when nothing is pending and the chunk is exactly one complete event
    ending in a blank line (LF only, no leading blank line or BOM), parse it directly; this
    is the shape gateways send (one HTTP chunk per event). Anything else takes the general
    path, so the output is the same byte for byte."""
    from app.core import sse

    general = sse.SSEDecoder.feed
    parse = sse._parse

    def feed(self: Any, chunk: bytes) -> list[SSEEvent]:
        if (
            not self._buf
            and chunk.endswith(b"\n\n")
            and chunk.find(b"\n\n") == len(chunk) - 2
            and b"\r" not in chunk
            and chunk[:1] not in (b"\n", b"\xef")
        ):
            self._at_start = False
            return [parse(chunk, chunk[:-2])]
        return general(self, chunk)

    sse.SSEDecoder.feed = feed  # type: ignore[method-assign]


def patch_nochunks() -> None:
    """Decomposition only (not a proposal): chunks are split and timed but never queued."""

    def chunk(self: Any, *args: Any) -> None:
        return None

    recording.RecordingWriter.chunk = chunk  # type: ignore[method-assign]


def patch_nowriter() -> None:
    """Decomposition only (not a proposal): nothing reaches the writer thread."""

    def nothing(self: Any, *args: Any) -> None:
        return None

    for name in ("start", "chunk", "update", "finish"):
        setattr(recording.RecordingWriter, name, nothing)


def patch_noasm() -> None:
    """Decomposition only (not a proposal): chunks are stored but never assembled."""

    class _Nothing:
        def feed(self, data: str | None, event: str | None = None) -> None:
            return None

        def result(self) -> Any:
            return StreamAssembler("chat.completions").result()

    writer = recording.RecordingWriter
    original_apply_chunk = writer._apply_chunk

    def _apply_chunk(
        self: Any, call_id: str, seq: int, t_ms: float, raw: bytes, data: str | None, ev: Any
    ) -> None:
        live = self._live.get(call_id)
        if live is not None and live.assembler is None:
            live.assembler = _Nothing()
        original_apply_chunk(self, call_id, seq, t_ms, raw, data, ev)

    writer._apply_chunk = _apply_chunk  # type: ignore[method-assign]


PATCHES: dict[str, Callable[[], None]] = {
    "drain": patch_drain,
    "many": patch_many,
    "lateasm": patch_lateasm,
    "rawtap": patch_rawtap,
    "procwriter": patch_procwriter,
    "oneaddon": patch_oneaddon,
    "fastsse": patch_fastsse,
    "nochunks": patch_nochunks,
    "nowriter": patch_nowriter,
    "noasm": patch_noasm,
}


def apply(spec: str) -> None:
    for name in [n for n in spec.split("+") if n]:
        if name in CONFIG_ONLY:
            continue
        if name not in PATCHES:
            raise SystemExit(
                f"unknown patch {name!r}; known: {', '.join([*PATCHES, *CONFIG_ONLY])}"
            )
        PATCHES[name]()


def main() -> int:
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[1] != "--":
        raise SystemExit(__doc__)
    apply(argv[0])
    from app.__main__ import main as relayscope_main

    return relayscope_main(argv[2:])


if __name__ == "__main__":
    sys.exit(main())
