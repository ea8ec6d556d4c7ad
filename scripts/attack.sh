#!/usr/bin/env bash
# `make attack`: the release `mathapi` under the attacks its memory and scrape bounds are
# stated against (docs/reliability.md#memory-under-attack), its RSS read from /proc:
#
#   headers   ATTACK_SOCKETS (3,500) sockets each sending ATTACK_HEAD_BYTES (390 KB) of a
#             request head that never ends, ATTACK_ROUNDS (3) times: RSS at the peak of each
#             round and 2 s after its sockets closed, against the baseline; then one round
#             of 15,000 bytes each (just under the bound), held until the header timeout
#   cache     a scan of distinct large answers (factorial 5,000-10,000, fibonacci
#             50,000-100,000), ATTACK_SCAN_PASSES (4) times, with a 64 MiB render cache and
#             with the cache off: RSS after each pass against baseline + 1.25 x budget
#   metrics   hostile methods and paths, then /metrics scraped by 64 connections (wrk) with
#             /health probed meanwhile: page size, series, /health latency
#
# RSS is in MiB (VmRSS / 1024). Writes target/attack/{headers,headers_held,cache,cache_off,metrics}.json and
# target/attack/summary.txt. About five minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKETS=${ATTACK_SOCKETS:-3500}
HEAD_BYTES=${ATTACK_HEAD_BYTES:-390000}
ROUNDS=${ATTACK_ROUNDS:-3}
SCAN_PASSES=${ATTACK_SCAN_PASSES:-4}
# Which attacks to run (the summary shows the latest results of each).
ONLY=${ATTACK_ONLY:-headers cache metrics}
CACHE_BYTES=$((64 * 1024 * 1024))
OUT=target/attack
# serve, stop, SERVER, ADDRESS: the release mathapi on loopback, stopped on exit.
# shellcheck source=scripts/release-server.sh
source scripts/release-server.sh

if [[ -z ${SKIP_BUILD:-} ]]; then
  cargo build --release --bin mathapi
fi
ulimit -n $((SOCKETS + 1024))

settle() { sleep 2; }

runs() { [[ " $ONLY " == *" $1 "* ]]; }

if runs headers; then
  echo "== headers: $SOCKETS sockets x $HEAD_BYTES bytes of an unfinished head, $ROUNDS rounds"
  serve
  settle
  python3 scripts/attack.py headers "$ADDRESS" "$SERVER" "$SOCKETS" "$HEAD_BYTES" "$ROUNDS" \
    >"$OUT/headers.json"
  echo "== headers held: $SOCKETS sockets x 15,000 bytes (just under the bound), held until the header timeout"
  python3 scripts/attack.py headers "$ADDRESS" "$SERVER" "$SOCKETS" 15000 1 >"$OUT/headers_held.json"
  stop
fi

large_paths() {
  { seq 5000 10000 | sed 's|.*|/factorial/&/|'
    seq 50000 10 100000 | sed 's|.*|/fibonacci/&/|'; } | shuf --random-source=<(yes)
}
large_paths >"$OUT/scan-paths.txt"
caps=(--factorial-max-n 10000 --fibonacci-max-n 100000)

scan() { # name cache-bytes: SCAN_PASSES passes of the scan on a fresh server
  local name=$1 bytes=$2 baseline passes=()
  serve "${caps[@]}" --render-cache-bytes "$bytes"
  settle
  baseline=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER/status")
  for _ in $(seq "$SCAN_PASSES"); do
    passes+=("$(python3 scripts/attack.py scan "$ADDRESS" "$SERVER" "$OUT/scan-paths.txt")")
  done
  printf '{"budget_bytes": %s, "baseline_mb": %s, "passes": [%s]}\n' \
    "$bytes" "$baseline" "$(IFS=,; echo "${passes[*]}")" >"$OUT/$name.json"
  stop
}
if runs cache; then
  echo "== cache: a scan of distinct large answers, 64 MiB cache, then the cache off"
  scan cache "$CACHE_BYTES"
  scan cache_off 0
fi

if runs metrics; then
  echo "== metrics: hostile traffic, then 64 connections scraping /metrics"
  serve
  settle
  python3 scripts/attack.py metrics "$ADDRESS" "$SERVER" 10 >"$OUT/metrics.json"
  stop
fi

python3 - "$OUT" <<'EOF' | tee "$OUT/summary.txt"
import json
import sys

out = sys.argv[1]
for name in ("headers", "headers_held"):
    headers = json.load(open(f"{out}/{name}.json"))
    print(f"{name}: baseline {headers['baseline_mb']} MiB")
    for i, r in enumerate(headers["rounds"], 1):
        print(
            f"  round {i}: {r['opened']} sockets, answers {r['answers']}, "
            f"peak {r['peak_mb']} MiB, 2 s after {r['after_mb']} MiB"
        )
for name in ("cache", "cache_off"):
    c = json.load(open(f"{out}/{name}.json"))
    bound = c["baseline_mb"] + 1.25 * c["budget_bytes"] / 2**20
    after = ", ".join(str(p["after_mb"]) for p in c["passes"])
    first = c["passes"][0]
    print(
        f"{name}: budget {c['budget_bytes'] / 2**20:.0f} MiB, baseline {c['baseline_mb']} MiB, "
        f"after each pass {after} MiB ({first['requests']} requests a pass, statuses "
        f"{first['statuses']}); bound baseline + 1.25 x budget = {bound:.1f} MiB"
    )
m = json.load(open(f"{out}/metrics.json"))
print(
    f"metrics: page {m['page_bytes']} bytes, {m['series']} series after hostile traffic; "
    f"/health p50/p99 quiet {m['health_quiet_ms']['p50']}/{m['health_quiet_ms']['p99']} ms, "
    f"during 64 scrapers {m['health_during_scrapes_ms']['p50']}/"
    f"{m['health_during_scrapes_ms']['p99']} ms ({m['scrapes_per_s']} scrapes/s); "
    f"RSS {m['rss_mb']} MiB"
)
EOF
