#!/usr/bin/env bash
# Creates the virtual environment from the lock file (installs uv from PyPI when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv>=0.5"
fi
# Bytecode is compiled here, once: machines that set PYTHONDONTWRITEBYTECODE (this one does)
# would otherwise recompile every module on every `rampart` start (3x slower start-up).
uv sync --frozen --quiet --compile-bytecode
.venv/bin/python -m compileall -q -j 0 benchmarks cli compliance core iam policies scanners sdk \
  server vault >/dev/null

# wapiti3 (the active scan engine) in its own environment: its pins conflict with uv.lock.
# Installed from the hashed deploy/wapiti/requirements.txt (regenerate with
# `uv pip compile --python-version 3.11 --generate-hashes deploy/wapiti/requirements.in
# -o deploy/wapiti/requirements.txt`); RAMPART_SCAN_WAPITI_BINARY points at its interpreter.
if [ ! -x .venv-wapiti/bin/wapiti ] || ! cmp -s deploy/wapiti/requirements.txt .venv-wapiti/.requirements.txt; then
  uv venv --quiet --allow-existing --python "$(uv run --frozen python -c 'import sys; print(sys.executable)')" .venv-wapiti
  VIRTUAL_ENV=.venv-wapiti uv pip install --quiet --require-hashes -r deploy/wapiti/requirements.txt
  cp deploy/wapiti/requirements.txt .venv-wapiti/.requirements.txt
fi
