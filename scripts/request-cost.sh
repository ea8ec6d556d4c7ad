#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: repeatable whatever else the
# machine is doing (wall-clock ratios on a shared 2-core VM are not). For each case the server
# runs under callgrind, gets 200 warm-up requests on one keep-alive connection, its counters
# are zeroed, it answers N more, and the dump's total over N is the cost of one request in the
# server process (user space: the kernel's share of the socket calls is not counted).
# The stepper's case is `POST /fibonacci/next` on the embedded store, every step durable
# (one commit per step: one connection never fills a batch); it warms up with 4,000 steps,
# so that N = 2000 walks through the middle of the default range (index 4,000 to 6,000; the
# values of `make bench-stepper`'s walk are 1,045 digits long on average), and a `409` at the
# end of the range makes the next request a reset, as in `make bench-stepper`.
#
# usage: scripts/request-cost.sh [N]   (default 2000; writes target/bench/request-cost.md)
# Compare another build with MATHAPI_BIN=path/to/mathapi (e.g. an older release).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
out=target/bench/request-cost
mkdir -p "$out"
command -v valgrind > /dev/null || { echo "request-cost needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --bin mathapi --bin bench-hello --bin otlp-sink 2>&1 | tail -1
mathapi=${MATHAPI_BIN:-target/release/mathapi}

# A case's requests are GET, or METHOD; WARMUP (default 200) of them precede the count.
cost() { # name path binary [args...]
  local name=$1 path=$2 bin=$3; shift 3
  local dir="$out/$name" port=$((19000 + RANDOM % 1000))
  rm -rf "$dir" && mkdir -p "$dir"
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin" --port "$port" "$@" \
    > "$dir/stdout.log" 2> "$dir/valgrind.log" &
  local pid=$!
  # Any answer means it listens (a step's path answers GET with 405).
  for _ in $(seq 300); do curl -sS -o /dev/null "http://127.0.0.1:$port$path" 2> /dev/null && break; sleep 0.2; done
  python3 - "$port" "$path" "$n" "$pid" "${METHOD:-GET}" "${WARMUP:-200}" << 'PY'
import http.client, subprocess, sys
port, path, n, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
method, warmup = sys.argv[5], int(sys.argv[6])
connection = http.client.HTTPConnection("127.0.0.1", port)
def burst(k):
    reset = False
    for _ in range(k):
        # The stepper's walk: a 409 at the end of the range makes the next step a reset.
        connection.request(method, "/fibonacci/reset" if reset else path)
        response = connection.getresponse()
        response.read()
        assert response.status in (200, 400, 409), response.status
        reset = response.status == 409
burst(warmup)
subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
burst(n)
subprocess.run(["callgrind_control", "-d", "measured", pid], check=True, capture_output=True)
PY
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  local total
  total=$(grep -h "^summary:\|^totals:" "$dir"/cg.out.* | head -1 | awk '{print $2}')
  echo "$((total / n))"
}

data=$(mktemp -d)
# Traced cases export to a sink that only counts (not under callgrind).
sink_port=$((18000 + RANDOM % 1000))
target/release/otlp-sink --port "$sink_port" > /dev/null 2>&1 &
sink_pid=$!
trap 'kill "$sink_pid" 2> /dev/null || true; rm -rf "$data"' EXIT
traced() { # ratio
  echo --otel-endpoint "http://127.0.0.1:$sink_port" --otel-traces-sampler traceidratio \
    --otel-traces-sampler-arg "$1"
}
hello=$(cost hello /hello target/release/bench-hello)
{
  echo "# Instructions per request (callgrind, $n requests after 200 warm-up, one connection)"
  echo
  echo "| case | instructions/request | × bare handler (instructions) |"
  echo "|------|---------------------:|------------------------------:|"
  echo "| bare poem handler \`/hello\` | $hello | 1.00 |"
  row() { # label instructions
    echo "| $1 | $2 | $(python3 -c "print(f'{$hello / $2:.2f}')") |"
  }
  row "\`/fibonacci/400/\`, info (cache hit)" "$(cost fib-info /fibonacci/400/ "$mathapi" --sequence-data-dir "$data/a")"
  row "\`/fibonacci/400/\`, warn (cache hit)" "$(RUST_LOG=warn cost fib-warn /fibonacci/400/ "$mathapi" --sequence-data-dir "$data/b")"
  # Older builds (MATHAPI_BIN) may not have traces.
  if "$mathapi" --help | grep -q -- --otel-endpoint; then
    # shellcheck disable=SC2046 # traced's words are separate flags
    row "\`/fibonacci/400/\`, info, traces 1 %" "$(cost fib-traced-1 /fibonacci/400/ "$mathapi" --sequence-data-dir "$data/t1" $(traced 0.01))"
    # shellcheck disable=SC2046
    row "\`/fibonacci/400/\`, info, traces 100 %" "$(cost fib-traced-100 /fibonacci/400/ "$mathapi" --sequence-data-dir "$data/t100" $(traced 1.0))"
  fi
  row "\`/fibonacci/400/\`, info, cache off" "$(cost fib-nocache /fibonacci/400/ "$mathapi" --sequence-data-dir "$data/c" --render-cache-bytes 0)"
  row "\`/factorial/400/\`, info, cache off" "$(cost fact-nocache /factorial/400/ "$mathapi" --sequence-data-dir "$data/d" --render-cache-bytes 0)"
  row "\`/fibonacci/abc/\` (400), info" "$(cost bad-info /fibonacci/abc/ "$mathapi" --sequence-data-dir "$data/e")"
  row "\`POST /fibonacci/next\` (stepper, embedded, index 4,000 → 6,000), info" \
    "$(METHOD=POST WARMUP=4000 cost stepper /fibonacci/next "$mathapi" --sequence-data-dir "$data/s")"
} | tee target/bench/request-cost.md
