"""Numbers with units, as the inspector shows them: relayscope.calls.formatting under the names the
views use (pure functions, no Qt), and text for a table cell."""

from __future__ import annotations

from relayscope.calls.formatting import DASH, rate, size
from relayscope.calls.formatting import duration_ms as ms
from relayscope.calls.formatting import tokens as count

__all__ = ["DASH", "count", "ms", "one_line", "rate", "size"]


def one_line(text: str, limit: int = 300) -> str:
    """Text for a table cell: line breaks shown as ⏎, long text cut with an ellipsis."""
    flat = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", "→")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
