"""A Codex turn's row in the grouped call list: its calls and the texts its row shows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont

from relayscope.analysis.cost import CostTotal, Pricer, default_pricer
from relayscope.ui import theme
from relayscope.ui.call_list_model import (
    COLUMN,
    CallListModel,
    format_count,
    format_ms,
    format_time,
    format_tokens,
    parse_started,
    row_cost,
)
from relayscope.ui.plain_text import plain_tooltip
from relayscope.ui.roles import Cell, Role

EXPANDED, COLLAPSED = "▾", "▸"
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_CALL_ID, _CALL_ROW, _GAPS = int(Role.CALL_ID), int(Role.CALL_ROW), int(Role.GAPS)
_TURN, _CELL = int(Role.TURN), int(Role.CELL)
_TIME, _MODEL, _STATUS = COLUMN["time"], COLUMN["model"], COLUMN["status"]
_DURATION, _COST = COLUMN["duration"], COLUMN["cost"]
_GAPS_COLUMN = COLUMN["gaps"]
_COLOURED = (_STATUS, COLUMN["state"])


# A row of the grouped list: a turn's row ("g", turn_id) or a call's row ("c", call_id).
Key = tuple[str, str]


@dataclass(slots=True)
class Turn:
    """One Codex turn: its loaded calls (in the list's order) and its row's texts.

    `anchor` is the call whose place the turn's row takes: the earliest started (the first
    in the list among equals), so the row sits where its first request does.
    """

    turn_id: str
    calls: list[str] = field(default_factory=list)
    anchor: str = ""
    texts: list[str] = field(default_factory=list)
    kind: str = "idle"
    live: bool = False
    first_started: float = 0.0
    newest: str = ""
    #: The call whose longest gap the row shows (its sparkline is the row's); None: no gaps.
    gappiest: str | None = None
    #: Its calls changed since the texts were rendered (rendered again when next shown).
    dirty: bool = True
    #: What the delegate paints in each column (`Role.CELL`), built from the texts when the
    #: row is first painted after a render, for the palette `cells_dark` (the live elapsed
    #: time and the cost are filled in at each paint).
    cells: list[Cell] | None = None
    cells_dark: bool = False
    #: The cost's text and the pricer that priced it (None: price it at the next paint).
    cost: tuple[Pricer, str] | None = None


def lay_out(
    loaded: list[dict[str, Any]], expanded: set[str]
) -> tuple[list[Key], dict[str, Turn], dict[str, str]]:
    """The grouped list's rows for the list's loaded rows (in its order), its turns, and
    each call's turn: O(loaded rows)."""
    turns: dict[str, Turn] = {}
    turn_of: dict[str, str] = {}
    anchor_started: dict[str, str] = {}
    for values in loaded:
        turn_id = call_turn(values)
        if turn_id is None:
            continue
        call_id = str(values["id"])
        turn = turns.get(turn_id)
        if turn is None:
            turn = turns[turn_id] = Turn(turn_id)
        turn.calls.append(call_id)
        turn_of[call_id] = turn_id
        started = started_of(values)
        if not turn.anchor or started < anchor_started[turn_id]:
            turn.anchor, anchor_started[turn_id] = call_id, started
    keys: list[Key] = []
    for values in loaded:
        call_id = str(values["id"])
        turn_id = turn_of.get(call_id)
        if turn_id is None:
            keys.append(("c", call_id))
        elif turns[turn_id].anchor == call_id:
            keys.append(("g", turn_id))
            if turn_id in expanded:
                keys += [("c", c) for c in turns[turn_id].calls]
    return keys, turns, turn_of


def call_turn(values: dict[str, Any]) -> str | None:
    turn = values.get("turn_id")
    return str(turn) if turn else None


def started_of(values: dict[str, Any]) -> str:
    return str(values.get("started_at") or "")


