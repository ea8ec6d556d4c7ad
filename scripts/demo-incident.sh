#!/usr/bin/env bash
# `make demo-incident`: an incident on demand in the running Docker stack (`make demo` first):
# a fault in one service, the alert firing in Prometheus, where to look, the fault off, the
# alert resolving. `make demo-incident-native` (`--native`) runs the same scenario without
# Docker: the release services, Traefik and Prometheus natively on loopback.
# scripts/stack_incident.py does the work (`--help` lists its options); docs/stack.md explains.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
python="${tools_dir}/venv/bin/python"
[[ -x "${python}" ]] || scripts/install-stack-tools.sh

for arg in "$@"; do
  if [[ "${arg}" == --native ]]; then
    # Every function's binary (configs/functions.json) and the traffic generator.
    mapfile -t binaries < <(python3 scripts/stack_model.py binaries)
    cargo build --release --locked "${binaries[@]/#/--bin=}" --bin mathapi-traffic
  fi
done
exec "${python}" scripts/stack_incident.py "$@"
