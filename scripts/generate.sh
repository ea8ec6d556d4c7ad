#!/usr/bin/env bash
# `make generate`: every file derived from configs/functions.json and the stack's other single
# sources, rewritten by its generator:
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
for generator in stack_wiring stack_dashboards stack_k8s; do
  "${python}" "scripts/${generator}.py" "$@" || status=1
done
exit "${status}"
