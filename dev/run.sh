#!/usr/bin/env bash
# Set up (first time only) and open the Relayscope desktop app. Extra arguments go to it.
set -euo pipefail
cd "$(dirname "$0")/.."
RELAYSCOPE_SETUP=app bash dev/setup.sh
exec .venv/bin/relayscope "$@"
