"""OpenTelemetry export: recorded calls as GenAI spans, sent by the official OpenTelemetry SDK.

One span per call, named "{operation} {model}" ("chat gpt-5.2"), kind CLIENT, from
`started_at` to `started_at + duration_ms`, with the attributes of `genai_span`, each chunk's
arrival as a `relayscope.chunk` event (at most MAX_CHUNK_EVENTS) and a link from a replay to
its original. Trace and span ids derive from the call id, so sending a call twice gives the
same span.

Where spans go (`resolve_target`): an endpoint given by the caller (`--endpoint`), else the
config's `[otlp] endpoint`, else the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
`OTEL_EXPORTER_OTLP_ENDPOINT`. The SDK itself reads every other `OTEL_EXPORTER_OTLP_*`
variable (headers, timeout, compression, certificates) and the `OTEL_BSP_*` batching ones;
config headers win over `OTEL_EXPORTER_OTLP_HEADERS` name by name. The encoding is protobuf
(the SDK's exporter), or JSON when `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL=http/json`: the same
`ExportTraceServiceRequest` message printed by protobuf's `json_format`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from importlib import metadata
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from relayscope.analysis.cost import Pricer
from relayscope.calls.record import CallRecord
from relayscope.exchange import genai_span
from relayscope.exchange.export import ExportResult, ProgressCallback, Selection, recorded_calls
from relayscope.exchange.otlp_target import OtlpError, OtlpTarget, resolve_target
from relayscope.store.call_store import CallStore

__all__ = [
    "MAX_CHUNK_EVENTS",
    "OtlpError",
    "OtlpTarget",
    "SpanSender",
    "call_span",
    "export_calls_otlp",
    "make_exporter",
    "resolve_target",
    "span_ids",
]

log = logging.getLogger(__name__)

MAX_CHUNK_EVENTS = 1000


def _version() -> str:
    try:
        return metadata.version("relayscope")
    except metadata.PackageNotFoundError:
        return "0"


def resource() -> Resource:
    """service.name "relayscope" unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say else."""
    ours = Resource.create({"service.name": "relayscope", "service.version": _version()})
    return ours.merge(OTELResourceDetector().detect())


# --- spans ---------------------------------------------------------------------------------


def span_ids(call_id: str) -> tuple[int, int]:
    """(trace id, span id) derived from the call id (never all zeros in practice)."""
    digest = hashlib.sha256(f"relayscope:{call_id}".encode()).digest()
    return int.from_bytes(digest[:16]), int.from_bytes(digest[16:24])


def call_span(
    call: CallRecord,
    chunks: Sequence[dict[str, Any]] = (),
    *,
    capture_content: bool = False,
    span_resource: Resource | None = None,
    pricer: Pricer | None = None,
) -> ReadableSpan:
    """One finished SDK span for a recorded call (and its chunks, as events); with a
    `pricer`, its cost as `relayscope.cost.usd`/`.basis`."""
    start_ns = _unix_nanos(call.get("started_at"))
    end_ns = start_ns + int(float(call.get("duration_ms") or 0) * 1_000_000)
    answer = genai_span.assembled(call, chunks)
    attributes = genai_span.attributes(
        call,
        answer,
        capture_content=capture_content,
        cost=None if pricer is None else pricer.price(call),
    )
    dropped = max(0, len(chunks) - MAX_CHUNK_EVENTS)
    if dropped:
        attributes["relayscope.chunk_events_dropped"] = dropped
    links = []
    if call.get("replay_of"):
        links.append(
            Link(_context(str(call["replay_of"])), attributes={"relayscope.link": "replay_of"})
        )
    return ReadableSpan(
        name=genai_span.span_name(call),
        context=_context(str(call["id"])),
        resource=span_resource or resource(),
        attributes=attributes,
        events=[_chunk_event(chunk, start_ns) for chunk in chunks[:MAX_CHUNK_EVENTS]],
        links=links,
        kind=SpanKind.CLIENT,
        status=_status(call, attributes),
        start_time=start_ns,
        end_time=end_ns,
        instrumentation_scope=InstrumentationScope("relayscope", _version()),
    )


def _context(call_id: str) -> SpanContext:
    trace_id, span_id = span_ids(call_id)
    return SpanContext(
        trace_id, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )


def _status(call: CallRecord, attributes: dict[str, Any]) -> Status:
    if "error.type" in attributes:
        return Status(StatusCode.ERROR, str(call.get("error") or attributes["error.type"]))
    if call.get("state") == "complete":
        return Status(StatusCode.OK)
    return Status(StatusCode.UNSET)  # still pending or streaming


def _chunk_event(chunk: dict[str, Any], start_ns: int) -> Event:
    t_ms = float(chunk["t_ms"])
    attributes: dict[str, Any] = {
        "relayscope.chunk.seq": chunk["seq"],
        "relayscope.chunk.t_ms": t_ms,
    }
    if chunk.get("direction"):
        attributes["relayscope.chunk.direction"] = chunk["direction"]
    return Event("relayscope.chunk", attributes, timestamp=start_ns + int(t_ms * 1_000_000))


def _unix_nanos(started_at: object) -> int:
    try:
        return int(datetime.fromisoformat(str(started_at)).timestamp() * 1000) * 1_000_000
    except ValueError:
        return time.time_ns()


# --- exporters -----------------------------------------------------------------------------


class JsonSpanExporter(OTLPSpanExporter):
    """OTLP/HTTP with the JSON encoding: the SDK's HTTP client (retries, compression,
    headers), fed the SDK's own protobuf message printed as OTLP JSON."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # `_client` is the SDK's retrying HTTP client (opentelemetry-exporter-otlp-proto-http
        # 1.45); the protobuf exporter has no hook for another encoding.
        result = self._client.export(json_request(spans))
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE


def json_request(spans: Sequence[ReadableSpan]) -> bytes:
    """An `ExportTraceServiceRequest` in OTLP's JSON encoding (ids as hex, enums as numbers)."""
    message = json_format.MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    return json.dumps(_hex_ids(message), ensure_ascii=False).encode()


def _hex_ids(value: Any) -> Any:
    # protobuf's JSON prints bytes as base64; OTLP/JSON wants trace and span ids as hex.
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex()
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(item, str)
            else _hex_ids(item)
            for key, item in value.items()
        }
    return value


