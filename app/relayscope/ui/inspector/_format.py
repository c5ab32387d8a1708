"""Numbers with units, as the inspector shows them (pure functions, no Qt)."""

from __future__ import annotations

DASH = "—"


def ms(value: float | None) -> str:
    """412 ms, 3.1 s, 2 min 05 s."""
    if value is None:
        return DASH
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    minutes, seconds = divmod(round(value / 1000), 60)
    return f"{minutes} min {seconds:02d} s"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def size(value: int | None) -> str:
    """Bytes: 812 B, 40.1 KiB, 16.0 MiB."""
    if value is None:
        return DASH
    if value < 1024:
        return f"{value} B"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KiB"
    return f"{value / 1024 / 1024:.1f} MiB"


def rate(tokens_per_second: float | None) -> str:
    return DASH if tokens_per_second is None else f"{tokens_per_second:,.1f} tok/s"


def one_line(text: str, limit: int = 300) -> str:
    """Text for a table cell: line breaks shown as ⏎, long text cut with an ellipsis."""
    flat = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", "→")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