def render_turn(turn: Turn, calls: list[dict[str, Any]], expanded: bool) -> None:
    """Fill the turn's texts from its calls' values (in the list's order): O(its calls),
    paid when the row is shown after a change, never for rows nobody looks at."""
    by_time = sorted(calls, key=lambda v: str(v.get("started_at") or ""))
    first, last = by_time[0], by_time[-1]
    started = parse_started(first.get("started_at"))
    turn.first_started = started.timestamp() if started else time.time()
    turn.newest = str(last["id"])
    gapped = [v for v in calls if v.get("max_gap_ms") is not None]
    gappiest = max(gapped, key=lambda v: float(v["max_gap_ms"])) if gapped else None
    turn.gappiest = str(gappiest["id"]) if gappiest else None
    turn.kind = theme.status_kind(last.get("status"), last.get("state"))
    turn.live = any(v.get("state") in theme.LIVE_STATES for v in calls)
    ends = [_end(v) for v in calls]
    known = [e for e in ends if e is not None]
    wall = (max(known) - turn.first_started) * 1000 if known else None
    providers = list(dict.fromkeys(str(v.get("provider") or "—") for v in calls))
    models = list(dict.fromkeys(str(v.get("model") or "—") for v in calls))
    count = len(calls)
    status = last.get("status")
    arrow = EXPANDED if expanded else COLLAPSED
    turn.texts = [
        f"{arrow} {format_time(started)}",
        ", ".join(providers),
        f"{', '.join(models)}  ·  {count} request{'s' if count != 1 else ''}",
        str(first.get("endpoint") or "—"),
        str(status) if status is not None else ("…" if turn.live else "—"),
        str(last.get("state") or "—"),
        "SSE" if any(v.get("stream") for v in calls) else "",
        format_ms(first.get("ttft_ms")),
        format_ms(wall),
        format_tokens(*_token_sums(calls)),
        _chunks_text(calls),
        _longest_gap_text(calls),
        "",  # the cost: priced when painted (turn_cost_text)
    ]
    turn.dirty = False
    turn.cells = None
    turn.cost = None


def turn_values(source: CallListModel, turn: Turn) -> list[dict[str, Any]]:
    """The values of the turn's calls, read from the list (in its order)."""
    rows = [source.row_of(c) for c in turn.calls]
    return [source.values_at(r) for r in rows if r is not None]


def turn_data(
    source: CallListModel, turn: Turn, column: int, role: int, *, expanded: bool, bold: QFont
) -> Any:
    """What the turn's row shows in `column` for `role` (`QAbstractItemModel.data`)."""
    if not turn.calls:
        return None  # on its way out
    if turn.dirty:
        render_turn(turn, turn_values(source, turn), expanded)
    if role == _DISPLAY:
        if turn.live and column == _DURATION:
            elapsed = max(0.0, time.time() - turn.first_started) * 1000
            return format_ms(elapsed) + " …"
        if column == _COST:
            return _cost_text(source, turn)
        return turn.texts[column]
    if role == _CELL:
        cells = turn_cells(source, turn, [column], expanded=expanded, dark=theme.is_dark())
        return cells[0]
    if role == _FONT:
        return bold if column in (_TIME, _MODEL) else None
    if role == _DECORATION:
        return theme.status_icon(turn.kind, 0, theme.is_dark()) if column == _STATUS else None
    if role in (_FOREGROUND, _BACKGROUND):
        dark = theme.is_dark()
        if role == _FOREGROUND:
            return QBrush(theme.kind_colour(turn.kind, dark=dark)) if column in _COLOURED else None
        alert = turn.kind in ("error", "warning")
        return QBrush(theme.row_alert_background(turn.kind, dark=dark)) if alert else None
    if role == _TOOLTIP:
        return plain_tooltip(
            f"Codex turn {turn.turn_id}\n{len(turn.calls)} requests loaded "
            f"(double-click or → to {'fold' if expanded else 'unfold'})"
        )
    if role == _CALL_ID:
        return turn.newest
    if role == _TURN:
        return turn.turn_id
    if role in (_CALL_ROW, _GAPS):
        call = turn.newest if role == _CALL_ROW else turn.gappiest
        row = source.row_of(call) if call else None
        if row is None:
            return None
        if role == _CALL_ROW:
            return dict(source.values_at(row))
        return source.data(source.index(row, column), role)
    first = source.row_of(turn.calls[0])
    return None if first is None else source.data(source.index(first, column), role)


