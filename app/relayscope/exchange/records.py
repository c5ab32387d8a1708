"""What every export format shares: the call it is given, the result it fills in, helpers.

`export` chooses and reads calls and hands them to a format's writer (`har`, `jsonl_export`,
`finetune_export`); the formats import this module, never `export`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from relayscope.calls.record import CallRecord


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One call's row and its chunks (`seq`, `t_ms`, `data`, `direction`), in seq order."""

    call: CallRecord
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
