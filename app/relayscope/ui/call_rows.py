"""The call list's columns and rows: what each column shows and how a row's values become
the strings painted (pure, apart from Qt's brushes kept by the model).

Split from `call_list_model` (the model, paging and counting) so each reads on its own.
Durations, counts, tokens and times use the shared `relayscope.calls.formatting`, so a cell
says what the inspector and the CLI say of the same call.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relayscope.analysis.cost import (
    Cost,
    Pricer,
    default_pricer,
    load_prices_in_background,
    prices_loaded,
)
from relayscope.calls import formatting
from relayscope.ui import theme


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    sort_by: str  # the SQL column; "" for a column that cannot be sorted in SQL
    numeric: bool = False

    @property
    def sortable(self) -> bool:
        return bool(self.sort_by)


COLUMNS: tuple[Column, ...] = (
    Column("time", "Time", "started_at"),
    Column("provider", "Provider", "provider"),
    Column("model", "Model", "model"),
    Column("endpoint", "Endpoint", "endpoint"),
    Column("status", "Status", "status"),
    Column("state", "State", "state"),
    Column("stream", "Stream", "stream"),
    Column("ttft", "TTFT", "ttft_ms", numeric=True),
    Column("duration", "Duration", "duration_ms", numeric=True),
    Column("tokens", "Tokens in / out", "total_tokens", numeric=True),
    Column("chunks", "Chunks", "chunk_count", numeric=True),
    Column("gaps", "Gaps", "max_gap_ms", numeric=True),  # a sparkline and the longest gap
    # Priced when shown (costs are never stored, so SQL cannot order by them): not sortable.
    # Last, and not in ListRow.texts: data() prices it for the rows painted.
    Column("cost", "Cost", "", numeric=True),
)
COLUMN = {c.key: i for i, c in enumerate(COLUMNS)}

#: The columns read for each row (never the bodies: a page stays a few kilobytes).
SQL_COLUMNS = (
    "id",
    "started_at",
    "provider",
    "model",
    "endpoint",
    "status",
    "state",
    "stream",
    "ttft_ms",
    "first_byte_ms",
    "hold_ms",
    "duration_ms",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",  # with the model and response_model: what prices the row (Cost)
    "reasoning_tokens",
    "response_model",
    "chunk_count",
    "error",
    "path",
    "session_id",
    "turn_id",  # Codex: the requests and retries of one user message (CallGroupModel)
    "max_gap_ms",
    "gap_profile",
)
_LIVE = theme.LIVE_STATES
#: A row's gap profile before it is first painted (then parsed: the profile or None).
UNPARSED = object()


# -- formatting (pure) --------------------------------------------------------------------


#: Durations (Duration, TTFT, Gaps, a live call's elapsed time): the shared formatting
#: module's, so the list, the inspector and the CLI say the same of the same call.
format_ms = formatting.duration_ms


#: A count (`1,204`) and tokens in / out (`9 / 812`): the shared formatting module's, the same
#: output the list had.
format_count = formatting.tokens
format_tokens = formatting.tokens_in_out


@functools.lru_cache(maxsize=4096)
def _priced(pricer: Pricer, usage: tuple[Any, ...]) -> Cost:
    keys = ("model", "provider", "response_model", "started_at", *_PRICED_USAGE)
    return pricer.price(dict(zip(keys, usage, strict=True)))


_PRICED_USAGE = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")


def row_cost(values: dict[str, Any]) -> Cost | None:
    """A row's cost by the app's pricer, cached by what prices it (so a live row whose usage
    arrives is priced again, and a changed config's new pricer prices every row again);
    None while the price list is still loading (on its own thread: a paint never waits)."""
    if not prices_loaded():
        load_prices_in_background()
        return None
    key = (
        values.get("model"),
        values.get("provider"),
        values.get("response_model"),
        str(values.get("started_at") or "")[:10],  # list prices change by the day at most
        *(values.get(k) for k in _PRICED_USAGE),
    )
    return _priced(default_pricer(), key)


def parse_started(started_at: str | None) -> datetime | None:
    return formatting.parse_time(started_at)


def format_time(started: datetime | None, today: datetime | None = None) -> str:
    """Local `12:01:03` today, `Mar 02 12:01:03` on other days."""
    if started is None:
        return "—"
    today = today or datetime.now().astimezone()
    if started.date() == today.date():
        return started.strftime("%H:%M:%S")
    return started.strftime("%b %d %H:%M:%S")


# -- rows ---------------------------------------------------------------------------------


class ListRow:
    """One loaded call: raw values plus its display strings, computed once."""

    __slots__ = ("_started", "id", "kind", "live", "profile", "stale", "texts", "values")

    def __init__(self, values: dict[str, Any], started: float | None = None) -> None:
        self.values = values
        self.id = str(values["id"])
        self._started = started
        self.texts: list[str] = []
        self.profile: object = UNPARSED  # then parse_gap_profile(...): (gaps, stall) or None
        # The texts are rendered when the row is first painted: most rows never are
        # (a page read for a scroll past them, calls arriving faster than anyone reads).
        self.mark_stale()

    @property
    def started(self) -> float:
        """When the call started (epoch seconds): read from its values when first asked
        (a live row's elapsed time), not for each row of a page."""
        if self._started is None:
            when = parse_started(self.values.get("started_at"))
            self._started = when.timestamp() if when else time.time()
        return self._started

    def mark_stale(self) -> None:
        """Its values changed: state and colour now, the texts when the row is next shown
        (under heavy traffic most changed rows are never painted)."""
        v = self.values
        self.kind = theme.status_kind(v.get("status"), v.get("state"))
        self.live = v.get("state") in _LIVE
        self.stale = True
        self.profile = UNPARSED

    def render(self, today: datetime, started: datetime | None = None) -> None:
        v = self.values
        self.stale = False
        status, state = v.get("status"), v.get("state")
        self.kind = theme.status_kind(status, state)
        self.live = state in _LIVE
        stream = bool(v.get("stream"))
        if started is None:
            started = parse_started(v.get("started_at"))
        self.texts = [
            format_time(started, today),
            v.get("provider") or "—",
            v.get("model") or "—",
            v.get("endpoint") or "—",
            str(status) if status is not None else ("…" if self.live else "—"),
            state or "—",
            "SSE" if stream else "",
            format_ms(v.get("ttft_ms")),
            format_ms(v.get("duration_ms")),
            format_tokens(v.get("prompt_tokens"), v.get("completion_tokens")),
            format_count(v.get("chunk_count")) if stream else "",
            format_ms(v.get("max_gap_ms")) if v.get("max_gap_ms") is not None else "",
        ]
        self.profile = UNPARSED  # parsed when the row is first painted (Role.GAPS)


def parse_gap_profile(text: str | None) -> tuple[list[float], float] | None:
    """`calls.gap_profile` as (gaps, stall threshold), or None if absent or unreadable."""
    if not text:
        return None
    try:
        profile = json.loads(text)
        gaps = [float(g) for g in profile["max"]]
        stall = float(profile["stall"])
    except (ValueError, TypeError, KeyError):
        return None
    return (gaps, stall) if gaps else None


def row_runs(rows: list[int], slack: int = 0) -> list[tuple[int, int]]:
    """Sorted row numbers as contiguous (first, last) runs (`slack`: runs at most that many
    rows apart are joined)."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and row - runs[-1][1] <= slack + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
