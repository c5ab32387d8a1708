"""JSONL export: one call per line, every column as stored plus its chunks.

Each line is the `calls` row (column → value, JSON columns left as the JSON text they are
stored as) with `chunks: [{"seq", "t_ms", "data", "direction"}]`. A BLOB (a body that was
not UTF-8) is written base64-encoded and its column named in the line's `base64` list; a
binary chunk carries `"base64": true`. So every line is lossless and `jq`-friendly. Beside
the columns, `cost` is the call's price when read (`{"usd": null, "basis": why}` when it is
unknown): costs are never stored, so it is not a column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from relayscope.analysis.cost import Pricer, default_pricer
from relayscope.exchange.export import ExportResult, RecordedCall, as_text
from relayscope.routing.routes import redact_query

__all__ = ["jsonl_line", "write_jsonl"]


def write_jsonl(
    calls: Iterable[RecordedCall],
    out: TextIO,
    result: ExportResult,
    *,
    pricer: Pricer | None = None,
) -> None:
    pricer = pricer or default_pricer()
    for recorded in calls:
        out.write(json.dumps(jsonl_line(recorded, pricer), ensure_ascii=False) + "\n")
        result.written += 1


def jsonl_line(recorded: RecordedCall, pricer: Pricer | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {}
    binary: list[str] = []
    for column, value in recorded.call.items():
        if isinstance(value, bytes):
            value, is_base64 = as_text(value)
            if is_base64:
                binary.append(column)
        elif column in ("path", "upstream_url") and isinstance(value, str):
            value = redact_query(value)  # rows recorded before keys in URLs were redacted
        line[column] = value
    if binary:
        line["base64"] = binary
    line["cost"] = (pricer or default_pricer()).price(recorded.call).as_json()
    line["chunks"] = [_chunk(chunk) for chunk in recorded.chunks]
    return line


def _chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    data, is_base64 = as_text(chunk["data"])
    out: dict[str, Any] = {
        "seq": chunk["seq"],
        "t_ms": chunk["t_ms"],
        "data": data,
        "direction": chunk.get("direction"),
    }
    if is_base64:
        out["base64"] = True
    return out
