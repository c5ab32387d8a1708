"""An OTLP/HTTP receiver on loopback that decodes what it gets with `opentelemetry-proto`."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes

    def request(self) -> ExportTraceServiceRequest:
        assert self.headers["content-type"] == "application/x-protobuf", self.headers
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.body)
        return request

    def json(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/json", self.headers
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


class Collector:
    """Records each POST; answers 200 with an empty ExportTraceServiceResponse, or the
    (status, body) pairs of `answers` first."""

    def __init__(self, answers: list[tuple[int, bytes]] | None = None) -> None:
        self.posts: list[Post] = []
        self.answers = list(answers or [])
        self.arrived = threading.Event()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                collector.posts.append(Post(self.path, headers, body))
                ok = ExportTraceServiceResponse().SerializeToString()
                status, answer = collector.answers.pop(0) if collector.answers else (200, ok)
                self.send_response(status)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                collector.arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[Span]:
        return [
            span
            for post in self.posts
            for resource in post.request().resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def attributes(holder: Any) -> dict[str, Any]:
    """A span's (or resource's, event's, link's) attributes as plain Python values."""
    values: list[KeyValue] = list(holder.attributes)
    return {kv.key: plain(kv.value) for kv in values}


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def by_call(spans: list[Span]) -> dict[str, Span]:
    return {attributes(span)["relayscope.call_id"]: span for span in spans}
