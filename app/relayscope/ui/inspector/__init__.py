"""The call inspector: the detail pane for the selected call."""

from __future__ import annotations

from relayscope.ui.inspector.call_inspector import CallInspector

__all__ = ["CallInspector"]
