#!/usr/bin/env bash
# `make run-services`: every function's service as a separate process, as in production, each on
# its port (configs/functions.json, through scripts/stack_model.py). Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t backends < <(python3 scripts/stack_model.py backends)
mapfile -t binaries < <(python3 scripts/stack_model.py binaries)
cargo build --release "${binaries[@]/#/--bin=}"
pids=()
stop() {
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT INT TERM

for line in "${backends[@]}"; do
  read -r name binary port _path <<< "${line}"
  "target/release/${binary}" --port "${port}" &
  pids+=($!)
  echo "${name} http://127.0.0.1:${port}/${name}/docs" >&2
done
# Exit (and stop the others) as soon as one of them exits.
wait -n "${pids[@]}"
