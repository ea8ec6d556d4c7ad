#!/usr/bin/env bash
# schemathesis (`--checks all`, every phase) against every service's OpenAPI document, on the
# real release binaries, at the default limits and at the caps. Zero failures or it exits 1.
#
#   scripts/schemathesis.sh                 # every run: the all-in-one and each function's
#                                           # service (configs/functions.json), both limits
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
# Per function (configs/functions.json, through scripts/stack_model.py): its name, binary and
# the flags that raise its bounds to their caps ("name binary --flag max ...").
mapfile -t functions < <(python3 scripts/stack_model.py caps)
sequence=$(python3 scripts/stack_model.py sequence)
if [[ -z ${SKIP_BUILD:-} ]]; then
  mapfile -t binaries < <(python3 scripts/stack_model.py binaries)
  cargo build --release --bin mathapi "${binaries[@]/#/--bin=}"
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
  if ! "$VENV/bin/schemathesis" --config-file "$CONFIG" run "http://$ADDRESS$document" \
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

# The settings of each run: the shared ones, plus the exemptions that only the caps need.
cat scripts/schemathesis.toml > "$WORK/default.toml"
cat scripts/schemathesis.toml scripts/schemathesis-caps.toml > "$WORK/caps.toml"

for limits in default caps; do
  CONFIG=$WORK/$limits.toml
  # The all-in-one serves every function: with the caps, every function's flags.
  all_caps=()
  if [[ $limits == caps ]]; then
    for line in "${functions[@]}"; do
      read -r -a fields <<< "$line"
      all_caps+=("${fields[@]:2}")
    done
  fi
  run "mathapi-$limits" /openapi.json mathapi --sequence-data-dir "$(mktemp -d -p "$WORK")" \
    "${all_caps[@]}"
  for line in "${functions[@]}"; do
    read -r -a fields <<< "$line"
    name=${fields[0]} binary=${fields[1]} args=()
    [[ $limits == default ]] || args=("${fields[@]:2}")
    # The function that serves the sequence keeps its stepper's state in a directory of its own.
    [[ $name != "$sequence" ]] || args+=(--sequence-data-dir "$(mktemp -d -p "$WORK")")
    run "$name-$limits" "/$name/openapi.json" "$binary" "${args[@]}"
  done
done

if ((failed)); then
  echo "schemathesis: failures (see above)"
  exit 1
fi
echo "schemathesis: every document passed, default limits and caps"
