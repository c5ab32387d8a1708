#!/usr/bin/env bash
# Set up everything Relayscope needs on this machine: system libraries for Qt (Debian/Ubuntu),
# then Python 3.12+ in .venv with exactly the versions in uv.lock (the project, its
# dependencies and the test tools). Safe to run again; a second run takes about a second.
#
# Upgrading dependencies is a deliberate step: `bash dev/upgrade.sh` (relocks, syncs, runs
# every check).
set -euo pipefail
cd "$(dirname "$0")/.."

# The uv that reads uv.lock, itself pinned (installed from PyPI into .cache/uv).
UV_VERSION=0.13.9

qt_libs=(libegl1 libgl1 libx11-6 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6
         libglib2.0-0 libdbus-1-3 fonts-dejavu-core libxcb-cursor0 libxcb-icccm4 libxcb-image0
         libxcb-keysyms1 libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1
         libxcb-xkb1 libxcb-xinerama0 xvfb xauth)
# The security suite drives a real headless browser (tests/security).
test_tools=(chromium)
wanted=("${qt_libs[@]}")
[ "${RELAYSCOPE_SETUP:-test}" = "app" ] || wanted+=("${test_tools[@]}")
if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
  missing=()
  for pkg in "${wanted[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
fi

python=""
for candidate in python3.12 python3.13 python3.14 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    python=$(command -v "$candidate")
    break
  fi
done
if [ -z "$python" ] && command -v pyenv >/dev/null; then
  version=$(pyenv versions --bare | grep -E '^3\.1[2-9]' | head -n1 || true)
  [ -n "$version" ] && python="$(pyenv root)/versions/$version/bin/python"
fi
if [ -z "$python" ] || [ ! -x "$python" ]; then
  echo "Relayscope needs Python 3.12 or newer; install it (e.g. apt-get install python3.12) and retry." >&2
  exit 1
fi

uv=.cache/uv/bin/uv
if [ ! -x "$uv" ] || [ "$("$uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "Installing uv $UV_VERSION into .cache/uv"
  rm -rf .cache/uv
  "$python" -m venv .cache/uv
  .cache/uv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi

# --frozen: install what uv.lock says, never re-resolve. --locked would also refuse a
# pyproject.toml that no longer matches the lock; dev/test.sh checks that separately.
# --compile-bytecode: every .pyc written once, here. Where PYTHONDONTWRITEBYTECODE is set (as
# on our CI machines), Python would otherwise compile mitmproxy from source at every worker
# start, in memory: seconds per start, and the suite starts hundreds of workers.
UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=.venv \
  "$uv" sync --frozen --python "$python" --quiet --compile-bytecode
