"""What a HAR import gives: the calls it maps entries to, its result, and its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRANSPORT = "har-import"
NOT_API = "not OpenAI-format API calls"
ALREADY = "already in the database"
UNREADABLE = "unreadable entries"


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
