#!/usr/bin/env bash
# The memory an attacker can make the stepper hold with Idempotency-Keys: distinct long keys
# (236 bytes) sent as fast as wrk goes until the record is full (ATTACK_KEYS keys, the
# record's capacity), against the same traffic with the record off (capacity 0) as the
# control. Both backends: the service's RSS for the embedded one (the record is in memory),
# redis-server's RSS for Redis (the record is in Redis). Per key = (RSS with the record −
# RSS of the control) / keys. Writes target/attack/idempotency.md.
#
# Knobs: ATTACK_KEYS (default 100000), ATTACK_KEY_LEN (default 236), MATHAPI_BIN (default
# target/release/mathapi, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

keys=${ATTACK_KEYS:-100000}
key_len=${ATTACK_KEY_LEN:-236}
bin=${MATHAPI_BIN:-target/release/mathapi}
out=target/attack
mkdir -p "$out"

need() { command -v "$1" >/dev/null 2>&1 || { echo "$0 needs $1: $2" >&2; exit 1; }; }
need wrk "apt-get install wrk"
need redis-server "apt-get install redis-server"
[[ -x $bin ]] || cargo build --release --bin mathapi 2>&1 | tail -1

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Each request a new key of $key_len bytes: the wrk run's prefix, then a counter, padded.
cat >"$out/keys.lua" <<EOF
local counter = 0
local prefix = "x"
init = function(args) prefix = args[1] end
request = function()
  counter = counter + 1
  local key = prefix .. "-" .. counter .. "-"
  key = key .. string.rep("k", $key_len - #key)
  return wrk.format("POST", "/fibonacci/reset", { ["Idempotency-Key"] = key }, "")
end
EOF

# Resets with a key that the service answered (each one recorded when the record is on).
keyed_resets() { # port
  curl -fsS "http://127.0.0.1:$1/metrics" |
    awk '/^mathapi_sequence_steps_total\{operation="reset",outcome="ok"\}/ { print $2 }'
}

# One run: "service_rss_kb redis_rss_kb requests" after at least $keys keyed resets.
run() { # backend capacity
  local backend=$1 capacity=$2 port redis_pid=
  port=$(free_port)
  local args=(--port "$port" --sequence-idempotency-keys "$capacity" --sequence-idempotency-window 1h)
  rm -rf "$out/data" "$out/redis" && mkdir -p "$out/redis"
  if [[ $backend == redis ]]; then
    local redis_port
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$out/redis" \
      --appendonly yes --appendfsync everysec --save "" >"$out/redis.log" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    args+=(--sequence-backend redis --redis-url "redis://127.0.0.1:$redis_port")
  else
    args+=(--sequence-data-dir "$out/data")
  fi
  RUST_LOG=warn "$bin" "${args[@]}" >"$out/mathapi-$backend-$capacity.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break
    sleep 0.1
  done
  local round=0 done=0
  while (( done < keys )); do
    round=$((round + 1))
    wrk -t1 -c64 -d5s -s "$out/keys.lua" "http://127.0.0.1:$port" -- "r$round" >/dev/null
    done=$(keyed_resets "$port")
    done=${done%.*}
  done
  sleep 1 # the last batches settle (RSS is read once, not compared by time)
  local redis_rss=0
  [[ -n $redis_pid ]] && redis_rss=$(rss_kb "$redis_pid")
  echo "$(rss_kb "$pid") $redis_rss $done"
  kill "$pid" ${redis_pid:+"$redis_pid"}
  wait "$pid" ${redis_pid:+"$redis_pid"} 2>/dev/null || true
}

declare -A rows
for backend in embedded redis; do
  read -r control_rss control_redis control_n < <(run "$backend" 0)
  read -r keyed_rss keyed_redis keyed_n < <(run "$backend" "$keys")
  if [[ $backend == embedded ]]; then
    per_key=$(( (keyed_rss - control_rss) * 1024 / keys ))
    where="service RSS"
    rows[$backend]="| embedded | $where | $((control_rss / 1024)) MiB ($control_n requests) | $((keyed_rss / 1024)) MiB ($keyed_n requests) | $per_key |"
  else
    per_key=$(( (keyed_redis - control_redis) * 1024 / keys ))
    where="redis-server RSS (service: $((control_rss / 1024)) → $((keyed_rss / 1024)) MiB)"
    rows[$backend]="| redis | $where | $((control_redis / 1024)) MiB ($control_n requests) | $((keyed_redis / 1024)) MiB ($keyed_n requests) | $per_key |"
  fi
done

{
  echo "# Idempotency-Key memory — $(date -u +%Y-%m-%dT%H:%MZ), $keys distinct keys of $key_len bytes"
  echo
  echo "| backend | memory measured | control (record off) | record full ($keys keys) | bytes per key |"
  echo "|---------|-----------------|---------------------:|-------------------------:|--------------:|"
  echo "${rows[embedded]}"
  echo "${rows[redis]}"
} | tee "$out/idempotency.md"
