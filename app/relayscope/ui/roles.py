"""Role: every custom Qt item data role of Relayscope's models, numbered in one place.

Two roles with the same number mean a view asking one question gets the other's answer
(the grouped call list once handed the Gaps painter a turn id), so they all live here and
`@unique` refuses a duplicate at import. In `data()`, compare against the members cached as
ints (`int(Role.GAPS)`): comparing with enum members there slows every repaint.
"""

from __future__ import annotations

from enum import IntEnum, unique

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QIcon

_USER = int(Qt.ItemDataRole.UserRole)


@unique
class Role(IntEnum):
    #: The call id of a row (for views, copy actions and tests); a turn's row: its newest call.
    CALL_ID = _USER + 1
    #: The row's raw values as a dict (the call list's SQL columns).
    CALL_ROW = _USER + 2
    #: A finished stream's gap profile for the Gaps sparkline: (gaps in ms, stall threshold ms).
    GAPS = _USER + 3
    #: The turn id of a grouped turn's row (None on a call's row).
    TURN = _USER + 4
    #: The chunk a stream finding points at (None for findings about the whole call).
    FINDING_SEQ = _USER + 5
    #: A session turn's context composition: {part: characters} (`prompts.PARTS`).
    CONTEXT = _USER + 6
    #: Everything the call list's delegate paints in one cell, as a `Cell`: one question
    #: per cell instead of seven (display, alignment, colours, icon, font, gaps).
    CELL = _USER + 7


#: A call list cell as painted: (text, text colour or None for the palette's, background or
#: None, status icon or None, bold, the Gaps sparkline's profile or None). The alignment is
#: the column's (`call_list_model.COLUMNS`).
Cell = tuple[
    str, QColor | None, QBrush | None, QIcon | None, bool, tuple[list[float], float] | None
]
