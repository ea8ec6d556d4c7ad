#!/usr/bin/env bash
# `make bench-pairs` (also run at the end of `make bench`): wall-clock ratios that single runs
# on a shared 2-core VM cannot settle, as the median of adjacent pairs. Each pair measures the
# baseline and the case back to back (same core, seconds apart), so a slow minute of the
# machine slows both; the median of the pairs' ratios is the result. Each run also counts the
# server's own CPU time (user + system, from /proc) and reports requests per server
# CPU-second: when other work takes the core away, wall-clock rates swing but the CPU a
# request costs does not, so that ratio is the steadier one on a busy machine.
#
#   warn vs bare:        `/fibonacci/400/` at RUST_LOG=warn (metrics on) against the bare handler
#   traced vs untraced:  `/fibonacci/400/` at info, every trace exported (ratio 1.0) against
#                        traces off
#
# Servers on core 0, wrk (and the OTLP sink) on core 1. Writes target/bench/pairs.md.
# Knobs: BENCH_PAIRS (default 5), BENCH_PAIR_SECONDS (default 5), BENCH_CONNECTIONS (32).
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=${BENCH_PAIRS:-5}
seconds=${BENCH_PAIR_SECONDS:-5}
connections=${BENCH_CONNECTIONS:-32}
out=target/bench
mkdir -p "$out"
command -v wrk > /dev/null || { echo "bench-pairs needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release --bin mathapi --bin bench-hello --bin otlp-sink 2>&1 | tail -1
mathapi=${MATHAPI_BIN:-target/release/mathapi}

pids=()
cleanup() { kill "${pids[@]}" 2> /dev/null || true; wait 2> /dev/null || true; }
trap cleanup EXIT

wait_port() { # port path
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1/$2" 2> /dev/null && return 0
    sleep 0.1
  done
  echo "server on :$1 did not come up" >&2
  exit 1
}

cpu_ticks() { # pid: user + system clock ticks so far
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

measure() { # pid url: "requests/s requests-per-CPU-second" at full speed
  local before after
  before=$(cpu_ticks "$1")
  taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" "$2" > "$out/pairs-wrk.txt"
  after=$(cpu_ticks "$1")
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    / requests in / { n = $1 } /Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.0f\n", rps, (ticks > 0 ? n * hz / ticks : 0) }' "$out/pairs-wrk.txt"
}

# Starts `command` on core 0 and waits for `path`; the pid goes to $started.
started=
start() { # port path log command...
  local port=$1 path=$2 log=$3
  shift 3
  taskset -c 0 "$@" > "$log" 2>&1 &
  started=$!
  pids+=("$started")
  wait_port "$port" "$path"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

sink_port=14319
taskset -c 1 target/release/otlp-sink --port $sink_port > /dev/null 2>&1 &
pids+=($!)
wait_port $sink_port count

hello_port=18998 warn_port=18001 info_port=18002 traced_port=18003
start $hello_port hello /dev/null target/release/bench-hello --port $hello_port
hello_pid=$started
RUST_LOG=warn start $warn_port health /dev/null "$mathapi" --port $warn_port \
  --sequence-data-dir "$out/pairs-data-warn"
warn_pid=$started
start $info_port health /dev/null "$mathapi" --port $info_port --sequence-data-dir "$out/pairs-data-info"
info_pid=$started
start $traced_port health /dev/null "$mathapi" --port $traced_port \
  --sequence-data-dir "$out/pairs-data-traced" --otel-endpoint "http://127.0.0.1:$sink_port" \
  --otel-traces-sampler traceidratio --otel-traces-sampler-arg 1.0
traced_pid=$started

# All servers stay up (idle ones cost nothing); each pair runs its two loads back to back.
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
warn_rps=() warn_cpu=() traced_rps=() traced_cpu=() rows=()
path=/fibonacci/400/
for i in $(seq "$pairs"); do
  read -r hello hello_cpu < <(measure $hello_pid "http://127.0.0.1:$hello_port/hello")
  read -r warn warn_c < <(measure $warn_pid "http://127.0.0.1:$warn_port$path")
  read -r info info_cpu < <(measure $info_pid "http://127.0.0.1:$info_port$path")
  read -r traced traced_c < <(measure $traced_pid "http://127.0.0.1:$traced_port$path")
  warn_rps+=("$(ratio "$warn" "$hello")") warn_cpu+=("$(ratio "$warn_c" "$hello_cpu")")
  traced_rps+=("$(ratio "$traced" "$info")") traced_cpu+=("$(ratio "$traced_c" "$info_cpu")")
  rows+=("| $i | $hello / $hello_cpu | $warn / $warn_c | ${warn_rps[-1]} / ${warn_cpu[-1]} | $info / $info_cpu | $traced / $traced_c | ${traced_rps[-1]} / ${traced_cpu[-1]} |")
done
rm -rf "$out"/pairs-data-*

{
  echo "# make bench-pairs — $(date -u +%Y-%m-%dT%H:%MZ), $pairs pairs, ${seconds}s per run, $connections connections"
  echo
  echo "\`$path\` (render-cache hit). Each row ran its loads back to back. Every cell is"
  echo "requests/s / requests per server CPU-second; the ratios are per pair, in the same order."
  echo
  echo "| pair | bare | warn | warn × bare | info | info, traced 100 % | traced × untraced |"
  echo "|-----:|-----:|-----:|------------:|-----:|-------------------:|------------------:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Median of $pairs adjacent pairs, wall clock / per CPU-second:" \
    "warn vs bare **$(printf '%s\n' "${warn_rps[@]}" | median)× / $(printf '%s\n' "${warn_cpu[@]}" | median)×**;" \
    "traced at 100 % vs untraced **$(printf '%s\n' "${traced_rps[@]}" | median)× / $(printf '%s\n' "${traced_cpu[@]}" | median)×**."
} | tee "$out/pairs.md"
