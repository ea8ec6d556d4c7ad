#!/usr/bin/env bash
# The sequence stepper over HTTP: the whole default walk (index 0 to 10 000) as fast as
# STEPPER_CONNECTIONS (default 64) concurrent `POST /fibonacci/next`s go, then a reset, three
# walks per backend; the median walk counts. Every answer must be a 200 (a 409 would mean
# the walk overran its end). Server on core 0, load (and Redis) on core 1.
#
# Prints one line per backend: "backend steps/s p99-ms". `make bench` runs it; alone it is
# `make bench-stepper`. Knobs: MATHAPI_BIN (default target/release/mathapi, built if
# missing), STEPPER_CONNECTIONS, STEPPER_PORT (default 18090), STEPPER_LOG (the server's
# RUST_LOG, default info: one line per request, as deployed).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${MATHAPI_BIN:-target/release/mathapi}
connections=${STEPPER_CONNECTIONS:-64}
port=${STEPPER_PORT:-18090}
log=${STEPPER_LOG:-info}
steps=10000
out=target/bench/stepper
mkdir -p "$out"

need() { command -v "$1" >/dev/null 2>&1 || { echo "$0 needs $1: $2" >&2; exit 1; }; }
need taskset "apt-get install util-linux"
need oha "cargo install oha --locked"
need redis-server "apt-get install redis-server"
[[ -x $bin ]] || cargo build --release --bin mathapi >&2

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

# One walk from 0 to the end: "steps/s p99-ms".
walk() {
  taskset -c 1 oha --no-tui --output-format json -n "$steps" -c "$connections" -m POST \
    "http://127.0.0.1:$port/fibonacci/next" | python3 -c '
import json, sys
d = json.load(sys.stdin)
codes = d["statusCodeDistribution"]
assert codes == {"200": '"$steps"'}, f"not all 200: {codes}"
print("%.0f %.3f" % (d["summary"]["requestsPerSec"], d["latencyPercentiles"]["p99"] * 1e3))'
}

for backend in embedded redis; do
  args=(--port "$port" --sequence-max-index "$steps")
  if [[ $backend == embedded ]]; then
    rm -rf "$out/data"
    args+=(--sequence-data-dir "$out/data")
  else
    redis_port=$((port + 1))
    rm -rf "$out/redis" && mkdir -p "$out/redis"
    # Strict durability: every write fsynced before Redis replies.
    taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$out/redis" \
      --appendonly yes --appendfsync always --save "" >"$out/redis.log" 2>&1 &
    pids+=($!)
    args+=(--sequence-backend redis --redis-url "redis://127.0.0.1:$redis_port")
  fi
  RUST_LOG=$log taskset -c 0 "$bin" "${args[@]}" >"$out/$backend.log" 2>&1 &
  server=$!
  pids+=("$server")
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/fibonacci/current" 2>/dev/null && break
    sleep 0.1
  done
  runs=()
  for _ in 1 2 3; do
    curl -fsS -X POST -o /dev/null "http://127.0.0.1:$port/fibonacci/reset"
    runs+=("$(walk)")
  done
  echo "$backend $(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)"
  kill "$server"; wait "$server" 2>/dev/null || true
done
