#!/usr/bin/env bash
# `make capacity`: measures the capacity model's inputs on this machine (release binaries,
# the real Traefik, a real Redis; server on core 0, load on core 1) into
# docs/scaling-inputs.json, then rewrites the table of docs/scaling.md from them.
# CAPACITY_SECONDS (default 8) per run. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
scripts/install-proxy-bench-tools.sh
(($(nproc) >= 2)) || { echo "make capacity needs two cores (server and load apart)" >&2; exit 1; }

# Every function's binary (configs/functions.json) and the bare handler.
mapfile -t binaries < <(python3 scripts/stack_model.py binaries)
cargo build --release --locked "${binaries[@]/#/--bin=}" --bin bench-hello
export PATH="${tools_dir}/venv/bin:${PATH}"
"${tools_dir}/venv/bin/python" scripts/stack_capacity.py measure --out docs/scaling-inputs.json
"${tools_dir}/venv/bin/python" scripts/stack_capacity.py table --inputs docs/scaling-inputs.json \
  --doc docs/scaling.md
echo "capacity: docs/scaling-inputs.json and docs/scaling.md updated"
