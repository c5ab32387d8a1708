"""Structural diff of two recorded calls: request messages and parameters, answer, usage, timing.

``changes`` holds what a diff is made of, ``request`` and ``answer`` compare each side,
``calls`` puts a whole `diff_calls` together (with the timing figures), ``output`` words it.
"""

from __future__ import annotations

from relayscope.actions.diff.answer import word_diff
from relayscope.actions.diff.calls import diff_calls
from relayscope.actions.diff.changes import OUTCOME_FIELDS as OUTCOME_FIELDS
from relayscope.actions.diff.changes import USAGE_FIELDS as USAGE_FIELDS
from relayscope.actions.diff.changes import (
    CallDiff,
    FieldChange,
    MessageChange,
    NumberChange,
    RequestDiff,
    ToolCallChange,
    ValueChange,
    WordSpan,
    canonical_json,
)
from relayscope.actions.diff.changes import Op as Op
from relayscope.actions.diff.output import diff_as_json, format_unified
from relayscope.actions.diff.output import render_words as render_words
from relayscope.actions.diff.request import diff_requests as diff_requests
from relayscope.actions.diff.request import value_changes as value_changes

__all__ = [
    "CallDiff",
    "FieldChange",
    "MessageChange",
    "NumberChange",
    "RequestDiff",
    "ToolCallChange",
    "ValueChange",
    "WordSpan",
    "canonical_json",
    "diff_as_json",
    "diff_calls",
    "format_unified",
    "word_diff",
]
