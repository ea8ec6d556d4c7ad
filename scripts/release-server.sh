# shellcheck shell=bash
# Sourced, not run: the release `mathapi` on a free loopback port with a data directory of its
# own, for the measurement scripts (scripts/overload.sh, scripts/soak.sh). Set OUT (the output
# directory) before sourcing. Defines:
#
#   serve [WRAPPER... --] [FLAGS...]   starts target/release/mathapi (under WRAPPER, e.g.
#                                      `prlimit --nofile=256 --`) with FLAGS, its output in
#                                      $OUT/server.log; sets SERVER (its pid) and ADDRESS
#                                      (host:port from its `listening` line), or exits 1
#   stop                               stops it and waits for it
#
# On exit the server is killed and the data directory removed.

mkdir -p "${OUT:?set OUT before sourcing scripts/release-server.sh}"
DATA=$(mktemp -d)
SERVER=""
ADDRESS=""
cleanup() {
  if [[ -n $SERVER ]]; then
    kill "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT

serve() {
  local wrapper=()
  if [[ " $* " == *" -- "* ]]; then
    while [[ $1 != -- ]]; do wrapper+=("$1"); shift; done
    shift
  fi
  "${wrapper[@]}" target/release/mathapi --host 127.0.0.1 --port 0 --sequence-data-dir "$DATA" "$@" \
    >"$OUT/server.log" 2>&1 &
  SERVER=$!
  ADDRESS=""
  for _ in $(seq 100); do
    ADDRESS=$(grep -m1 -o '"address":"[^"]*"' "$OUT/server.log" | cut -d'"' -f4 || true)
    [[ -n $ADDRESS ]] && return 0
    sleep 0.1
  done
  echo "mathapi did not start" >&2
  cat "$OUT/server.log" >&2
  exit 1
}

stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }
