#!/usr/bin/env bash
# `make smoke`: brings the whole stack up in Docker (scripts/demo.sh, under its own compose
# project), checks it end to end, and tears it down with its volumes. Needs Docker with
# Compose v2, curl and python3 (to read JSON answers); CI has no Docker engine, so it runs
# on a Docker host by hand.
#
# Checks: through Traefik /fibonacci/10/ answers 55 and a bad argument a 400 problem, every
# function's Swagger UI is served; every Prometheus target is up; Grafana serves the
# provisioned dashboard and its datasource works; Elasticsearch holds log documents of each
# service (with trace ids); Kibana has the saved objects; Jaeger knows Traefik and every service
# (their traces of the demo's traffic). The services are the functions of configs/functions.json
# (through scripts/stack_model.py).
set -euo pipefail
cd "$(dirname "$0")/.."

export COMPOSE="${COMPOSE:-docker compose} -p mathapi-smoke"
read -r -a compose <<< "${COMPOSE}"
base="http://127.0.0.1:8000"
grafana_auth="admin:${GRAFANA_ADMIN_PASSWORD:-admin}"
# Traefik's admin-auth in front of /grafana, /kibana, /prometheus and /jaeger
# (configs/traefik/dynamic.yml).
admin_auth="${MATHAPI_ADMIN_USER:-admin}:${MATHAPI_ADMIN_PASSWORD:-admin}"

teardown() {
  local status=$?
  if ((status != 0)); then
    echo "smoke: FAILED; state of the stack:" >&2
    "${compose[@]}" ps -a >&2 || true
    "${compose[@]}" logs --no-color --tail 40 >&2 || true
  fi
  "${compose[@]}" down -v --remove-orphans > /dev/null 2>&1 || true
  exit "${status}"
}
trap teardown EXIT
trap 'exit 130' INT TERM

die() {
  echo "smoke: FAILED: $*" >&2
  exit 1
}
pass() { echo "smoke: ok: $*"; }

# The functions, sorted bytewise (as the answers below list them).
mapfile -t functions < <(python3 scripts/stack_model.py names | LC_ALL=C sort)
# "a b c" from the lines a, b, c.
words() { paste -sd ' ' -; }

# Runs a python3 expression over JSON on stdin; prints its value.
json() { python3 -c "import json, sys; data = json.load(sys.stdin); print($1)"; }

# Retries "$@" every 5s until it succeeds, at most $1 seconds.
retry() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 5
  done
}

DEMO_TRAFFIC_DURATION="${SMOKE_TRAFFIC_DURATION:-20s}" scripts/demo.sh

# --- Through Traefik -------------------------------------------------------------------
body=$(curl -fsS --max-time 10 "${base}/fibonacci/10/") || die "GET /fibonacci/10/"
[[ $(json 'data["result"]' <<< "${body}") == 55 ]] || die "/fibonacci/10/ answered ${body}"
pass "/fibonacci/10/ -> ${body}"

read -r status content_type < <(curl -sS --max-time 10 -o /dev/null \
  -w '%{http_code} %{content_type}\n' "${base}/fibonacci/-1/") || die "GET /fibonacci/-1/"
[[ "${status}" == 400 && "${content_type}" == application/problem+json* ]] ||
  die "/fibonacci/-1/ answered ${status} ${content_type}"
pass "/fibonacci/-1/ -> 400 ${content_type}"

for service in "${functions[@]}"; do
  curl -fsS --max-time 10 -o /dev/null "${base}/${service}/docs" || die "GET /${service}/docs"
done
pass "Swagger UI served under /{${functions[*]}}/docs"

# --- Prometheus --------------------------------------------------------------------------
targets_up() {
  local targets
  targets=$(curl -fsS --max-time 10 -u "${admin_auth}" "${base}/prometheus/api/v1/targets") || return 1
  down=$(json '" ".join(t["labels"]["job"] for t in data["data"]["activeTargets"] if t["health"] != "up") or "-"' \
    <<< "${targets}")
  jobs=$(json '" ".join(sorted(t["labels"]["job"] for t in data["data"]["activeTargets"]))' <<< "${targets}")
  [[ "${down}" == - && "${jobs}" == "$(printf '%s\n' "${functions[@]}" prometheus traefik | LC_ALL=C sort | words)" ]]
}
retry 60 targets_up || die "Prometheus targets not all up: down=${down:-?} jobs=${jobs:-?}"
pass "Prometheus: every target up (${jobs})"

