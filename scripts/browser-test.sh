#!/usr/bin/env bash
# The front page in headless Chromium against the real `mathapi` binary (tests/browser).
# Install its tools once with scripts/install-browser-tools.sh. The browser is $CHROMIUM
# (default /usr/bin/chromium), the path the installer checks too. Outside CI a machine
# without the tools skips the test with a note; under CI=true it fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -d tests/browser/node_modules/playwright-core ]] || ! command -v node >/dev/null 2>&1 \
  || [[ ! -x "${CHROMIUM}" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "browser test: playwright-core, node or ${CHROMIUM} missing; CI must run scripts/install-browser-tools.sh" >&2
    exit 1
  fi
  echo "browser test skipped: run scripts/install-browser-tools.sh to enable it" >&2
  exit 0
fi

cargo build -p mathapi --bin mathapi
MATHAPI_BIN="$PWD/target/debug/mathapi" node --test tests/browser/
