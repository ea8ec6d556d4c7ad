#!/usr/bin/env bash
# `make bench-proxy`: requests per Traefik CPU-second with the repository's configuration
# against Traefik's minimal configuration, side by side in one run (scripts/bench_proxy.py).
# Traefik on core 0 (GOMAXPROCS=1), the bare poem handler and wrk on core 1. Writes
# target/bench/proxy.md and proxy.json. Knobs: PROXY_SECONDS (default 8), PROXY_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
scripts/install-proxy-bench-tools.sh
(($(nproc) >= 2)) || { echo "make bench-proxy needs two cores (Traefik and load apart)" >&2; exit 1; }

cargo build --release --locked --bin bench-hello
"${tools_dir}/venv/bin/python" scripts/bench_proxy.py \
  --seconds "${PROXY_SECONDS:-8}" --rounds "${PROXY_ROUNDS:-3}" --out target/bench
