#!/usr/bin/env bash
# schemathesis (`--checks all`, every phase) against every service's OpenAPI document, on the
# real release binaries, at the default limits and at the caps. Zero failures or it exits 1.
#
#   scripts/schemathesis.sh                 # all eight runs
#   ST_MAX_EXAMPLES=50 scripts/schemathesis.sh
#
# schemathesis is installed from PyPI into a venv under target/ on first use. Servers listen
# on 127.0.0.1 (port 0); the stepper keeps its state in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-30}
ST_VERSION=${ST_VERSION:-4.32.5}
RELEASE=${ST_BINARIES:-target/release}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ ! -x $VENV/bin/schemathesis ]]; then
  echo "== installing schemathesis into $VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 ships venv separately.
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q "schemathesis==$ST_VERSION"
fi
if [[ -z ${SKIP_BUILD:-} ]]; then
  cargo build --release --bins -p mathapi -p mathapi-fibonacci -p mathapi-factorial -p mathapi-ackermann
fi

# start NAME BINARY ARGS... — starts a server, sets ADDRESS from its `listening` line.
start() {
  local name=$1 binary=$2
  shift 2
  local log=$WORK/$name.log
  RUST_LOG=warn,mathapi_http=info,mathapi_server=info "$RELEASE/$binary" --host 127.0.0.1 --port 0 "$@" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    ADDRESS=$(grep -m1 -o '"address":"[^"]*"' "$log" 2>/dev/null | cut -d'"' -f4 || true)
    [[ -n $ADDRESS ]] && return 0
    sleep 0.1
  done
  echo "$name did not start:" >&2
  cat "$log" >&2
  return 1
}

failed=0
# run LABEL DOCUMENT_PATH BINARY ARGS...
run() {
  local label=$1 document=$2 binary=$3
  shift 3
  start "$label" "$binary" "$@"
  echo "== $label: $document on $ADDRESS"
  if ! "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "http://$ADDRESS$document" \
      --url "http://$ADDRESS" \
      --checks all \
      --phases examples,coverage,fuzzing,stateful \
      --max-examples "$MAX_EXAMPLES" \
      --request-timeout 30 \
      --seed 1 \
      --no-color; then
    echo "!! $label failed"
    failed=1
  fi
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
}

caps_fib=(--fibonacci-max-n 100000)
caps_fact=(--factorial-max-n 10000)
caps_ack=(--ackermann-max-m 4 --ackermann-max-n 100000)

for limits in default caps; do
  fib=() fact=() ack=()
  if [[ $limits == caps ]]; then fib=("${caps_fib[@]}") fact=("${caps_fact[@]}") ack=("${caps_ack[@]}"); fi
  run "mathapi-$limits" /openapi.json mathapi --sequence-data-dir "$(mktemp -d -p "$WORK")" \
    "${fib[@]}" "${fact[@]}" "${ack[@]}"
  run "fibonacci-$limits" /fibonacci/openapi.json fibonacci \
    --sequence-data-dir "$(mktemp -d -p "$WORK")" "${fib[@]}"
  run "factorial-$limits" /factorial/openapi.json factorial "${fact[@]}"
  run "ackermann-$limits" /ackermann/openapi.json ackermann "${ack[@]}"
done

if ((failed)); then
  echo "schemathesis: failures (see above)"
  exit 1
fi
echo "schemathesis: every document passed, default limits and caps"