def make_exporter(target: OtlpTarget) -> SpanExporter:
    _quiet_sdk_logs()
    cls = JsonSpanExporter if target.protocol == "http/json" else OTLPSpanExporter
    headers = dict(target.headers)
    if target.protocol == "http/json":
        headers["content-type"] = "application/json"
    return cls(endpoint=target.traces_url, headers=headers)


class _SdkLog(logging.Handler):
    """Keeps the SDK exporter's first complaint of an export (the one naming the cause) for
    our own sentence, on the thread that exported: one line per outage, not one per retry."""

    first = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(self.first, "message", ""):
            self.first.message = record.getMessage()

    @classmethod
    def reset(cls) -> None:
        cls.first.message = ""


def _quiet_sdk_logs() -> None:
    logger = logging.getLogger("opentelemetry.exporter.otlp")
    if not any(isinstance(h, _SdkLog) for h in logger.handlers):
        logger.addHandler(_SdkLog())
        logger.propagate = False


def _sdk_problem() -> str:
    return str(getattr(_SdkLog.first, "message", "") or "no answer")


class _ReportingExporter(SpanExporter):
    """Says once when spans stop reaching the collector, and once when they reach it again."""

    def __init__(self, inner: SpanExporter, url: str, on_error: Callable[[str], None]) -> None:
        self._inner, self._url, self._on_error = inner, url, on_error
        self._failing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        _SdkLog.reset()
        result = self._inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            if self._failing:
                log.info("OTLP export to %s works again.", self._url)
            self._failing = False
        elif not self._failing:
            self._failing = True
            self._on_error(
                f"cannot send spans to the OTLP collector at {self._url} ({_sdk_problem()}); "
                "spans are dropped until it answers."
            )
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class SpanSender:
    """Sends finished calls through the SDK's BatchSpanProcessor: `send` only queues (a full
    queue drops the span), the processor's own thread encodes, batches and posts with
    retries. Problems reach `on_error(message)` once per outage, on that thread."""

    def __init__(
        self,
        target: OtlpTarget,
        on_error: Callable[[str], None] | None = None,
        exporter: SpanExporter | None = None,
        pricer: Pricer | None = None,
    ) -> None:
        self.target = target
        self._pricer = pricer or Pricer()
        self._resource = resource()
        report = on_error or (lambda message: log.warning("%s", message))
        inner = exporter or make_exporter(target)
        self._exporter = _ReportingExporter(inner, target.traces_url, report)
        self._processor = BatchSpanProcessor(self._exporter)

    def send(self, call: CallRecord, chunks: Sequence[dict[str, Any]] = ()) -> None:
        span = call_span(
            call,
            chunks,
            capture_content=self.target.capture_content,
            span_resource=self._resource,
            pricer=self._pricer,
        )
        self._processor.on_end(span)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued for up to `timeout` seconds, then stop; a slow or down
        collector's retries are cut short and what is left is dropped. (The processor's own
        force_flush ignores its timeout: opentelemetry-python issue #4568.)"""
        flusher = threading.Thread(target=self._processor.force_flush, daemon=True)
        flusher.start()
        flusher.join(timeout)
        if flusher.is_alive():
            self._exporter.shutdown()  # every export from now on fails at once
        self._processor.shutdown()


# --- the CLI's export ----------------------------------------------------------------------

_BATCH = 256


def export_calls_otlp(
    store: CallStore,
    target: OtlpTarget,
    selection: Selection | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    exporter: SpanExporter | None = None,
    pricer: Pricer | None = None,
) -> ExportResult:
    """Send the selected calls to the collector, batch by batch (waiting for each answer);
    OtlpError at the first batch the collector does not take after the SDK's retries.
    Each span carries its call's cost (`pricer`, list prices by default)."""
    result = ExportResult(format="otlp")
    pricer = pricer or Pricer()
    exporter = exporter or make_exporter(target)
    span_resource = resource()
    try:
        calls = recorded_calls(
            store, selection or Selection(), on_progress=on_progress, cancel=cancel, result=result
        )
        spans = (
            call_span(
                r.call,
                r.chunks,
                capture_content=target.capture_content,
                span_resource=span_resource,
                pricer=pricer,
            )
            for r in calls
        )
        for batch in _batches(spans, _BATCH):
            _SdkLog.reset()
            if exporter.export(batch) is not SpanExportResult.SUCCESS:
                raise OtlpError(
                    f"the OTLP collector at {target.traces_url} did not take the spans "
                    f"({_sdk_problem()}); {result.written} of {result.total} calls were sent."
                )
            result.written += len(batch)
    finally:
        exporter.shutdown()
    return result


def _batches(spans: Iterator[ReadableSpan], size: int) -> Iterator[list[ReadableSpan]]:
    batch: list[ReadableSpan] = []
    for span in spans:
        batch.append(span)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
