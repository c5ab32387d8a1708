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
# The suite runs as three pytest processes side by side, and all three must pass:
# - the tests marked slow (the PyInstaller build, the mixed-load test, the latest Codex, the
#   browser attacks): heavy on one core, and they assert no timing;
# - the end-to-end and exchange tests (tests/e2e, tests/exchange): mostly waiting on real
#   worker processes, sockets and clients;
# - everything else (unit, UI, reliability, compatibility, security).
# One process used about 0.8 of a core for 13 minutes: most of a test's time is waiting
# (worker starts, streams, timeouts), so the halves overlap well on two cores.
mkdir -p .cache
.venv/bin/pytest -m slow -p no:cacheprovider > .cache/slow-tests.log 2>&1 &
slow=$!
.venv/bin/pytest -m "not slow" -p no:cacheprovider tests/e2e tests/exchange \
  > .cache/e2e-tests.log 2>&1 &
e2e=$!
status=0
.venv/bin/pytest -m "not slow" --ignore=tests/e2e --ignore=tests/exchange || status=$?
e2e_status=0
wait "$e2e" || e2e_status=$?
slow_status=0
wait "$slow" || slow_status=$?
echo "--- tests/e2e and tests/exchange, run beside the others (.cache/e2e-tests.log) ---"
cat .cache/e2e-tests.log
echo "--- the tests marked slow, run beside the others (.cache/slow-tests.log) ---"
cat .cache/slow-tests.log
[ "$status" -eq 0 ] && [ "$e2e_status" -eq 0 ] && [ "$slow_status" -eq 0 ]
