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
if [ $# -gt 0 ]; then
  exec .venv/bin/pytest "$@"
fi
# The tests marked slow (the PyInstaller build, the mixed-load test, the latest Codex) are
# heavy on one core and assert no timing; the rest of the suite leaves the second core mostly
# idle. So they run beside it, and both must pass.
mkdir -p .cache
.venv/bin/pytest -m slow -p no:cacheprovider > .cache/slow-tests.log 2>&1 &
slow=$!
status=0
.venv/bin/pytest -m "not slow" || status=$?
slow_status=0
wait "$slow" || slow_status=$?
echo "--- the tests marked slow, run beside the others (.cache/slow-tests.log) ---"
cat .cache/slow-tests.log
[ "$status" -eq 0 ] && [ "$slow_status" -eq 0 ]
