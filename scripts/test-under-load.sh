#!/usr/bin/env bash
# `make test-under-load`: `make test` RUNS times in a row (default 5) with two CPU-bound
# processes running beside it the whole time, as on a busy CI machine. Any failure stops the
# loop and fails. The tests never compare timings by value, so a loaded machine must not fail
# them; this is the proof.
#
# usage: scripts/test-under-load.sh [RUNS]
#   TEST_COMMAND="true" scripts/test-under-load.sh 2   # check the loop itself, not the tests
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
command=${TEST_COMMAND:-make test}
if ! [[ ${runs} =~ ^[1-9][0-9]*$ ]]; then
  echo "test-under-load: RUNS must be a positive integer, got '${runs}'" >&2
  exit 2
fi

burners=()
stop() { kill "${burners[@]}" 2> /dev/null || true; }
trap stop EXIT INT TERM
for _ in 1 2; do
  # A busy loop that never ends by itself; the trap ends it.
  yes > /dev/null &
  burners+=($!)
done

for run in $(seq "${runs}"); do
  echo "== ${command} under load: run ${run} of ${runs}"
  started=${SECONDS}
  if ! ${command}; then
    echo "test-under-load: run ${run} of ${runs} failed" >&2
    exit 1
  fi
  echo "== run ${run} passed in $((SECONDS - started)) s"
done
echo "test-under-load: ${runs} passed, 0 failed (two CPU-bound processes beside every run)"
