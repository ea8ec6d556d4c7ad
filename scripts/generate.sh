#!/usr/bin/env bash
# `make generate`: every file derived from the Rust list of functions and the stack's other
# single sources, rewritten by its generator:
#   mathapi functions --json     configs/functions.json, the list as the stack reads it (from
#                                crates/functions; `make test` fails when it is stale too)
#   scripts/stack_wiring.py      the backend blocks of docker-compose.yml,
#                                configs/traefik/dynamic.yml and configs/prometheus/prometheus.yml
#   scripts/stack_dashboards.py  dashboards/grafana/*.json, dashboards/kibana/*.ndjson
#   scripts/stack_k8s.py         deploy/kubernetes/base/*/generated/ (after the dashboards: it
#                                embeds them, and the Prometheus rules)
# `scripts/generate.sh --check` rewrites nothing and exits 1 when a committed file differs from
# what its generator makes (`make check-stack` and `make check-k8s` run it first).
set -euo pipefail
cd "$(dirname "$0")/.."

# The stack tools' Python (it has PyYAML) when installed, else the system's.
tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
python="${tools_dir}/venv/bin/python"
[[ -x "${python}" ]] || python=python3

status=0
functions=$(cargo run --quiet --bin mathapi -- functions --json)
if [[ "${1:-}" == --check ]]; then
  if [[ "${functions}" != "$(cat configs/functions.json)" ]]; then
    echo "out of date (run make generate): configs/functions.json" >&2
    status=1
  fi
else
  printf '%s\n' "${functions}" > configs/functions.json
  echo "wrote configs/functions.json"
fi
for generator in stack_wiring stack_dashboards stack_k8s; do
  "${python}" "scripts/${generator}.py" "$@" || status=1
done
exit "${status}"