# --- Grafana -----------------------------------------------------------------------------
[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${base}/grafana/") == 401 ]] ||
  die "Grafana is reachable through Traefik without the admin password"
dashboard=$(curl -fsS --max-time 10 -u "${admin_auth}" "${base}/grafana/api/dashboards/uid/mathapi-overview") ||
  die "Grafana does not serve the mathapi-overview dashboard to anonymous viewers"
[[ $(json 'data["dashboard"]["title"]' <<< "${dashboard}") == "mathapi overview" ]] ||
  die "Grafana served an unexpected dashboard"
# Grafana's own admin login, from inside its container: Traefik's basic auth takes the
# Authorization header on the way in (removeHeader), so Grafana's API is asked directly.
health=$("${compose[@]}" exec -T grafana curl -fsS --max-time 20 -u "${grafana_auth}" \
  "http://127.0.0.1:3000/grafana/api/datasources/uid/prometheus/health") || die "Grafana datasource health"
[[ $(json 'data["status"]' <<< "${health}") == OK ]] || die "Grafana datasource: ${health}"
pass "Grafana: dashboard 'mathapi overview' served, Prometheus datasource healthy"

# --- Elasticsearch -----------------------------------------------------------------------
# Log contract v2: one "request completed" document per request.
es_query='{"size":0,"query":{"match_phrase":{"message":"request completed"}},"aggs":{"services":{"terms":{"field":"service.name"}}}}'
logs_of_each_service() {
  local answer
  answer=$("${compose[@]}" exec -T elasticsearch curl -fsS --max-time 10 \
    -H 'Content-Type: application/json' -d "${es_query}" \
    'http://127.0.0.1:9200/mathapi-logs-*/_search') || return 1
  counts=$(json '" ".join("{}={}".format(b["key"], b["doc_count"]) for b in sorted(data["aggregations"]["services"]["buckets"], key=lambda b: b["key"]))' \
    <<< "${answer}")
  # "name=count" for every function, each count at least 1.
  [[ "${counts}" =~ ^$(printf '%s=[1-9][0-9]*\n' "${functions[@]}" | words)$ ]]
}
retry 180 logs_of_each_service || die "Elasticsearch lacks log documents of some service: ${counts:-none}"
pass "Elasticsearch: request documents per service: ${counts}"
# Sampled requests (rate 1.0 in the demo) carry their trace id into the document.
traced_query='{"size":0,"query":{"bool":{"filter":[{"match_phrase":{"message":"request completed"}},{"exists":{"field":"trace.id"}}]}}}'
traced=$("${compose[@]}" exec -T elasticsearch curl -fsS --max-time 10 \
  -H 'Content-Type: application/json' -d "${traced_query}" \
  'http://127.0.0.1:9200/mathapi-logs-*/_search' | json 'data["hits"]["total"]["value"]') ||
  die "Elasticsearch query for trace.id"
((traced > 0)) || die "no request document carries trace.id"
pass "Elasticsearch: ${traced} request documents with trace.id"

# --- Kibana ------------------------------------------------------------------------------
expected_objects=$(grep -c . dashboards/kibana/mathapi.ndjson)
export_body='{"objects":[{"type":"dashboard","id":"mathapi-logs-dashboard"},{"type":"search","id":"mathapi-all-logs"},{"type":"search","id":"mathapi-rejected-inputs"}],"includeReferencesDeep":true}'
exported=$(curl -fsS --max-time 30 -u "${admin_auth}" -X POST "${base}/kibana/api/saved_objects/_export" \
  -H 'kbn-xsrf: true' -H 'Content-Type: application/json' -d "${export_body}") ||
  die "Kibana export of the saved objects"
count=$(tail -n 1 <<< "${exported}" | json 'data["exportedCount"]')
[[ "${count}" == "${expected_objects}" ]] ||
  die "Kibana has ${count} of the ${expected_objects} saved objects"
pass "Kibana: all ${count} saved objects present (dashboard, searches, visualizations, data view)"

# --- Jaeger ------------------------------------------------------------------------------
[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${base}/jaeger/") == 401 ]] ||
  die "Jaeger is reachable through Traefik without the admin password"
traced_services() {
  local answer
  answer=$(curl -fsS --max-time 10 -u "${admin_auth}" "${base}/jaeger/api/services") || return 1
  services=$(json '" ".join(sorted(s for s in (data["data"] or []) if s != "jaeger"))' <<< "${answer}")
  [[ "${services}" == "$(printf '%s\n' "${functions[@]}" traefik | LC_ALL=C sort | words)" ]]
}
retry 60 traced_services || die "Jaeger lacks the traces of some service: ${services:-none}"
pass "Jaeger: traces of ${services}"

echo "smoke: all checks passed"
