#!/usr/bin/env bash
# Set up everything Relayscope needs on this machine: system libraries for Qt (Debian/Ubuntu),
# Python 3.12 in .venv, and the project with its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

qt_libs=(libegl1 libgl1 libx11-6 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6
         libglib2.0-0 libdbus-1-3 fonts-dejavu-core libxcb-cursor0 libxcb-icccm4 libxcb-image0
         libxcb-keysyms1 libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1
         libxcb-xkb1 libxcb-xinerama0 xvfb xauth)
if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
  missing=()
  for pkg in "${qt_libs[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing system libraries for Qt: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
fi

python=""
for candidate in python3.12 python3.13 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ] && command -v pyenv >/dev/null; then
  python="$(pyenv root)/versions/$(pyenv versions --bare | grep -E '^3\.1[2-9]' | head -n1)/bin/python"
fi
if [ -z "$python" ] || [ ! -x "$(command -v "$python")" ]; then
  echo "Relayscope needs Python 3.12 or newer; install it (e.g. apt-get install python3.12) and retry." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.relayscope-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
