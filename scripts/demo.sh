#!/usr/bin/env bash
# `make demo`: builds the image, starts the whole stack (docker-compose.yml), waits until every
# service is healthy and the one-shot setup containers have finished, sends traffic for a
# short while and prints the URLs. Needs Docker with Compose v2.
#
# Environment: COMPOSE (default "docker compose"), DEMO_TRAFFIC_DURATION (default 30s; 0 skips
# the traffic), DEMO_WAIT_SECONDS (default 600), MATHAPI_BIND_ADDRESS (default 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a compose <<< "${COMPOSE:-docker compose}"
traffic_duration="${DEMO_TRAFFIC_DURATION:-30s}"
wait_seconds="${DEMO_WAIT_SECONDS:-600}"
bind="${MATHAPI_BIND_ADDRESS:-127.0.0.1}"
host=$([[ "${bind}" == 127.0.0.1 || "${bind}" == 0.0.0.0 ]] && echo localhost || echo "${bind}")

die() {
  echo "demo: $*" >&2
  exit 1
}

command -v docker > /dev/null 2>&1 || die "docker not found"
"${compose[@]}" version > /dev/null 2>&1 || die "'${compose[*]}' does not work (Docker Compose v2 needed)"

# Elasticsearch wants vm.max_map_count >= 262144 (a host setting: containers cannot change it).
if [[ -r /proc/sys/vm/max_map_count ]] && (($(cat /proc/sys/vm/max_map_count) < 262144)); then
  echo "demo: warning: vm.max_map_count is $(cat /proc/sys/vm/max_map_count); Elasticsearch" \
    "wants 262144: sudo sysctl -w vm.max_map_count=262144 (see docs/stack.md)" >&2
fi

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

cat << EOF

mathapi is up:
  API (Traefik)        http://${host}:8000/fibonacci/10/   /factorial/10/   /ackermann/2/3/
  Swagger UI           http://${host}:8000/fibonacci/docs  /factorial/docs  /ackermann/docs
  Sequence stepper     curl -X POST http://${host}:8000/fibonacci/next
  Grafana              http://${host}:8000/grafana/   (dashboard "mathapi overview"; no login to view)
  Kibana               http://${host}:8000/kibana/    (dashboard "mathapi logs")
  Prometheus           http://${host}:8000/prometheus/
  Traefik dashboard    http://${host}:8080/dashboard/

More traffic: make generate-traffic   Logs: make logs   Stop: make down
EOF
