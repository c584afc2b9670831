#!/usr/bin/env bash
# Creates the virtual environment from the lock file (installs uv from PyPI when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv>=0.5"
fi
uv sync --frozen --quiet
