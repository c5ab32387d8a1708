"""Numbers and times with their units, written the same way everywhere: the terminal (`app/cli`),
the app's inspector and panels, and the pages they share. Pure functions, standard library only.

Unknown values (None) are an em dash, never 0: a missing figure is not a measured zero.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

DASH = "—"


def duration_ms(value: float | None) -> str:
    """A duration given in milliseconds, to three significant figures, then in minutes:
    `3.2 ms` (a fraction under 10 ms matters between chunks), `412 ms`, `3.48 s`, `42.1 s`,
    `2 min 05 s`, `1 h 05 min`; negative values keep their sign (`-412 ms`)."""
    if value is None:
        return DASH
    if value < 0:
        return "-" + duration_ms(-value)
    if round(value, 1) < 10 and value != int(value):
        return f"{value:.1f} ms"
    if round(value) < 1000:
        return f"{value:.0f} ms"
    seconds = value / 1000
    if round(seconds, 2) < 10:
        return f"{seconds:.2f} s"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def tokens(value: int | None) -> str:
    """A count of tokens (or of anything): `1,234`."""
    return DASH if value is None else f"{value:,}"


def tokens_in_out(prompt: int | None, completion: int | None) -> str:
    """Input and output tokens of a call: `1,234 / 56`; `1,234 / —` when one is unknown, an em
    dash when neither is."""
    if prompt is None and completion is None:
        return DASH
    return f"{tokens(prompt)} / {tokens(completion)}"


def rate(tokens_per_second: float | None) -> str:
    """Output speed: `1,234.5 tok/s`."""
    return DASH if tokens_per_second is None else f"{tokens_per_second:,.1f} tok/s"


def size(value: int | float | None) -> str:
    """Bytes: `812 B`, `40.1 KiB`, `16.0 MiB`, `2.3 GiB`."""
    if value is None:
        return DASH
    if value < 1024:
        return f"{value:.0f} B"
    for unit in ("KiB", "MiB"):
        value /= 1024
        if round(value, 1) < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} GiB"


def usd(value: Decimal | None) -> str:
    """A cost in US dollars: `$1.23`, `$0.0421`, `$0.00031`, `$0.00` for a free call; unknown is an
    em dash, never $0."""
    if value is None:
        return DASH
    if value == 0:
        return "$0.00"
    if value >= 1:
        return f"${value:,.2f}"
    if value >= Decimal("0.01"):
        return f"${value:.4f}"
    return f"${value:.2g}" if value < Decimal("0.00001") else f"${value:.5f}"


def parse_time(value: object) -> datetime | None:
    """A recorded time (ISO 8601, `Z` for UTC, or a datetime) in the local time zone; None when
    there is none or it does not read as a time."""
    if isinstance(value, datetime):
        return value.astimezone()
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).astimezone()
    except ValueError:
        return None


def time_of_day(value: object, now: datetime | None = None) -> str:
    """When a call started, in local time: `12:01:03` today, `Dec 01 12:01:03` on another day."""
    when = parse_time(value)
    if when is None:
        return _unreadable(value)
    now = (now or datetime.now()).astimezone()
    if when.date() == now.date():
        return when.strftime("%H:%M:%S")
    return when.strftime("%b %d %H:%M:%S")


def timestamp(value: object) -> str:
    """A full local date and time: `2026-12-02 12:01:03`."""
    when = parse_time(value)
    return _unreadable(value) if when is None else when.strftime("%Y-%m-%d %H:%M:%S")


def relative(value: object, now: datetime | None = None) -> str:
    """How long ago: `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `yesterday`, `4 days ago`,
    then the date (`2026-10-30`); a time in the future is `in the future`."""
    when = parse_time(value)
    if when is None:
        return _unreadable(value)
    now = (now or datetime.now()).astimezone()
    seconds = (now - when).total_seconds()
    if seconds < -1:
        return "in the future"
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86_400:
        return f"{seconds // 3600:.0f} h ago"
    days = (now.date() - when.date()).days
    if days <= 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return when.strftime("%Y-%m-%d")


def _unreadable(value: object) -> str:
    return DASH if value is None or value == "" else str(value)
