"""HAR import: OpenAI-format API calls recorded elsewhere (browser, Charles, Proxyman) as calls.

Each entry goes through `RecordingWriter` (start, chunks, finish) like a proxied call, so the
answer, usage and search index are assembled by the same code. Secrets never come in:
credential headers are redacted as the recorder redacts them, key-like query parameters are
masked, and HAR cookie lists are dropped. An SSE body is split into its events with their
times spread over the entry's receive time (or, for a HAR Relayscope exported, the recorded
times from `_relayscope.chunks`). Such a HAR also keeps its call ids: importing it again into
the same database skips the calls already there.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from relayscope.exchange.export import ProgressCallback
from relayscope.exchange.har import redacted
from relayscope.protocols.openai_format import endpoint_of, read_request
from relayscope.protocols.sse import SSEDecoder, SSEEvent
from relayscope.recording.writer import RecordingWriter
from relayscope.routing.routes import redact_secret, valid_call_id
from relayscope.store.call_store import CallStore

__all__ = [
    "TRANSPORT",
    "HarImportError",
    "ImportResult",
    "ImportedCall",
    "ImportedChunk",
    "call_from_entry",
    "import_har",
    "is_api_entry",
    "load_entries",
]

TRANSPORT = "har-import"
NOT_API = "not OpenAI-format API calls"
ALREADY = "already in the database"
UNREADABLE = "unreadable entries"

# The path ends in an OpenAI-format endpoint, under whatever base path the provider uses.
_API_PATH = re.compile(r"/(?:(?:chat/)?completions|embeddings|(?:responses|models)(?:/[^/]+)?)/?$")
_SECRET_PARAMS = frozenset({"key", "api_key", "api-key", "apikey", "access_token", "token"})
_FINAL_STATES = frozenset({"complete", "error", "interrupted"})


class HarImportError(Exception):
    """The file is not a HAR, or the database could not be written; the message says which."""


@dataclass(frozen=True, slots=True)
class ImportedChunk:
    t_ms: float
    raw: bytes
    data: str | None  # what the stream assembly reads (None for a client's WebSocket message)
    event: str | None = None
    direction: str | None = None


@dataclass(frozen=True, slots=True)
class ImportedCall:
    """One HAR entry as the writer's start row, chunks and finish fields."""

    start: dict[str, Any]
    chunks: list[ImportedChunk]
    finish: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.start["id"])


@dataclass(slots=True)
class ImportResult:
    total: int = 0  # entries in the file
    imported: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    cancelled: bool = False

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def summary(self) -> str:
        noun = "call" if self.imported == 1 else "calls"
        text = f"Imported {self.imported} {noun} from {self.total} HAR entries"
        if self.skipped:
            reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
            text += f"; skipped {sum(self.skipped.values())} ({reasons})"
        return text + (" (cancelled)." if self.cancelled else ".")


# --- reading the file ----------------------------------------------------------------------


