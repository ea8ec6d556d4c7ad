#!/usr/bin/env bash
# The overload targets of docs/reliability.md, measured on the release `mathapi` (caps raised)
# on 127.0.0.1:
#
#   1. 4,000 connections on /factorial/10000/ (wrk): /health p99, peak RSS, shed latency;
#   2. h2load -c50 -m1000 -D15 on the same route: /health p99 during, CPU in the second after;
#   3. 3,000 slowloris connections (scripts/overload.py): how long each is held, /health;
#   4. at the fd limit (ulimit -n 256, 300 sockets held): CPU, /health once they close.
#
#   scripts/overload.sh            # all four, ~2 minutes; figures on stdout
#   SCENARIOS="1 3" scripts/overload.sh
#
# Needs wrk and h2load (Debian: wrk, nghttp2-client). Results go to docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

SCENARIOS=${SCENARIOS:-1 2 3 4}
OUT=target/overload
# serve, stop, SERVER, ADDRESS: the release mathapi on loopback, stopped on exit.
# shellcheck source=scripts/release-server.sh
source scripts/release-server.sh
# Every scenario runs with the caps raised.
CAPS=(--factorial-max-n 10000 --fibonacci-max-n 100000 --max-connections 20000)
peak_rss_mb() { awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
# /health latency under load: one connection, sequential requests, wrk's percentiles.
health_probe() { # seconds
  wrk -t1 -c1 -d"$1s" --latency "http://$ADDRESS/health" | awk '/50%|99%|Requests\/sec|Non-2xx|Socket errors/'
}

if [[ " $SCENARIOS " == *" 1 "* ]]; then
  serve "${CAPS[@]}"
  echo "== 1. 4,000 connections on /factorial/10000/ (20 s)"
  wrk -t1 -c4000 -d20s --timeout 10s --latency "http://$ADDRESS/factorial/10000/" >"$OUT/wrk-4000.txt" &
  load=$!
  sleep 3
  echo "-- /health during the attack (15 s):"
  health_probe 15
  echo "-- shed answers, timed one by one (curl):"
  for _ in $(seq 40); do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "http://$ADDRESS/factorial/10000/"
  done | awk '$1 == 503 {n++; t = $2 * 1000; s += t; if (t > m) m = t} END {printf "503s: %d of 40, mean %.2f ms, max %.2f ms\n", n, (n ? s / n : 0), m}'
  wait "$load"
  awk '/Requests\/sec|Non-2xx|Socket errors|50%|99%/' "$OUT/wrk-4000.txt"
  echo "-- peak RSS: $(peak_rss_mb) MB"
  grep -o '"mathapi_shed[^"]*' "$OUT/server.log" | head -1 || true
  curl -s "http://$ADDRESS/metrics" | grep '^mathapi_shed_requests_total' || true
  stop
fi

if [[ " $SCENARIOS " == *" 2 "* ]]; then
  serve "${CAPS[@]}"
  echo "== 2. h2load -c50 -m1000 -D15 on /factorial/10000/"
  h2load -c50 -m1000 -D15 "http://$ADDRESS/factorial/10000/" >"$OUT/h2load.txt" 2>&1 &
  load=$!
  sleep 2
  echo "-- /health during the attack (12 s):"
  health_probe 12
  wait "$load"
  before=$(cpu_ticks)
  sleep 1
  after=$(cpu_ticks)
  awk '/requests:|status codes:|finished in/' "$OUT/h2load.txt"
  echo "-- CPU in the second after the attack: $((after - before)) ticks of 100"
  echo "-- peak RSS: $(peak_rss_mb) MB"
  stop
fi

if [[ " $SCENARIOS " == *" 3 "* ]]; then
  serve "${CAPS[@]}"
  echo "== 3. 3,000 slowloris connections (1 byte / 10 s), header timeout 10 s"
  python3 scripts/overload.py slowloris "$ADDRESS" 3000
  echo "-- peak RSS: $(peak_rss_mb) MB"
  stop
fi

if [[ " $SCENARIOS " == *" 4 "* ]]; then
  serve prlimit --nofile=256 -- "${CAPS[@]}"
  echo "== 4. ulimit -n 256, 300 idle sockets held 5 s"
  python3 scripts/overload.py hold "$ADDRESS" 300 5 &
  holder=$!
  sleep 2
  before=$(cpu_ticks)
  sleep 2
  after=$(cpu_ticks)
  echo "-- CPU over 2 s at the limit: $((after - before)) ticks of 200"
  wait "$holder"
  echo "-- accept warnings logged: $(grep -c '"accept failed"' "$OUT/server.log" || true)"
  stop
fi
