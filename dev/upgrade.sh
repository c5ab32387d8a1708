#!/usr/bin/env bash
# Upgrade the locked dependencies on purpose: relock to the newest versions pyproject.toml
# allows (or only the packages named, e.g. `bash dev/upgrade.sh mitmproxy openai`), install
# them, and run every check. Commit uv.lock only if the checks pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash dev/setup.sh
uv=.cache/uv/bin/uv
if [ $# -eq 0 ]; then
  "$uv" lock --upgrade
else
  args=()
  for pkg in "$@"; do args+=(--upgrade-package "$pkg"); done
  "$uv" lock "${args[@]}"
fi
git --no-pager diff --stat -- uv.lock || true
bash dev/test.sh
