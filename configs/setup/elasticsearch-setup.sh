#!/usr/bin/env bash
# One-shot (compose service elasticsearch-setup): installs the mathapi-logs index template
# so that Logstash's first document already gets the strict mapping. Idempotent.
set -euo pipefail

es="${ELASTICSEARCH_URL:-http://elasticsearch:9200}"
template=/elasticsearch/index-template.json
deadline=$((SECONDS + 300))

until curl -fsS --max-time 5 "${es}/_cluster/health?wait_for_status=yellow&timeout=4s" > /dev/null; do
  if ((SECONDS > deadline)); then
    echo "elasticsearch-setup: Elasticsearch at ${es} not ready after 300s" >&2
    exit 1
  fi
  sleep 3
done

answer=$(curl -sS --max-time 30 -X PUT "${es}/_index_template/mathapi-logs" \
  -H 'Content-Type: application/json' --data-binary "@${template}")
if ! grep -q '"acknowledged":true' <<< "${answer}"; then
  echo "elasticsearch-setup: installing the index template failed: ${answer}" >&2
  exit 1
fi
echo "elasticsearch-setup: index template mathapi-logs installed"
