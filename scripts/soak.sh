#!/usr/bin/env bash
# Soak: the release `mathapi` under mixed traffic (`mathapi-traffic`) at a constant rate,
# its RSS and open file descriptors sampled every few seconds into a CSV.
#
#   scripts/soak.sh                                  # 10 minutes at 1,000 requests/s
#   SOAK_DURATION=60s SOAK_RATE=200 scripts/soak.sh  # a short one
#
# Writes target/soak/samples.csv (elapsed_s,rss_kb,fds,threads) and target/soak/summary.json
# (the traffic tool's summary), and prints the first, peak and last samples. The server
# listens on 127.0.0.1 only; the run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${SOAK_DURATION:-10m}
RATE=${SOAK_RATE:-1000}
CONCURRENCY=${SOAK_CONCURRENCY:-64}
INTERVAL=${SOAK_SAMPLE_SECONDS:-5}
OUT=target/soak
# serve, SERVER, ADDRESS: the release mathapi on loopback, stopped on exit.
# shellcheck source=scripts/release-server.sh
source scripts/release-server.sh

if [[ -z ${SKIP_BUILD:-} ]]; then
  cargo build --release --bins -p mathapi -p mathapi-traffic
fi

# shellcheck disable=SC2119 # the defaults: no wrapper, no extra flags
serve

sample() { # elapsed: one CSV row from /proc
  local rss threads fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$SERVER/status")
  fds=$(find "/proc/$SERVER/fd" -mindepth 1 -maxdepth 1 | wc -l)
  echo "$1,$rss,$fds,$threads"
}

echo "elapsed_s,rss_kb,fds,threads" >"$OUT/samples.csv"
start=$(date +%s)
(
  while kill -0 "$SERVER" 2>/dev/null; do
    sample $(($(date +%s) - start)) >>"$OUT/samples.csv" || break
    sleep "$INTERVAL"
  done
) &
SAMPLER=$!

echo "== soak: $RATE requests/s for $DURATION against http://$ADDRESS"
target/release/mathapi-traffic --url "http://$ADDRESS" --rate "$RATE" --duration "$DURATION" \
  --concurrency "$CONCURRENCY" --no-progress --summary-json "$OUT/summary.json" || true
sample $(($(date +%s) - start)) >>"$OUT/samples.csv"
kill "$SAMPLER" 2>/dev/null || true

echo "== samples (elapsed_s,rss_kb,fds,threads): first, peak RSS, last"
sed -n 2p "$OUT/samples.csv"
tail -n +2 "$OUT/samples.csv" | sort -t, -k2 -n | tail -1
tail -1 "$OUT/samples.csv"
echo "CSV: $OUT/samples.csv, summary: $OUT/summary.json"
