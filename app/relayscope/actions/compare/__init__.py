"""Sends one request to several providers or models at once, through the proxy, as a group.

`targets` holds what a comparison is made of (targets, the group, each target's summary),
`running` sends the copies and sums them up, `groups` saves and reads groups.
"""

from __future__ import annotations

from relayscope.actions.compare.groups import list_groups, load_group, match_rows, save_group
from relayscope.actions.compare.running import RECORD_TIMEOUT, CompareEvent, compare, rerun
from relayscope.actions.compare.targets import CompareResult, Group, Target, TargetSummary

__all__ = [
    "RECORD_TIMEOUT",
    "CompareEvent",
    "CompareResult",
    "Group",
    "Target",
    "TargetSummary",
    "compare",
    "list_groups",
    "load_group",
    "match_rows",
    "rerun",
    "save_group",
]