def turn_cells(
    source: CallListModel, turn: Turn, columns: list[int], *, expanded: bool, dark: bool
) -> list[Cell | None]:
    """What the delegate paints in these columns of the turn's row (`Role.CELL`: display,
    colours, icon, bold and Gaps at once). A repaint of a turn nobody changed costs a list
    look-up a cell: the cells are built once a render (and palette)."""
    if not turn.calls:
        return [None] * len(columns)  # on its way out
    if turn.dirty:
        render_turn(turn, turn_values(source, turn), expanded)
    cells = turn.cells
    if cells is None or turn.cells_dark != dark:
        cells = turn.cells = [_cell(source, turn, c, dark) for c in range(len(turn.texts))]
        turn.cells_dark = dark
    answer: list[Cell | None] = []
    for column in columns:
        cell = cells[column]
        if column == _COST:
            cell = (_cost_text(source, turn), *cell[1:])
        elif column == _DURATION and turn.live:
            elapsed = max(0.0, time.time() - turn.first_started) * 1000
            cell = (format_ms(elapsed) + " …", *cell[1:])
        answer.append(cell)
    return answer


def _cell(source: CallListModel, turn: Turn, column: int, dark: bool) -> Cell:
    """A column's cell as the roles answer it (the display text as rendered)."""
    foreground = theme.kind_colour(turn.kind, dark=dark) if column in _COLOURED else None
    alert = turn.kind in ("error", "warning")
    background = QBrush(theme.row_alert_background(turn.kind, dark=dark)) if alert else None
    icon = theme.status_icon(turn.kind, 0, dark) if column == _STATUS else None
    gaps = None
    if column == _GAPS_COLUMN and turn.gappiest is not None:
        row = source.row_of(turn.gappiest)
        if row is not None:
            gaps = source.data(source.index(row, column), _GAPS)
    return (turn.texts[column], foreground, background, icon, column in (_TIME, _MODEL), gaps)


def _cost_text(source: CallListModel, turn: Turn) -> str:
    """The turn's cost, priced once a render and pricer (again at each paint while the
    prices load)."""
    pricer = default_pricer()
    if turn.cost is None or turn.cost[0] is not pricer:
        text = turn_cost_text(turn_values(source, turn))
        if text == "…":
            return text
        turn.cost = (pricer, text)
    return turn.cost[1]


def turn_cost_text(calls: list[dict[str, Any]]) -> str:
    """The turn's calls' cost summed ("$0.04 + 1 unknown"), "…" while prices load."""
    total = CostTotal()
    for values in calls:
        if values.get("state") in theme.LIVE_STATES:
            continue
        cost = row_cost(values)
        if cost is None:
            return "…"
        total = total.add(cost)
    return total.text() if total.priced or total.unknown else ""


def _end(values: dict[str, Any]) -> float | None:
    started = parse_started(values.get("started_at"))
    duration = values.get("duration_ms")
    if started is None or duration is None:
        return None
    return started.timestamp() + float(duration) / 1000


def _token_sums(calls: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    prompts = [int(v["prompt_tokens"]) for v in calls if v.get("prompt_tokens") is not None]
    outputs = [int(v["completion_tokens"]) for v in calls if v.get("completion_tokens") is not None]
    return (sum(prompts) if prompts else None, sum(outputs) if outputs else None)


def _chunks_text(calls: list[dict[str, Any]]) -> str:
    """The turn's streamed chunks (blank, like a call's, when nothing streamed)."""
    streamed = [int(v.get("chunk_count") or 0) for v in calls if v.get("stream")]
    return format_count(sum(streamed)) if streamed else ""


def _longest_gap_text(calls: list[dict[str, Any]]) -> str:
    gaps = [float(v["max_gap_ms"]) for v in calls if v.get("max_gap_ms") is not None]
    return format_ms(max(gaps)) if gaps else ""
