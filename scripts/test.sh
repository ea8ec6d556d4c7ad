#!/usr/bin/env bash
# `make test`: every test in the workspace (unit, property, and integration tests that run
# real servers on random ports, a real redis-server and promtool), then the front page in
# headless Chromium (scripts/browser-test.sh).
#
# On a fresh machine with only the Rust toolchain it sets itself up first: whatever is missing
# (redis-server, promtool, cargo-nextest; Chromium, Node and the browser test's npm packages)
# is installed by scripts/install-test-tools.sh and scripts/install-browser-tools.sh, with sudo
# when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in redis-server promtool; do
  command -v "${tool}" > /dev/null 2>&1 || missing+=("${tool}")
done
cargo nextest --version > /dev/null 2>&1 || missing+=(cargo-nextest)
if ((${#missing[@]})); then
  echo "make test: installing ${missing[*]} (scripts/install-test-tools.sh)" >&2
  scripts/install-test-tools.sh
fi
# The browser the test launches (tests/browser, scripts/install-browser-tools.sh).
if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]] || ! command -v node > /dev/null 2>&1 \
  || [[ ! -d tests/browser/node_modules/playwright-core ]]; then
  echo "make test: installing the browser test's tools (scripts/install-browser-tools.sh)" >&2
  scripts/install-browser-tools.sh
fi

cargo nextest run --workspace --no-fail-fast
scripts/browser-test.sh
