#!/usr/bin/env bash
# `make check-edge`: the per-client limits at the edge, alone (`make check-stack` runs the same
# as tests/stack/test_edge.py): the release backend and the real Traefik on loopback, a
# flooding client and a measured one from two source addresses (scripts/stack_edge.py).
# Extra arguments go to scripts/stack_edge.py run (e.g. --rounds 9, --without-limits).
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
python="${tools_dir}/venv/bin/python"
[[ -x "${python}" ]] || scripts/install-stack-tools.sh
export PATH="${tools_dir}/venv/bin:${PATH}"

mapfile -t binaries < <(python3 scripts/stack_model.py binaries)
cargo build --release --locked "${binaries[@]/#/--bin=}"
exec "${python}" scripts/stack_edge.py run "$@"
