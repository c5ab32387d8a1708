#!/usr/bin/env bash
# Set up (first time only) and run every check: ruff (lint + format), mypy, the whole test suite.
# Extra arguments go to pytest, e.g. `bash dev/test.sh -k stream`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash dev/setup.sh
export QT_QPA_PLATFORM=offscreen
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set (as tests/conftest.py does for the
# processes the suite starts): in .cache/pycache, outside the source tree and .venv.
if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ]; then
  unset PYTHONDONTWRITEBYTECODE
  export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$PWD/.cache/pycache}"
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
