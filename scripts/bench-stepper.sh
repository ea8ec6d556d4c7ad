#!/usr/bin/env bash
# The sequence stepper over HTTP: `POST /fibonacci/next` from STEPPER_CONNECTIONS (default 64)
# connections cycling through the default walk (index 0 → 10 000 → reset → 0 ...: a `409` at
# the end makes the next request a reset) for STEPPER_SECONDS (default 10) per backend.
# Steps/s are the service's own count of applied steps
# (`mathapi_sequence_steps_total{operation="next",outcome="ok"}`) over the run; a step that
# failed (unavailable, unknown, error) fails the run. Server on core 0, load (and Redis) on
# core 1.
#
# Prints one line per backend: "backend steps/s p99-ms steps-per-server-CPU-second" (p99 over
# every request of the run; the last figure, steps over the server's user + system CPU time,
# holds when the machine is shared and wall-clock rates are not comparable).
# `make bench` runs it; alone it is `make bench-stepper`. Knobs: MATHAPI_BIN (default
# target/release/mathapi, built if missing), STEPPER_CONNECTIONS, STEPPER_SECONDS,
# STEPPER_PORT (default 18090), STEPPER_LOG (the server's RUST_LOG, default info: one line
# per request, as deployed).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${MATHAPI_BIN:-target/release/mathapi}
connections=${STEPPER_CONNECTIONS:-64}
seconds=${STEPPER_SECONDS:-10}
port=${STEPPER_PORT:-18090}
log=${STEPPER_LOG:-info}
steps=10000
out=target/bench/stepper
mkdir -p "$out"

need() { command -v "$1" >/dev/null 2>&1 || { echo "$0 needs $1: $2" >&2; exit 1; }; }
need taskset "apt-get install util-linux"
need wrk "apt-get install wrk"
need redis-server "apt-get install redis-server"
[[ -x $bin ]] || cargo build --release --bin mathapi >&2

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

# Steps; the answer 409 (the end of the walk) makes the next request a reset.
cat >"$out/walk.lua" <<'LUA'
local reset = false
request = function()
  if reset then
    reset = false
    return wrk.format("POST", "/fibonacci/reset")
  end
  return wrk.format("POST", "/fibonacci/next")
end
response = function(status)
  if status == 409 then reset = true end
end
LUA

# The service's count of `next` answers with this outcome.
steps_with() { # outcome
  curl -fsS "http://127.0.0.1:$port/metrics" | awk -v want="outcome=\"$1\"" '
    /^mathapi_sequence_steps_total\{/ && index($0, "operation=\"next\"") && index($0, want) { n += $2 }
    END { printf "%d\n", n }'
}

# The CPU time of process $1 so far, in clock ticks (user + system).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# One run against server $1: "steps/s p99-ms steps-per-CPU-second".
cycle() { # server-pid
  local before after failed p99 cpu_before cpu_after
  before=$(steps_with ok)
  cpu_before=$(cpu_ticks "$1")
  p99=$(taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$out/walk.lua" \
    "http://127.0.0.1:$port" | awk '
      function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
      /^ +99%/ { print ms($2) }')
  after=$(steps_with ok)
  cpu_after=$(cpu_ticks "$1")
  failed=$(($(steps_with unavailable) + $(steps_with unknown) + $(steps_with error)))
  ((failed == 0)) || { echo "$failed steps failed (see $out)" >&2; exit 1; }
  echo "$(((after - before) / seconds)) $p99 $(((after - before) * $(getconf CLK_TCK) / (cpu_after - cpu_before + 1)))"
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
  curl -fsS -X POST -o /dev/null "http://127.0.0.1:$port/fibonacci/reset"
  echo "$backend $(cycle "$server")"
  kill "$server"
  wait "$server" 2>/dev/null || true
done
