#!/usr/bin/env bash
# Build the one-folder app into dist/relayscope/ (about a minute). Needs `bash dev/setup.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install -q 'pyinstaller>=6.10'
.venv/bin/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build \
  packaging/relayscope.spec
echo "Built dist/relayscope/relayscope"
