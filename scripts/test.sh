#!/usr/bin/env bash
# The one test command (`make test`, called by .ci/run): set-up, lint, types, the whole suite
# against real SQLite, PostgreSQL, Redis and OpenBao. A missing service fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (Debian)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi

echo "== services"
python3 - <<'PY'
import socket, sys
missing = []
for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        missing.append(f"{name} (127.0.0.1:{port})")
if missing:
    sys.exit("required services not reachable: " + ", ".join(missing))
PY

# One OpenBao dev server for the whole run (tests that stop OpenBao start their own).
bao_dir=$(mktemp -d)
bao_port=$(uv run --frozen python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bao_token="root-$(uv run --frozen python -c 'import secrets; print(secrets.token_hex(8))')"
uv run --frozen bao server -dev -dev-root-token-id="$bao_token" \
  -dev-listen-address="127.0.0.1:$bao_port" >"$bao_dir/bao.log" 2>&1 &
bao_pid=$!
trap 'kill $bao_pid 2>/dev/null || true; rm -rf "$bao_dir"' EXIT
export RAMPART_TEST_VAULT_ADDR="http://127.0.0.1:$bao_port" RAMPART_TEST_VAULT_TOKEN="$bao_token"
for _ in $(seq 1 50); do
  curl -fs "$RAMPART_TEST_VAULT_ADDR/v1/sys/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$RAMPART_TEST_VAULT_ADDR/v1/sys/health" >/dev/null || { cat "$bao_dir/bao.log"; echo "OpenBao did not start" >&2; exit 1; }

echo "== ruff"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
echo "== mypy"
uv run --frozen mypy
echo "== pytest"
uv run --frozen pytest -n "${RAMPART_TEST_WORKERS:-2}" "$@"
# Every benchmark for a few seconds, so none rots; it fails only when one stops running.
if [ "$#" -eq 0 ]; then
  echo "== benchmarks (smoke)"
  bash scripts/bench.sh --smoke
fi