def load_entries(path: Path | str) -> list[dict[str, Any]]:
    """The entries of a HAR file; HarImportError with a sentence if it is not one."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            document = json.load(file)
    except OSError as exc:
        raise HarImportError(f"{path}: cannot read it ({exc.strerror or exc}).") from exc
    except (ValueError, RecursionError) as exc:
        raise HarImportError(f"{path}: not a HAR file (it is not valid JSON: {exc}).") from exc
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise HarImportError(f"{path}: not a HAR file (no log.entries list).")
    return [entry for entry in entries if isinstance(entry, dict)]


def is_api_entry(entry: dict[str, Any]) -> bool:
    """True for an OpenAI-format API call (chat/completions, responses, …) or our own export."""
    if isinstance(entry.get("_relayscope"), dict):
        return True
    request = entry.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    return isinstance(url, str) and bool(_API_PATH.search(urlsplit(url).path))


# --- one entry -----------------------------------------------------------------------------


def call_from_entry(entry: dict[str, Any], call_id: str | None = None) -> ImportedCall:
    """Turn a HAR entry into a call (`call_id`, else the one it carries, else a new one)."""
    ours = _dict(entry.get("_relayscope"))
    response = _dict(entry.get("response"))
    started = _started(entry.get("startedDateTime"))
    messages = _websocket_messages(entry, started)
    if call_id is None:
        kept = str(ours.get("id") or "")
        call_id = kept if valid_call_id(kept) else new_id(started)
    start = _start_row(entry, ours, started, call_id, messages)
    status: int | None = _int(response.get("status"))
    if status is not None and status <= 0:  # 0: the browser got no response
        status = None
    chunks, response_body = _chunks_and_body(entry, ours, response, messages)
    finish = _finish(entry, ours, response, status, chunks, response_body)
    return ImportedCall(start, chunks, finish)


_KEPT = ("upstream_request_body", "replay_of", "group_id", "session_id", "turn_id", "truncated")
_FINISH_KEPT = ("first_byte_ms", "cut_by", "error_code", "note", "hold_ms")


def _start_row(
    entry: dict[str, Any],
    ours: dict[str, Any],
    started: datetime,
    call_id: str,
    messages: list[ImportedChunk],
) -> dict[str, Any]:
    request = _dict(entry.get("request"))
    url = _safe_url(str(request.get("url") or "/"))
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = _pairs(request.get("headers"))
    body = _request_body(request, messages)
    info = read_request(body)
    start: dict[str, Any] = {
        "id": call_id,
        "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": str(request.get("method") or "GET"),
        "path": path,
        "endpoint": ours.get("endpoint") or endpoint_of(path),
        "provider": ours.get("provider") or parts.hostname,
        "model": ours.get("model") or info.model,
        "stream": int(bool(ours.get("stream", info.stream))),
        "state": "pending",
        "request_headers": _headers_json(headers),
        "request_body": body,
        # A HAR of ours says what it knows; for others', the URL and headers are all there is.
        "upstream_url": ours.get("upstream_url") if ours else url,
        "request_size": ours.get("request_size") if ours else _size(_int(request.get("bodySize"))),
        "client": ours.get("client") if ours else _header(headers, "user-agent"),
        "transport": TRANSPORT,
    }
    start.update({key: ours[key] for key in _KEPT if ours.get(key) is not None})
    return start


def new_id(started: datetime) -> str:
    """A call id in Relayscope's form, from the entry's start time (so ids sort by time)."""
    return f"{int(started.timestamp() * 1000):012x}-{os.urandom(4).hex()}"


def _finish(
    entry: dict[str, Any],
    ours: dict[str, Any],
    response: dict[str, Any],
    status: int | None,
    chunks: list[ImportedChunk],
    response_body: bytes | None,
) -> dict[str, Any]:
    headers = _pairs(response.get("headers"))
    first_byte = _first_byte_ms(entry)
    error = ours.get("error") or entry.get("_error") or None
    state = ours.get("state")
    if state not in _FINAL_STATES:
        state = "interrupted" if status is None else "error" if status >= 400 else "complete"
    fields: dict[str, Any] = {
        "status": status,
        "state": state,
        "response_headers": _headers_json(headers) if headers else None,
        "duration_ms": _float(ours.get("duration_ms"), entry.get("time")),
        # The writer tells TTFT from the chunks (relayscope.calls.facts); a Relayscope HAR
        # made before first_byte_ms existed carried the first byte as its ttft_ms.
        "first_byte_ms": _float(ours.get("first_byte_ms"))
        if "first_byte_ms" in ours
        else _float(ours.get("ttft_ms"))
        if "ttft_ms" in ours or status is None
        else first_byte,
    }
    for column in ("cut_by", "error_code", "note"):
        if isinstance(ours.get(column), str):
            fields[column] = ours[column]
    if ours.get("hold_ms") is not None:
        fields["hold_ms"] = _float(ours.get("hold_ms"))
    size = _size(_int(response.get("bodySize")))
    if size is not None:
        fields["response_size"] = size
    if error:
        fields["error"] = str(error)
    elif status is None:
        fields["error"] = "The HAR entry has no response."
    if response_body is not None:
        fields["response_body"] = response_body
    for key in _FINISH_KEPT:  # facts a Relayscope export carries (schema m007)
        if ours.get(key) is not None:
            fields[key] = ours[key]
    quirks = ours.get("quirks")
    if isinstance(quirks, list) and quirks:
        fields["quirks"] = json.dumps(quirks, ensure_ascii=False)
    return fields


def _chunks_and_body(
    entry: dict[str, Any],
    ours: dict[str, Any],
    response: dict[str, Any],
    messages: list[ImportedChunk],
) -> tuple[list[ImportedChunk], bytes | None]:
    """The call's chunks and its response_body (None when the chunks are the body)."""
    content = _dict(response.get("content"))
    body = _decoded(content.get("text"), content.get("encoding"))
    recorded = [c for c in _list(ours.get("chunks")) if isinstance(c, dict)]
    if messages:
        return _recorded_times(messages, recorded), None
    if recorded and all("data" in c for c in recorded):
        # A stream the proxy aggregated for the client: the content is the client's answer.
        chunks = []
        for c in recorded:
            raw = _decoded(c.get("data"), c.get("encoding")) or b""
            chunks.append(_sse_chunk(raw, _float(c.get("t_ms")) or 0.0))
        return chunks, body
    mime = str(
        content.get("mimeType") or _header(_pairs(response.get("headers")), "content-type") or ""
    )
    if body is None or "event-stream" not in mime.lower():
        return [], body
    events = _split_sse(body)
    times = _spread(len(events), _first_byte_ms(entry) or 0.0, _receive_ms(entry))
    chunks = [
        ImportedChunk(t, event.raw, event.data, event.event)
        for event, t in zip(events, times, strict=True)
    ]
    return _recorded_times(chunks, recorded), None


