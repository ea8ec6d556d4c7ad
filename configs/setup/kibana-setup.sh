#!/usr/bin/env bash
# One-shot (compose service kibana-setup): imports the data view, saved searches,
# visualizations and dashboard into Kibana. Fixed object ids + overwrite=true make
# re-runs idempotent. The data view's trace.id format links to the trace in Jaeger under
# Traefik: its URL template holds @MATHAPI_PUBLIC_URL@, replaced here by the stack's public
# URL (an absolute link: Kibana serves under /kibana, Jaeger under /jaeger).
set -euo pipefail

kibana="${KIBANA_URL:-http://kibana:5601/kibana}"
public_url="${MATHAPI_PUBLIC_URL:-http://localhost:8000}"
objects=$(mktemp)
trap 'rm -f "${objects}"' EXIT
# A literal (not a pattern) replacement: the URL may hold characters sed would read.
placeholder='@MATHAPI_PUBLIC_URL@'
while IFS= read -r line; do
  printf '%s\n' "${line//"${placeholder}"/"${public_url}"}"
done < /kibana/mathapi.ndjson > "${objects}"
deadline=$((SECONDS + 600))

# /api/status answers 503 ("Kibana is not ready yet") until every core service is up.
until curl -fsS --max-time 5 "${kibana}/api/status" | grep -q '"level":"available"'; do
  if ((SECONDS > deadline)); then
    echo "kibana-setup: Kibana at ${kibana} not available after 600s" >&2
    exit 1
  fi
  sleep 5
done

answer=$(curl -sS --max-time 60 -X POST "${kibana}/api/saved_objects/_import?overwrite=true" \
  -H 'kbn-xsrf: true' --form "file=@${objects};filename=mathapi.ndjson")
if ! grep -q '"success":true' <<< "${answer}"; then
  echo "kibana-setup: import failed: ${answer}" >&2
  exit 1
fi
echo "kibana-setup: saved objects imported: ${answer}"
