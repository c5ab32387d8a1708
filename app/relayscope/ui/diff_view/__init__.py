"""DiffView: two recorded calls side by side: request changes, answer word by word, numbers.

A face on `relayscope.actions.diff.diff_calls`. Every change reads without colour too: a sign and a
word (+ added, − removed, ~ changed), struck-through deletions and underlined insertions.
`view` is the window, `tables` the numbers tables, `text` what they write.
"""

from __future__ import annotations

from relayscope.ui.diff_view.text import answer_html
from relayscope.ui.diff_view.view import DiffView

__all__ = ["DiffView", "answer_html"]
