#!/usr/bin/env bash
# `make bench`: throughput, latency and memory of the services, side by side with a bare
# poem handler on the same core in the same run (absolute numbers on a shared machine mean
# little; the ratios are the result).
#
# Server pinned to core 0 (taskset), load generator on core 1. Writes target/bench/results.md;
# the stepper, the adjacent pairs and the proxy tier have their own scripts, which it runs too.
# Knobs: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32), BENCH_RATE (default 10000).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-32}
rate=${BENCH_RATE:-10000}
out=target/bench
mkdir -p "$out"

need() { command -v "$1" >/dev/null 2>&1 || { echo "make bench needs $1: $2" >&2; exit 1; }; }
need taskset "apt-get install util-linux"
need wrk "apt-get install wrk"
need oha "cargo install oha --locked"
(( $(nproc) >= 2 )) || { echo "make bench needs two cores (server and load apart)" >&2; exit 1; }

need redis-server "apt-get install redis-server"
cargo build --release --bin mathapi --bin bench-hello --bin otlp-sink 2>&1 | tail -1
cargo build --release -p mathapi-sequence --example sequence_bench 2>&1 | tail -1

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() { # port
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1/${2:-health}" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on :$1 did not come up" >&2; exit 1
}

# wrk at full speed: "requests/s p50 p99 non-2xx" (latencies in ms). Extra wrk flags after the URL.
load() { # url [wrk flags...]
  local url=$1; shift
  taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --latency "$@" "$url" | awk '
    /Requests\/sec/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    END { printf "%.0f %.3f %.3f %d\n", rps, ms(p50), ms(p99), bad }'
}

# oha at a constant rate: "p50 p99" in ms.
paced() { # url
  taskset -c 1 oha --no-tui --output-format json -z "${seconds}s" -q "$rate" -c 8 "$1" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin)["latencyPercentiles"]; print("%.3f %.3f" % (d["p50"]*1e3, d["p99"]*1e3))'
}

# Starts a server on core 0, its output in $out/NAME.log; its pid goes to $started.
started=
start() { # name command...
  local name=$1; shift
  taskset -c 0 "$@" >"$out/$name.log" 2>&1 &
  started=$!
  pids+=("$started")
}

hello_port=18999 app_port=18000
start hello target/release/bench-hello --port $hello_port
hello_pid=$started
wait_port $hello_port hello
read -r hello1 hello1_p50 hello1_p99 _ < <(load "http://127.0.0.1:$hello_port/hello")
read -r hello_paced_p50 hello_paced_p99 < <(paced "http://127.0.0.1:$hello_port/hello")

# Logs at info to a file, metrics on: as in production.
start mathapi target/release/mathapi --port $app_port --sequence-data-dir "$out/data"
app_pid=$started
wait_port $app_port
declare -A rps p50 p99 paced_p50 paced_p99
paths=(/fibonacci/400/ /factorial/400/ /ackermann/3/4/ /fibonacci/abc/)
for path in "${paths[@]}"; do
  read -r "rps[$path]" "p50[$path]" "p99[$path]" _ < <(load "http://127.0.0.1:$app_port$path")
  read -r "paced_p50[$path]" "paced_p99[$path]" < <(paced "http://127.0.0.1:$app_port$path")
done
rss_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$app_pid/status")
log_lines=$(wc -l <"$out/mathapi.log")
rm -f "$out/mathapi.log" # gigabytes; only its line count matters
kill "$app_pid"; wait "$app_pid" 2>/dev/null || true

# What the logs cost: the same in-range request at warn (no request lines; metrics on).
RUST_LOG=warn start mathapi-warn target/release/mathapi --port $app_port --sequence-data-dir "$out/data"
app_pid=$started
wait_port $app_port
read -r nolog_rps nolog_p50 nolog_p99 _ < <(load "http://127.0.0.1:$app_port/fibonacci/400/")
kill "$app_pid"; wait "$app_pid" 2>/dev/null || true

# What traces cost: the same request (logs at info) with its spans exported over OTLP/HTTP to
# a sink that only counts them (on the load core), keeping 1 % and 100 % of the traces.
sink_port=14318
taskset -c 1 target/release/otlp-sink --port $sink_port >"$out/otlp-sink.log" 2>&1 &
sink_pid=$!
pids+=("$sink_pid")
wait_port $sink_port count
ratios=(0.01 1.0)
declare -A traced_rps traced_p50 traced_p99 traced_dropped traced_rss_kb
for ratio in "${ratios[@]}"; do
  start "mathapi-traced-$ratio" target/release/mathapi --port $app_port --sequence-data-dir "$out/data" \
    --otel-endpoint "http://127.0.0.1:$sink_port" --otel-traces-sampler traceidratio \
    --otel-traces-sampler-arg "$ratio"
  app_pid=$started
  wait_port $app_port
  read -r "traced_rps[$ratio]" "traced_p50[$ratio]" "traced_p99[$ratio]" _ \
    < <(load "http://127.0.0.1:$app_port/fibonacci/400/")
  traced_dropped[$ratio]=$(curl -fsS "http://127.0.0.1:$app_port/metrics" \
    | awk '/^mathapi_trace_spans_dropped_total/ { print $2 }')
  traced_rss_kb[$ratio]=$(awk '/VmHWM/ { print $2 }' "/proc/$app_pid/status")
  kill "$app_pid"; wait "$app_pid" 2>/dev/null || true
  rm -f "$out/mathapi-traced-$ratio.log"
done
read -r sink_requests sink_bytes < <(curl -fsS "http://127.0.0.1:$sink_port/count")
kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true

