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
