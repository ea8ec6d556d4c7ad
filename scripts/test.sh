#!/usr/bin/env bash
# `make test`: every test in the workspace (unit, property, and integration tests that run
# real servers on random ports, a real redis-server and promtool), then the front page in
# headless Chromium (scripts/browser-test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in redis-server promtool; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "make test needs $tool on PATH; install it with scripts/install-test-tools.sh" >&2
    exit 1
  fi
done

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

scripts/browser-test.sh
