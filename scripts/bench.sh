#!/usr/bin/env bash
# Side-by-side benchmarks (`make bench`): installs wrk from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if ! command -v wrk >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
fi
exec uv run --frozen python -m benchmarks "$@"
