#!/usr/bin/env bash
# `make demo`: builds the image, starts the whole stack (docker-compose.yml), waits until every
# service is healthy and the one-shot setup containers have finished, sends traffic for a
# short while and prints the URLs. Needs Docker with Compose v2.
#
# Environment: COMPOSE (default "docker compose"), DEMO_TRAFFIC_DURATION (default 30s; 0 skips
# the traffic), DEMO_WAIT_SECONDS (default 600), MATHAPI_BIND_ADDRESS (default 127.0.0.1),
# MATHAPI_PUBLIC_URL (default http://localhost:8000; trailing slashes are removed),
# MATHAPI_ADMIN_USER / MATHAPI_ADMIN_PASSWORD (basic auth of Grafana, Kibana, Prometheus, Jaeger;
# default admin/admin, refused when MATHAPI_BIND_ADDRESS is not a loopback address),
# MATHAPI_REDIS_PASSWORD (default mathapi-local).
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "demo: $*" >&2
  exit 1
}

# Kibana refuses a publicBaseUrl that does not end in its basePath, and "http://h:8000/" +
# "/kibana" would be "http://h:8000//kibana": every consumer appends its own "/path".
normalise_public_url() {
  local url=$1
  while [[ "${url}" == */ ]]; do url=${url%/}; done
  printf '%s\n' "${url}"
}

# Loopback: 127.0.0.0/8, ::1, localhost. Anything else publishes port 8000 to a network.
is_loopback() {
  [[ "$1" == 127.* || "$1" == ::1 || "$1" == "[::1]" || "$1" == localhost ]]
}

read -r -a compose <<< "${COMPOSE:-docker compose}"
traffic_duration="${DEMO_TRAFFIC_DURATION:-30s}"
wait_seconds="${DEMO_WAIT_SECONDS:-600}"
bind="${MATHAPI_BIND_ADDRESS:-127.0.0.1}"
MATHAPI_PUBLIC_URL=$(normalise_public_url "${MATHAPI_PUBLIC_URL:-http://localhost:8000}")
export MATHAPI_PUBLIC_URL
[[ -n "${MATHAPI_PUBLIC_URL}" ]] || die "MATHAPI_PUBLIC_URL is empty"
if ! is_loopback "${bind}" && [[ "${MATHAPI_ADMIN_PASSWORD:-admin}" == admin ]]; then
  die "MATHAPI_BIND_ADDRESS=${bind} publishes Grafana, Kibana and Prometheus beyond this" \
    "machine: set MATHAPI_ADMIN_PASSWORD (and MATHAPI_ADMIN_USER) first (docs/stack.md)"
fi
if [[ "${DEMO_CHECK_ONLY:-0}" == 1 ]]; then
  # Used by the stack tests: the settings above, without Docker.
  echo "${MATHAPI_PUBLIC_URL}"
  exit 0
fi

command -v docker > /dev/null 2>&1 || die "docker not found"
"${compose[@]}" version > /dev/null 2>&1 || die "'${compose[*]}' does not work (Docker Compose v2 needed)"

# Elasticsearch wants vm.max_map_count >= 262144 (a host setting: containers cannot change it).
if [[ -r /proc/sys/vm/max_map_count ]] && (($(cat /proc/sys/vm/max_map_count) < 262144)); then
  echo "demo: warning: vm.max_map_count is $(cat /proc/sys/vm/max_map_count); Elasticsearch" \
    "wants 262144: sudo sysctl -w vm.max_map_count=262144 (see docs/stack.md)" >&2
fi

# The services' fault files (docker-compose.yml mounts it): created here so that Docker does
# not create it owned by root. Empty: no faults until `make demo-incident` writes one.
mkdir -p target/demo-faults

echo "demo: building the mathapi image"
"${compose[@]}" build

echo "demo: starting the stack"
up=("${compose[@]}" up -d --remove-orphans)
if command -v timeout > /dev/null 2>&1; then
  timeout "${wait_seconds}" "${up[@]}" || die "'${up[*]}' failed or took over ${wait_seconds}s"
else
  "${up[@]}" || die "'${up[*]}' failed"
fi

# Long-running services must be running and healthy; one-shot ones (restart: "no") must have
# exited 0. Bounded by DEMO_WAIT_SECONDS.
mapfile -t services < <("${compose[@]}" config --services)
oneshot=(elasticsearch-setup kibana-setup)
echo "demo: waiting (at most ${wait_seconds}s) for ${#services[@]} services"
deadline=$((SECONDS + wait_seconds))
while :; do
  waiting=()
  for service in "${services[@]}"; do
    id=$("${compose[@]}" ps -a -q "${service}" | head -n 1)
    if [[ -z "${id}" ]]; then
      waiting+=("${service}(no container)")
      continue
    fi
    read -r status health exit_code < <(docker inspect -f \
      '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "${id}")
    if [[ " ${oneshot[*]} " == *" ${service} "* ]]; then
      if [[ "${status}" == exited && "${exit_code}" != 0 ]]; then
        "${compose[@]}" logs --no-color --tail 50 "${service}" >&2 || true
        die "${service} failed (exit ${exit_code})"
      fi
      [[ "${status}" == exited ]] || waiting+=("${service}(${status})")
    elif [[ "${status}" != running || "${health}" != healthy ]]; then
      waiting+=("${service}(${status}/${health})")
    fi
  done
  ((${#waiting[@]} == 0)) && break
  if ((SECONDS >= deadline)); then
    "${compose[@]}" ps -a >&2 || true
    die "not ready after ${wait_seconds}s: ${waiting[*]} ('${compose[*]} logs SERVICE' tells why)"
  fi
  echo "demo: waiting for ${waiting[*]}"
  sleep 10
done
echo "demo: every service is healthy"

if [[ "${traffic_duration}" != 0 ]]; then
  echo "demo: ${traffic_duration} of traffic through Traefik (valid and invalid requests)"
  "${compose[@]}" --profile tools run --rm traffic --url http://traefik:8000 \
    --duration "${traffic_duration}" --rate 50 --no-progress || die "the traffic generator failed"
fi

# The URLs as the user reaches them: MATHAPI_PUBLIC_URL (default http://localhost:8000); one
# sample and one Swagger UI page per function of configs/functions.json.
base=${MATHAPI_PUBLIC_URL}
samples=() docs=()
while read -r name _binary _port path; do
  samples+=("${path}")
  docs+=("/${name}/docs")
done < <(python3 scripts/stack_model.py backends)
sequence=$(python3 scripts/stack_model.py sequence)
cat << EOF

mathapi is up:
  API (Traefik)        ${base}${samples[*]}
  Swagger UI           ${base}${docs[*]}
  Sequence stepper     curl -X POST ${base}/${sequence}/next
  Grafana              ${base}/grafana/   (dashboard "mathapi overview"; basic auth MATHAPI_ADMIN_USER)
  Kibana               ${base}/kibana/    (dashboard "mathapi logs")
  Prometheus           ${base}/prometheus/
  Jaeger               ${base}/jaeger/    (the traces; same basic auth)
  Traefik dashboard    http://127.0.0.1:8080/dashboard/ (on the Docker host only)

More traffic: make generate-traffic   Logs: make logs   Stop: make down
An incident to watch (alerts, traces, logs): make demo-incident
EOF
