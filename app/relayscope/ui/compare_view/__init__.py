"""CompareView: one request sent to several providers or models at once, answers side by side.

A face on `actions.compare`: tick targets, Run, and watch one column per target stream in;
the summary table below is read from the recorded calls (`CompareResult.summaries`), so its
figures are the ones the call list shows. Every run is saved as a group to reopen and rerun.

``view`` is the window with its setup form and the running, ``targets`` the targets table,
``results`` the columns and the summary table, ``columns`` one target's column,
``groups_dialog`` the saved comparisons.
"""

from __future__ import annotations

from relayscope.ui.compare_view.columns import SUMMARY_COLUMNS, TargetColumn
from relayscope.ui.compare_view.columns import summary_cells as summary_cells
from relayscope.ui.compare_view.groups_dialog import GroupsDialog
from relayscope.ui.compare_view.view import CompareView

__all__ = ["SUMMARY_COLUMNS", "CompareView", "GroupsDialog", "TargetColumn"]
