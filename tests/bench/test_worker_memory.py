"""Smoke test for bench/worker_memory.py: a short run of the real worker with the memory probe
reports what both processes hold, phase by phase."""

from __future__ import annotations

import re

import pytest

from bench import worker_memory


def test_a_probed_phase_reports_both_processes(capsys: pytest.CaptureFixture[str]) -> None:
    small = ["--calls", "20", "--words1", "30", "--words16", "10", "--words64", "10"]
    assert worker_memory.main(["--phases", "1", "--probe", "--frames", "2", *small]) == 0
    out = capsys.readouterr().out
    assert "lost or failed: 0;" in out
    assert out.count("gc-tracked objects:") == 4  # both processes, at the start and after
    assert out.count("glibc malloc:") == 4
    assert out.count("pymalloc:") == 2  # the worker's hides behind tracemalloc's hooks
    assert "live Python memory allocated since serving began" in out
    assert re.search(r"^\| phase 1 \| [1-9][0-9]* \| [0-9.]+ \(", out, re.MULTILINE)