def _recorded_times(
    chunks: list[ImportedChunk], recorded: list[dict[str, Any]]
) -> list[ImportedChunk]:
    """The chunks with the times Relayscope recorded, when the HAR carries one per chunk."""
    times = [_float(c.get("t_ms")) for c in recorded]
    if len(times) != len(chunks) or any(t is None for t in times):
        return chunks
    return [replace(chunk, t_ms=t or 0.0) for chunk, t in zip(chunks, times, strict=True)]


def _split_sse(body: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = decoder.feed(body)
    leftover = decoder.flush()
    return [*events, leftover] if leftover is not None else events


def _sse_chunk(raw: bytes, t_ms: float) -> ImportedChunk:
    decoder = SSEDecoder()
    events = decoder.feed(raw)
    event = events[0] if events else decoder.flush()
    if event is None:
        return ImportedChunk(t_ms, raw, None)
    return ImportedChunk(t_ms, raw, event.data, event.event)


def _spread(count: int, first: float, receive: float) -> list[float]:
    """`count` times from the first byte to the end of the receive time, evenly apart."""
    if count <= 1:
        return [round(first, 3)] * count
    return [round(first + receive * i / (count - 1), 3) for i in range(count)]


def _websocket_messages(entry: dict[str, Any], started: datetime) -> list[ImportedChunk]:
    """Chrome's `_webSocketMessages` (send/receive, epoch seconds) as directed chunks."""
    start = started.timestamp()
    chunks = []
    for message in _list(entry.get("_webSocketMessages")):
        if not isinstance(message, dict) or not isinstance(message.get("data"), str):
            continue
        binary = message.get("opcode") == 2
        raw = _decoded(message["data"], "base64" if binary else None) or b""
        t_ms = round(max(0.0, (_float(message.get("time")) or start) - start) * 1000, 3)
        client = message.get("type") == "send"
        text = None if client or binary else message["data"]
        chunks.append(ImportedChunk(t_ms, raw, text, None, "client" if client else "server"))
    return chunks


def _request_body(request: dict[str, Any], messages: list[ImportedChunk]) -> bytes | None:
    post = _dict(request.get("postData"))
    if isinstance(post.get("text"), str):
        return _decoded(post["text"], post.get("_encoding"))
    params = [p for p in _list(post.get("params")) if isinstance(p, dict)]
    if params:
        return urlencode(
            [(str(p.get("name", "")), str(p.get("value", ""))) for p in params]
        ).encode()
    first = next((m for m in messages if m.direction == "client"), None)
    return first.raw if first is not None else None


def _first_byte_ms(entry: dict[str, Any]) -> float | None:
    timings = _dict(entry.get("timings"))
    if not timings:
        return None
    keys = ("blocked", "dns", "connect", "send", "wait")  # ssl is inside connect
    return round(sum(max(0.0, _float(timings.get(k)) or 0.0) for k in keys), 3)


def _receive_ms(entry: dict[str, Any]) -> float:
    return max(0.0, _float(_dict(entry.get("timings")).get("receive")) or 0.0)


# --- secrets -------------------------------------------------------------------------------


def _headers_json(headers: list[tuple[str, str]]) -> str:
    return json.dumps(redacted(headers), ensure_ascii=False)


def _safe_url(url: str) -> str:
    """The URL with key-like query parameters masked (`?key=****abcd`)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    masked = []
    for piece in parts.query.split("&"):
        name, eq, value = piece.partition("=")
        if eq and name.lower() in _SECRET_PARAMS and "****" not in value:
            value = quote(redact_secret(value), safe="*")
        masked.append(f"{name}{eq}{value}")
    return parts._replace(query="&".join(masked)).geturl()


# --- the import ----------------------------------------------------------------------------


class _ImportWriter(RecordingWriter):
    """The recording writer without the start-up sweep.

    A proxy may be recording into the same database right now: its calls in flight are not
    leftovers of a killed worker, so they must not be marked interrupted.
    """

    def mark_leftovers_interrupted(self) -> int:
        return 0


def import_har(
    path: Path | str,
    db_path: Path | str,
    *,
    all_entries: bool = False,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ImportResult:
    """Import the OpenAI-format calls of a HAR file (every entry with `all_entries`).

    Calls imported before a cancel stay; the result says `cancelled`.
    """
    entries = load_entries(path)
    importer = _Importer(db_path, ImportResult(total=len(entries)))
    try:
        step = max(1, len(entries) // 1000)
        for done, entry in enumerate(entries, 1):
            if cancel is not None and cancel.is_set():
                importer.result.cancelled = True
                break
            if all_entries or is_api_entry(entry):
                importer.add(entry)
            else:
                importer.result.skip(NOT_API)
            if on_progress and (done % step == 0 or done == len(entries)):
                on_progress(done, len(entries))
    finally:
        importer.close()
    return importer.result


class _Importer:
    """Feeds calls to the writer, a few hundred ahead of what it has committed at most.

    The pacing keeps each write transaction small, so a proxy recording into the same
    database never waits long for the lock, and a big HAR is not queued whole in memory.
    """

    AHEAD = 200  # calls handed to the writer and not yet committed
    PATIENCE = 10.0  # seconds to wait for the writer before queueing more anyway

    def __init__(self, db_path: Path | str, result: ImportResult) -> None:
        self.result = result
        self.seen: set[str] = set()
        self.failures: list[str | None] = []
        self.committed = 0
        self.changed = threading.Condition()
        self.store = CallStore(db_path)
        self.writer = _ImportWriter(
            db_path, on_commit=self._on_commit, on_error=self.failures.append
        ).open()

    def add(self, entry: dict[str, Any]) -> None:
        try:
            call = call_from_entry(entry)
        except (TypeError, ValueError, binascii.Error):
            self.result.skip(UNREADABLE)
            return
        if call.id in self.seen or self.store.get_call(call.id) is not None:
            self.result.skip(ALREADY)
            return
        self.seen.add(call.id)
        with self.changed:
            self.changed.wait_for(
                lambda: self.result.imported - self.committed < self.AHEAD, self.PATIENCE
            )
        writer = self.writer
        writer.start(call.start)
        for seq, c in enumerate(call.chunks):
            writer.chunk(call.id, seq, c.t_ms, c.raw, c.data, c.event, c.direction)
        writer.finish(call.id, call.finish)
        self.result.imported += 1
        self.result.ids.append(call.id)

    def close(self) -> None:
        self.writer.close()
        self.store.close()
        if self.failures and self.failures[-1] is not None:
            raise HarImportError(self.failures[-1])

    def _on_commit(self, events: list[dict[str, Any]]) -> None:
        finished = sum(1 for event in events if event["event"] == "call_finished")
        with self.changed:
            self.committed += finished
            self.changed.notify_all()


# --- small readers -------------------------------------------------------------------------


def _started(value: object) -> datetime:
    try:
        started = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return started.replace(tzinfo=UTC) if started.tzinfo is None else started.astimezone(UTC)


def _decoded(text: object, encoding: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    if encoding == "base64":
        return base64.b64decode(text, validate=True)
    return text.encode("utf-8", "surrogatepass")


def _pairs(headers: object) -> list[tuple[str, str]]:
    return [
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in _list(headers)
        if isinstance(h, dict)
    ]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def _size(value: int) -> int | None:
    return value if value >= 0 else None  # HAR writes -1 for "unknown"


def _float(*values: object) -> float | None:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
