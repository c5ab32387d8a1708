#!/usr/bin/env bash
# Set up (first time only) and open the Relayscope desktop app. Extra arguments go to it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash dev/setup.sh
exec .venv/bin/relayscope "$@"
