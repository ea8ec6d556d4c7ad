#!/usr/bin/env bash
# `make check-stack`: the stack verified without a Docker engine, as a pytest suite
# (tests/stack/, markers `static` and `live`; `make check-k8s` runs the `k8s` ones):
#
# static (test_static.py, test_compose.py): the compose file against the Compose Specification
#   (the real Compose binary), hadolint, yamllint, shellcheck on every script, the GitHub
#   workflow schema, promtool check config / check rules / test rules, every dashboard query
#   parsed by promtool, the generated files up to date and marked (every generator's --check:
#   the backend blocks of compose/Traefik/Prometheus, dashboards, manifests), the
#   compose <-> Traefik <-> Prometheus <-> Jaeger wiring, the compose settings (public URL, admin auth,
#   Redis password, CPU limits, Grafana start period), the Logstash pipeline against the index
#   template and the log contract, the Kibana objects against the template.
# live (test_incident.py): `make demo-incident` natively on a stack of its own: a fault in
#   the demo's service through its file and SIGHUP, the real alert firing for it only, the
#   faults logged, counted and traced, the alert resolving once the fault is off.
# live (test_live.py): the release services on loopback with their compose environment, the
#   stepper on a real redis-server with a password, the real Traefik and Prometheus with the
#   repository's configs, mathapi-traffic through Traefik; every dashboard query and recording
#   rule returns data, the dashboard's p99 agrees with the client's, admin paths need the
#   password, and the services' real log lines fit contract v2, the pipeline and the template;
#   Traefik and the services export their spans to a local OTLP/HTTP receiver
#   (scripts/stack_otlp.py) standing in for Jaeger: one trace per request, Traefik's span the
#   ancestor of the service's, the trace_id on the service's request line.
# live (test_edge.py): the per-client limits with the real Traefik in front of a release
#   backend (scripts/stack_edge.py): a flooding client gets 429s with Retry-After, a client
#   from another loopback address keeps its p99 within 2x of its p99 alone (interleaved phases),
#   requests over the concurrency limit get 429 at once. `make check-edge` runs it alone.
#
# Installs its tools when missing (scripts/install-stack-tools.sh). Every process it starts
# is stopped at the end; every wait is bounded. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
python="${tools_dir}/venv/bin/python"
[[ -x "${python}" && -x "${tools_dir}/venv/bin/pytest" ]] || scripts/install-stack-tools.sh
export PATH="${tools_dir}/venv/bin:${PATH}"

# Every generated file is what its generator makes (seconds; before the release build).
scripts/generate.sh --check

# Every function's binary (configs/functions.json, through scripts/stack_model.py) and the
# traffic generator.
mapfile -t binaries < <(python3 scripts/stack_model.py binaries)
cargo build --release --locked "${binaries[@]/#/--bin=}" --bin mathapi-traffic
exec "${python}" -m pytest -p no:cacheprovider -m "static or live" tests/stack "$@"
