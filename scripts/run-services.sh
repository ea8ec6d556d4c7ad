#!/usr/bin/env bash
# `make run-services`: the three services as separate processes, as in production:
# fibonacci on :8001, factorial on :8002, ackermann on :8003. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bin fibonacci --bin factorial --bin ackermann
pids=()
stop() {
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT INT TERM

for service in fibonacci factorial ackermann; do
  "target/release/$service" &
  pids+=($!)
done
echo "fibonacci http://127.0.0.1:8001/fibonacci/docs" >&2
echo "factorial http://127.0.0.1:8002/factorial/docs" >&2
echo "ackermann http://127.0.0.1:8003/ackermann/docs" >&2
# Exit (and stop the others) as soon as one of them exits.
wait -n "${pids[@]}"
