"""Stream debugger: what happened in one recorded stream, with findings tied to chunks.

``analysis`` is the entry point (`analyse`), ``scan`` the one pass over the chunks,
``checks`` turns what the scan found into findings (worded in ``findings``), ``result`` is
what an analysis gives, ``readers`` small readers they share.
"""

from __future__ import annotations

from relayscope.analysis.stream_analysis.analysis import analyse
from relayscope.analysis.stream_analysis.checks import MAX_PER_CODE as MAX_PER_CODE
from relayscope.analysis.stream_analysis.checks import MIN_TOKENS_OFF as MIN_TOKENS_OFF
from relayscope.analysis.stream_analysis.checks import USAGE_FACTOR as USAGE_FACTOR
from relayscope.analysis.stream_analysis.result import (
    ERROR,
    INFO,
    WARNING,
    Finding,
    StreamAnalysis,
    stall_threshold_ms,
)

__all__ = [
    "ERROR",
    "INFO",
    "WARNING",
    "Finding",
    "StreamAnalysis",
    "analyse",
    "stall_threshold_ms",
]