# What the render cache saves: every request computes and renders (logs at info, to a file).
start mathapi-nocache target/release/mathapi --port $app_port --sequence-data-dir "$out/data" \
  --render-cache-bytes 0
app_pid=$started
wait_port $app_port
declare -A nocache_rps
for path in /fibonacci/400/ /factorial/400/; do
  read -r "nocache_rps[$path]" _ _ _ < <(load "http://127.0.0.1:$app_port$path")
done
rm -f "$out/mathapi-nocache.log"

read -r hello2 _ _ _ < <(load "http://127.0.0.1:$hello_port/hello")
hello=$(( (hello1 + hello2) / 2 ))
kill "$app_pid" "$hello_pid"
wait "$app_pid" "$hello_pid" 2>/dev/null || true
rm -rf "$out/data"

# The sequence stepper: the whole default walk, 64 connections, per backend
# (scripts/bench-stepper.sh).
steps=10000
stepper_connections=64
declare -A seq_rps seq_p99
while read -r backend rate p99 _; do
  seq_rps[$backend]=$rate
  seq_p99[$backend]=$p99
done < <(MATHAPI_BIN=target/release/mathapi STEPPER_CONNECTIONS=$stepper_connections \
  STEPPER_PORT=$app_port scripts/bench-stepper.sh)

# The stores alone, without HTTP: what the stepper could do if requests cost nothing.
store_embedded=$(taskset -c 0 target/release/examples/sequence_bench --backend embedded --seconds "$seconds")
store_redis=$(taskset -c 0 target/release/examples/sequence_bench --backend redis --seconds "$seconds")

{
  echo "# make bench — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${seconds}s per run, $connections connections"
  echo
  echo "Server on core 0, load on core 1. Baseline: bare poem handler (\`bench-hello\`), measured"
  echo "before and after the services in this run: $hello1 and $hello2 requests/s (mean $hello)."
  echo
  echo "| request | requests/s | × bare handler | p50 ms | p99 ms | p50 ms at $rate/s | p99 ms at $rate/s |"
  echo "|---------|-----------:|---------------:|-------:|-------:|------------------:|------------------:|"
  echo "| bare \`/hello\` | $hello1 | 1.00 | $hello1_p50 | $hello1_p99 | $hello_paced_p50 | $hello_paced_p99 |"
  for path in "${paths[@]}"; do
    ratio=$(python3 -c "print(f'{${rps[$path]} / $hello:.2f}')")
    echo "| \`$path\` | ${rps[$path]} | $ratio | ${p50[$path]} | ${p99[$path]} | ${paced_p50[$path]} | ${paced_p99[$path]} |"
  done
  nolog_ratio=$(python3 -c "print(f'{$nolog_rps / $hello:.2f}')")
  echo "| \`/fibonacci/400/\`, RUST_LOG=warn (metrics on) | $nolog_rps | $nolog_ratio | $nolog_p50 | $nolog_p99 | | |"
  for ratio in "${ratios[@]}"; do
    traced_ratio=$(python3 -c "print(f'{${traced_rps[$ratio]} / $hello:.2f}')")
    echo "| \`/fibonacci/400/\`, traces exported, ratio $ratio | ${traced_rps[$ratio]} | $traced_ratio | ${traced_p50[$ratio]} | ${traced_p99[$ratio]} | | |"
  done
  for path in /fibonacci/400/ /factorial/400/; do
    ratio=$(python3 -c "print(f'{${nocache_rps[$path]} / $hello:.2f}')")
    echo "| \`$path\`, render cache off (computed every time) | ${nocache_rps[$path]} | $ratio | | | | |"
  done
  echo
  echo "Peak resident memory of \`mathapi\` over the whole run (VmHWM): $((rss_kb / 1024)) MiB."
  echo "It wrote $log_lines log lines (info level) to a file during the run."
  echo "Traced runs: the OTLP sink got $sink_requests export requests ($sink_bytes bytes); spans dropped"
  echo "(export queue full): $(for r in "${ratios[@]}"; do printf '%s at ratio %s; ' "${traced_dropped[$r]:-0}" "$r"; done)"
  echo "peak resident memory: $(for r in "${ratios[@]}"; do printf '%s MiB at ratio %s; ' "$((traced_rss_kb[$r] / 1024))" "$r"; done)"
  echo
  echo "Sequence stepper: durable \`POST /fibonacci/next\` over the whole default walk (0 to $steps),"
  echo "$stepper_connections concurrent connections, server on one core; median of three walks:"
  echo
  echo "| backend | steps/s | p99 ms |"
  echo "|---------|--------:|-------:|"
  echo "| embedded (file, group commit, fdatasync) | ${seq_rps[embedded]} | ${seq_p99[embedded]} |"
  echo "| redis (appendonly, appendfsync always; Redis on the load core) | ${seq_rps[redis]} | ${seq_p99[redis]} |"
  echo
  echo "The stores alone (\`sequence_bench\`, 64 concurrent callers on core 0, no HTTP):"
  echo
  echo "    $store_embedded"
  echo "    $store_redis"
} | tee "$out/results.md"

# The ratios single runs cannot settle here: medians of adjacent pairs (target/bench/pairs.md).
scripts/bench-pairs.sh | tee -a "$out/results.md"

# The proxy tier: requests per Traefik CPU-second, the repository's configuration against
# Traefik's minimal one, in turns (target/bench/proxy.md).
{ echo; echo "Traefik (make bench-proxy):"; echo; } >> "$out/results.md"
scripts/bench-proxy.sh | tee -a "$out/results.md"
