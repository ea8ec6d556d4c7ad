#!/usr/bin/env bash
# Installs what the front page's browser test (tests/browser, run by scripts/browser-test.sh)
# needs: Debian's Chromium (playwright-core drives it; no browser is ever downloaded), Node.js
# and npm, and playwright-core at the version pinned in tests/browser/package-lock.json.
# The browser is the one the test launches: $CHROMIUM, default /usr/bin/chromium (Debian's
# package); with CHROMIUM pointing at another Chromium build, none is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${CHROMIUM:-/usr/bin/chromium}"
missing=()
[[ -x "${chromium}" ]] || missing+=(chromium fonts-dejavu-core)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
if [[ ! -x "${chromium}" ]]; then
  echo "install-browser-tools: no browser at ${chromium} (set CHROMIUM to a Chromium binary)" >&2
  exit 1
fi

# playwright-core has no browser download step of its own; the variable makes sure of it.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
