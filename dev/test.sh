#!/usr/bin/env bash
# Set up (first time only) and run every check: ruff (lint + format), mypy, the whole test suite.
# Extra arguments go to pytest, e.g. `bash dev/test.sh -k stream`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash dev/setup.sh
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
