#!/usr/bin/env python3
"""Generates the dashboards of the stack from one place.

    scripts/stack_dashboards.py            # (re)write the files below
    scripts/stack_dashboards.py --check    # fail if they differ from what this script makes

- dashboards/grafana/mathapi-overview.json: the Grafana overview (provisioned by
  configs/grafana/provisioning/dashboards/mathapi.yml);
- dashboards/kibana/mathapi.ndjson: the Kibana saved objects (imported by the
  kibana-setup container).

Both are generated because Grafana's panels repeat per backend and Kibana stores its
visualizations as JSON inside JSON strings: writing either by hand invites drift.
`make check-stack` runs the --check mode and then checks the files' contents
(tests/stack/test_static.py, test_live.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRAFANA_FILE = ROOT / "dashboards" / "grafana" / "mathapi-overview.json"
KIBANA_FILE = ROOT / "dashboards" / "kibana" / "mathapi.ndjson"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_model import BACKEND_NAMES, GENERATED_MARK, SEQUENCE, write_or_check  # noqa: E402

MARK = GENERATED_MARK.format(script="scripts/stack_dashboards.py")

BACKENDS = list(BACKEND_NAMES)
# The stepper's panels read the job of the backend that serves the sequence.
STEPPER_JOB = f'job="{SEQUENCE.name}"'
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

# ---------------------------------------------------------------------------------------
# Grafana
# ---------------------------------------------------------------------------------------


class Layout:
    """Hands out panel ids and grid positions, left to right, top to bottom."""

    def __init__(self) -> None:
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_height = 0

    def place(self, w: int, h: int) -> tuple[int, dict]:
        if self.x + w > 24:
            self.newline()
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_height = max(self.row_height, h)
        panel_id = self.next_id
        self.next_id += 1
        return panel_id, pos

    def newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0


def target(ref: str, expr: str, legend: str) -> dict:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "range": True,
        "instant": False,
    }


def targets(*pairs: tuple[str, str]) -> list[dict]:
    return [target(chr(ord("A") + i), expr, legend) for i, (expr, legend) in enumerate(pairs)]


def timeseries(
    layout: Layout,
    title: str,
    description: str,
    unit: str,
    tgts: list[dict],
    w: int = 8,
    h: int = 8,
    max_value: float | None = None,
    links: list[dict] | None = None,
) -> dict:
    panel_id, pos = layout.place(w, h)
    defaults: dict = {
        "unit": unit,
        "min": 0,
        "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
        },
    }
    if links:
        defaults["links"] = links
    if max_value is not None:
        defaults["max"] = max_value
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": pos,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": tgts,
    }


def up_stat(
    layout: Layout, title: str, description: str, tgts: list[dict], w: int = 4, h: int = 8
) -> dict:
    panel_id, pos = layout.place(w, h)
    return {
        "id": panel_id,
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": pos,
        "fieldConfig": {
            "defaults": {
                "mappings": [
                    {
                        "type": "value",
                        "options": {
                            "0": {"text": "DOWN", "color": "red", "index": 0},
                            "1": {"text": "UP", "color": "green", "index": 1},
                        },
                    }
                ],
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
                },
                "color": {"mode": "thresholds"},
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "orientation": "auto",
            "justifyMode": "auto",
        },
        "targets": tgts,
    }


def row(layout: Layout, title: str, repeat: str | None = None) -> dict:
    layout.newline()
    panel_id, pos = layout.place(24, 1)
    layout.newline()
    panel = {
        "id": panel_id,
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": pos,
        "panels": [],
    }
    if repeat:
        panel["repeat"] = repeat
    return panel


# The provisioned Jaeger datasource (configs/grafana/provisioning/datasources/jaeger.yml).
# A data link to it opens Grafana's Explore on the panel's time range. Not a link to Jaeger's
# own UI: Grafana prefixes root-relative link URLs with its sub-path (/grafana), and the
# stack's public URL is not known when the dashboard is generated.
JAEGER_DATASOURCE = {"type": "jaeger", "uid": "jaeger"}


def trace_links() -> list[dict]:
    """The data link of a latency panel: the backend's traces over the panel's time range,
    searched through the Jaeger datasource."""
    return [
        {
            "title": "Traces of ${backend} (Jaeger, this time range)",
            "url": "",
            "internal": {
                "datasourceUid": JAEGER_DATASOURCE["uid"],
                "datasourceName": "Jaeger",
                "query": {
                    "refId": "A",
                    "queryType": "search",
                    "service": "${backend}",
                    "limit": 50,
                },
            },
        }
    ]


# The provisioned Elasticsearch datasource on the log index
# (configs/grafana/provisioning/datasources/elasticsearch.yml): its fields are the index
# template's (configs/elasticsearch/index-template.json), checked by the stack suite.
LOGS_DATASOURCE = {"type": "elasticsearch", "uid": "elasticsearch"}
LOG_SERVICE_FIELD = "service.name"
LOG_LEVEL_FIELD = "log.level"
# The levels the errors-first panel shows (the pipeline's names for bunyan 40, 50, 60).
ALERT_LEVELS = ("warn", "error", "fatal")
LOG_LINES = 100


def logs_panel(layout: Layout, title: str, description: str, query: str) -> dict:
    """A Grafana logs panel: the lines matching a Lucene `query`, newest first."""
    panel_id, pos = layout.place(12, 10)
    return {
        "id": panel_id,
        "type": "logs",
        "title": title,
        "description": description,
        "datasource": LOGS_DATASOURCE,
        "gridPos": pos,
        "options": {
            "showTime": True,
            "wrapLogMessage": True,
            "enableLogDetails": True,
            "sortOrder": "Descending",
            "dedupStrategy": "none",
        },
        "targets": [
            {
                "refId": "A",
                "datasource": LOGS_DATASOURCE,
                "queryType": "lucene",
                "query": query,
                "metrics": [{"id": "1", "type": "logs", "settings": {"limit": str(LOG_LINES)}}],
                "bucketAggs": [],
                "timeField": "@timestamp",
            }
        ],
    }


ALL_JOBS = "|".join(BACKENDS)
# Traefik's series by backend: recording rules (configs/prometheus/rules/recording.yml, group
# mathapi-traefik) map its provider-specific service names (compose's file provider,
# Kubernetes' Gateway API provider) to the backend's name.
TRAEFIK = 'backend="$backend"'


def grafana_dashboard() -> dict:
    layout = Layout()
    panels: list[dict] = []

    panels.append(row(layout, "All backends"))
    panels.append(
        timeseries(
            layout,
            "API requests/s",
            "Requests with a matched math route, per backend (service view).",
            "reqps",
            targets((f'job:http_server_requests:rate1m{{job=~"{ALL_JOBS}"}}', "{{job}}")),
            w=6,
        )
    )
    panels.append(
        timeseries(
            layout,
            "Server error ratio (5xx)",
            "Share of API requests answered 5xx, per backend.",
            "percentunit",
            targets(
                (f'job:http_server_server_errors:ratio_rate1m{{job=~"{ALL_JOBS}"}}', "{{job}}")
            ),
            w=6,
        )
    )
    panels.append(
        timeseries(
            layout,
            "p95 latency",
            "95th percentile of API request durations, per backend.",
            "s",
            targets(
                (
                    f'job:http_server_request_duration_seconds:p95_rate1m{{job=~"{ALL_JOBS}"}}',
                    "{{job}}",
                )
            ),
            w=5,
        )
    )
    panels.append(
        timeseries(
            layout,
            "Refused at the edge",
            "Requests/s Traefik answered 429 itself (the per-client limits): the services never "
            "see them.",
            "reqps",
            targets(("traefik:edge_refusals:rate1m", "429")),
            w=4,
        )
    )
    panels.append(
        up_stat(
            layout,
            "Scrape targets",
            "1 when Prometheus can scrape the backend's /metrics.",
            targets((f'up{{job=~"{ALL_JOBS}"}}', "{{job}}")),
            w=3,
        )
    )

    # One row per backend, repeated over the `backend` variable.
    panels.append(row(layout, "Backend: $backend", repeat="backend"))
    panels.append(
        timeseries(
            layout,
            "Requests/s: service vs Traefik",
            "API requests counted by the service itself and requests Traefik forwarded to it "
            "(Traefik also counts docs and OpenAPI requests).",
            "reqps",
            targets(
                ('job:http_server_requests:rate1m{job="$backend"}', "service"),
                (f"backend:traefik_service_requests:rate1m{{{TRAEFIK}}}", "traefik"),
            ),
        )
    )
    panels.append(
        timeseries(
            layout,
            "Responses/s by status code",
            "Service view (API routes) and Traefik view.",
            "reqps",
            targets(
                (
                    'job_code:http_server_requests:rate1m{job="$backend"}',
                    "service {{http_response_status_code}}",
                ),
                (f"backend_code:traefik_service_requests:rate1m{{{TRAEFIK}}}", "traefik {{code}}"),
            ),
        )
    )
    panels.append(
        timeseries(
            layout,
            "Error ratio",
            "4xx: rejected arguments and stepper conflicts. 5xx: server errors; through Traefik "
            "also 502/504 when the backend is unreachable.",
            "percentunit",
            targets(
                ('job:http_server_server_errors:ratio_rate1m{job="$backend"}', "service 5xx"),
                ('job:http_server_client_errors:ratio_rate1m{job="$backend"}', "service 4xx"),
                (f"backend:traefik_service_server_errors:ratio_rate1m{{{TRAEFIK}}}", "traefik 5xx"),
                (f"backend:traefik_service_client_errors:ratio_rate1m{{{TRAEFIK}}}", "traefik 4xx"),
            ),
        )
    )
    layout.newline()
    panels.append(
        timeseries(
            layout,
            "Latency: service view",
            "Server-side duration of API requests, from the service's own histogram. Click a "
            "point for the backend's traces (Jaeger).",
            "s",
            targets(
                *[
                    (
                        f'job:http_server_request_duration_seconds:p{q}_rate1m{{job="$backend"}}',
                        f"p{q}",
                    )
                    for q in (50, 95, 99)
                ]
            ),
            w=12,
            links=trace_links(),
        )
    )
    panels.append(
        timeseries(
            layout,
            "Latency: Traefik view",
            "Duration as Traefik measures it (same bucket boundaries): the gap to the service "
            "view is the proxy's overhead. Click a point for the backend's traces (Jaeger).",
            "s",
            targets(
                *[
                    (
                        f"histogram_quantile(0.{q}, "
                        f"backend_le:traefik_service_request_duration_seconds_bucket:rate1m"
                        f"{{{TRAEFIK}}})",
                        f"p{q}",
                    )
                    for q in (50, 95, 99)
                ]
            ),
            w=12,
            links=trace_links(),
        )
    )
    layout.newline()
    panels.append(
        timeseries(
            layout,
            "Computation time per function",
            "Time spent computing a result and rendering it as a decimal string.",
            "s",
            targets(
                *[
                    (
                        f"job_function:mathapi_computation_duration_seconds:p{q}_rate1m"
                        f'{{job="$backend"}}',
                        f"{{{{function}}}} p{q}",
                    )
                    for q in (50, 95, 99)
                ]
            ),
        )
    )
    panels.append(
        timeseries(
            layout,
            "Rejected inputs by reason",
            "Arguments refused with 400, per reason.",
            "reqps",
            targets(('job_reason:mathapi_rejected_inputs:rate1m{job="$backend"}', "{{reason}}")),
        )
    )
    panels.append(
        timeseries(
            layout,
            "Render cache",
            "The in-process cache of rendered answers (log/metric contract v2): hits, misses and "
            "evictions per second; a scan of distinct large arguments shows as misses and "
            "evictions, never as memory beyond the byte budget.",
            "ops",
            targets(
                (
                    'sum by (event) (rate(mathapi_render_cache_events_total{job="$backend"}[1m]))',
                    "{{event}}",
                )
            ),
        )
    )
    panels.append(
        timeseries(
            layout,
            "Render cache size",
            "Bytes held by the render cache (bounded by its budget).",
            "bytes",
            targets(('sum(mathapi_render_cache_bytes{job="$backend"})', "bytes")),
            w=8,
        )
    )
    panels.append(
        up_stat(
            layout,
            "Up",
            "Prometheus scrape of /metrics, and Traefik's health check of /health.",
            targets(
                ('up{job="$backend"}', "scrape"),
                (f"backend_url:traefik_service_server_up:min{{{TRAEFIK}}}", "traefik"),
            ),
            w=8,
        )
    )
    panels.append(
        timeseries(
            layout,
            "In-flight requests",
            "Requests being handled right now.",
            "short",
            targets(('job:http_server_active_requests:sum{job="$backend"}', "in flight")),
            w=8,
        )
    )
    layout.newline()
    panels.append(
        timeseries(
            layout,
            "Process memory",
            "Resident set size (compose limit: 512 MiB).",
            "bytes",
            targets(('process_resident_memory_bytes{job="$backend"}', "resident")),
            w=12,
        )
    )
    panels.append(
        timeseries(
            layout,
            "Process CPU",
            "CPU seconds per second (compose limit: 1 CPU).",
            "percentunit",
            targets(('rate(process_cpu_seconds_total{job="$backend"}[1m])', "cpu")),
            w=12,
        )
    )
    layout.newline()
    panels.append(
        logs_panel(
            layout,
            "Logs: errors and warnings",
            "The backend's warn, error and fatal lines (Elasticsearch, newest first). A line's "
            "trace.id opens its trace (Jaeger).",
            f'{LOG_SERVICE_FIELD}:"$backend" AND {LOG_LEVEL_FIELD}:({" OR ".join(ALERT_LEVELS)})',
        )
    )
    panels.append(
        logs_panel(
            layout,
            "Logs: every line",
            "Every line of the backend, one per request at info (log contract v2). Kibana "
            "(/kibana) is the full log UI.",
            f'{LOG_SERVICE_FIELD}:"$backend"',
        )
    )

    panels.append(row(layout, f"Sequence stepper ({SEQUENCE.name})"))
    panels.append(
        timeseries(
            layout,
            "Steps/s by operation and outcome",
            "current/next/previous/reset requests; conflict = 409 at either end of the sequence.",
            "reqps",
            targets(
                (
                    f"job_operation_outcome:mathapi_sequence_steps:rate1m{{{STEPPER_JOB}}}",
                    "{{operation}} {{outcome}}",
                )
            ),
        )
    )
    panels.append(
        timeseries(
            layout,
            "Commit latency",
            "Time for a step to become durable (fsync or Redis reply).",
            "s",
            targets(
                *[
                    (
                        f"job_backend:mathapi_sequence_commit_duration_seconds:p{q}_rate1m"
                        f"{{{STEPPER_JOB}}}",
                        f"{{{{backend}}}} p{q}",
                    )
                    for q in (50, 99)
                ]
            ),
        )
    )
    panels.append(
        timeseries(
            layout,
            "Current index",
            f"The stepper's index as the {SEQUENCE.name} service last saw it.",
            "short",
            targets((f"mathapi_sequence_index{{{STEPPER_JOB}}}", "index")),
        )
    )

    return {
        "uid": "mathapi-overview",
        "title": "mathapi overview",
        "description": f"Traffic, errors, latency and resources of every mathapi backend. {MARK}.",
        "tags": ["mathapi"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "time": {"from": "now-15m", "to": "now"},
        "refresh": "10s",
        "schemaVersion": 39,
        "version": 1,
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "type": "custom",
                    "name": "backend",
                    "label": "Backend",
                    "query": ",".join(BACKENDS),
                    "multi": True,
                    "includeAll": True,
                    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                    "options": [{"selected": True, "text": "All", "value": "$__all"}]
                    + [{"selected": False, "text": b, "value": b} for b in BACKENDS],
                    "hide": 0,
                }
            ]
        },
        "panels": panels,
    }


# ---------------------------------------------------------------------------------------
# Kibana
# ---------------------------------------------------------------------------------------

DATA_VIEW_ID = "mathapi-logs"
# Replaced by configs/setup/kibana-setup.sh with MATHAPI_PUBLIC_URL at import time.
PUBLIC_URL_PLACEHOLDER = "@MATHAPI_PUBLIC_URL@"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
# Log contract v2: one "request completed" line per request carries everything (status,
# latency, function, arguments, compute time, reason/detail of a refusal).
REQUEST_LINE = 'message:"request completed"'
COMPUTED = f"{REQUEST_LINE} and mathapi.compute_ms:*"
REJECTED = (
    f"{REQUEST_LINE} and http.response.status_code >= 400 and "
    "http.response.status_code < 500 and mathapi.reason:*"
)


def saved_object(
    obj_type: str, obj_id: str, attributes: dict, references: list[dict], type_version: str
) -> dict:
    return {
        "type": obj_type,
        "id": obj_id,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": "8.8.0",
        "typeMigrationVersion": type_version,
        "managed": False,
    }


def search_source(query: str) -> dict:
    return {
        "searchSourceJSON": json.dumps(
            {
                "query": {"query": query, "language": "kuery"},
                "filter": [],
                "indexRefName": INDEX_REF,
            },
            separators=(",", ":"),
        )
    }


def data_view_ref() -> list[dict]:
    return [{"type": "index-pattern", "id": DATA_VIEW_ID, "name": INDEX_REF}]


def saved_search(
    obj_id: str, title: str, description: str, query: str, columns: list[str], sort: list[list[str]]
) -> dict:
    return saved_object(
        "search",
        obj_id,
        {
            "title": title,
            "description": description,
            "columns": columns,
            "sort": sort,
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "timeRestore": False,
            "kibanaSavedObjectMeta": search_source(query),
        },
        data_view_ref(),
        "10.5.0",
    )


def terms(agg_id: str, field: str, schema: str, size: int) -> dict:
    return {
        "id": agg_id,
        "enabled": True,
        "type": "terms",
        "schema": schema,
        "params": {
            "field": field,
            "orderBy": "1",
            "order": "desc",
            "size": size,
            "otherBucket": False,
            "otherBucketLabel": "Other",
            "missingBucket": False,
            "missingBucketLabel": "Missing",
        },
    }


def date_histogram(agg_id: str) -> dict:
    return {
        "id": agg_id,
        "enabled": True,
        "type": "date_histogram",
        "schema": "segment",
        "params": {
            "field": "@timestamp",
            "useNormalizedEsInterval": True,
            "scaleMetricValues": False,
            "interval": "auto",
            "drop_partials": False,
            "min_doc_count": 1,
            "extended_bounds": {},
        },
    }


def xy_params(chart: str, y_title: str, series_label: str) -> dict:
    return {
        "type": chart,
        "grid": {"categoryLines": False},
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "type": "category",
                "position": "bottom",
                "show": True,
                "style": {},
                "scale": {"type": "linear"},
                "labels": {"show": True, "filter": True, "truncate": 100},
                "title": {},
            }
        ],
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "name": "LeftAxis-1",
                "type": "value",
                "position": "left",
                "show": True,
                "style": {},
                "scale": {"type": "linear", "mode": "normal"},
                "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                "title": {"text": y_title},
            }
        ],
        "seriesParams": [
            {
                "show": True,
                "type": chart,
                "mode": "normal",
                "data": {"label": series_label, "id": "1"},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "lineWidth": 2,
                "interpolate": "linear",
                "showCircles": True,
            }
        ],
        "addTooltip": True,
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "labels": {},
        "thresholdLine": {
            "show": False,
            "value": 10,
            "width": 1,
            "style": "full",
            "color": "#E7664C",
        },
    }


def visualization(
    obj_id: str,
    title: str,
    description: str,
    query: str,
    vis_type: str,
    aggs: list[dict],
    params: dict,
) -> dict:
    vis_state = {"title": title, "type": vis_type, "aggs": aggs, "params": params}
    return saved_object(
        "visualization",
        obj_id,
        {
            "title": title,
            "description": description,
            "visState": json.dumps(vis_state, separators=(",", ":")),
            "uiStateJSON": "{}",
            "version": 1,
            "kibanaSavedObjectMeta": search_source(query),
        },
        data_view_ref(),
        "8.5.0",
    )


def kibana_objects() -> list[dict]:
    objects = [
        saved_object(
            "index-pattern",
            DATA_VIEW_ID,
            {
                "title": "mathapi-logs-*",
                "name": "mathapi logs",
                "timeFieldName": "@timestamp",
                "fields": "[]",
                "fieldAttrs": "{}",
                # trace.id (sampled requests) as a link to the trace in Jaeger under Traefik;
                # kibana-setup puts the stack's public URL in place of the placeholder.
                "fieldFormatMap": json.dumps(
                    {
                        "trace.id": {
                            "id": "url",
                            "params": {
                                "type": "a",
                                "urlTemplate": (
                                    f"{PUBLIC_URL_PLACEHOLDER}/jaeger/trace/{{{{value}}}}"
                                ),
                                "labelTemplate": "{{value}}",
                                "openLinkInCurrentTab": False,
                            },
                        }
                    },
                    separators=(",", ":"),
                ),
                "runtimeFieldMap": "{}",
                "sourceFilters": "[]",
            },
            [],
            "8.0.0",
        )
    ]

    searches = [
        saved_search(
            "mathapi-all-logs",
            "mathapi: all logs",
            "Every log line of every service.",
            "",
            [
                "service.name",
                "log.level",
                "message",
                "url.path",
                "http.response.status_code",
                "http.latency_ms",
                "trace.id",
            ],
            [["@timestamp", "desc"]],
        ),
        saved_search(
            "mathapi-errors",
            "mathapi: errors",
            "Error and fatal lines, and requests answered 5xx.",
            "log.level:(error or fatal) or http.response.status_code >= 500",
            [
                "service.name",
                "log.level",
                "message",
                "error.message",
                "url.path",
                "http.request.id",
                "trace.id",
            ],
            [["@timestamp", "desc"]],
        ),
        saved_search(
            "mathapi-slow-computations",
            "mathapi: slow computations",
            "Computations that took 10 ms or more, slowest first.",
            f"{COMPUTED} and mathapi.compute_ms >= 10",
            [
                "service.name",
                "mathapi.function",
                "mathapi.arguments",
                "mathapi.compute_ms",
                "mathapi.result_digits",
                "mathapi.cache",
                "http.request.id",
            ],
            [["mathapi.compute_ms", "desc"]],
        ),
        saved_search(
            "mathapi-rejected-inputs",
            "mathapi: rejected inputs",
            "Requests refused with a 4xx problem, with the reason and the detail "
            "(fields of the request line).",
            REJECTED,
            [
                "service.name",
                "mathapi.function",
                "mathapi.arguments",
                "mathapi.reason",
                "mathapi.detail",
            ],
            [["@timestamp", "desc"]],
        ),
    ]
    objects += searches

    count = {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}
    visualizations = [
        visualization(
            "mathapi-requests-per-service",
            "mathapi: requests per service over time",
            'Completed requests (one "request completed" line each) per service.',
            REQUEST_LINE,
            "histogram",
            [count, date_histogram("2"), terms("3", "service.name", "group", 5)],
            xy_params("histogram", "Requests", "Requests"),
        ),
        visualization(
            "mathapi-computation-percentiles",
            "mathapi: computation time percentiles",
            "p50/p95/p99 of the computation time (compute_ms) per function.",
            COMPUTED,
            "line",
            [
                {
                    "id": "1",
                    "enabled": True,
                    "type": "percentiles",
                    "schema": "metric",
                    "params": {"field": "mathapi.compute_ms", "percents": [50, 95, 99]},
                },
                date_histogram("2"),
                terms("3", "mathapi.function", "group", 5),
            ],
            xy_params("line", "Milliseconds", "Percentiles of mathapi.compute_ms"),
        ),
        visualization(
            "mathapi-rejected-by-reason",
            "mathapi: rejected inputs by reason",
            "Refused requests per reason.",
            REJECTED,
            "pie",
            [count, terms("2", "mathapi.reason", "segment", 10)],
            {
                "type": "pie",
                "addTooltip": True,
                "legendDisplay": "show",
                "legendPosition": "right",
                "isDonut": True,
                "nestedLegend": False,
                "distinctColors": False,
                "truncateLegend": True,
                "maxLegendLines": 1,
                "emptySizeRatio": 0.3,
                "palette": {"type": "palette", "name": "default"},
                "labels": {
                    "show": True,
                    "last_level": True,
                    "values": True,
                    "valuesFormat": "percent",
                    "percentDecimals": 1,
                    "truncate": 100,
                    "position": "default",
                },
            },
        ),
        visualization(
            "mathapi-top-arguments",
            "mathapi: top arguments",
            "Most requested arguments per function.",
            REQUEST_LINE,
            "table",
            [
                count,
                terms("2", "mathapi.function", "bucket", 5),
                terms("3", "mathapi.arguments", "bucket", 10),
            ],
            {
                "perPage": 10,
                "showPartialRows": False,
                "showMetricsAtAllLevels": False,
                "showTotal": False,
                "totalFunc": "sum",
                "percentageCol": "",
            },
        ),
    ]
    objects += visualizations

    panels = []
    references = []
    grid = [
        (0, 0, 24, 12),
        (0, 12, 24, 12),
        (0, 24, 12, 14),
        (12, 24, 12, 14),
        (0, 38, 24, 15),
        (0, 53, 24, 15),
    ]
    embedded = visualizations + [searches[1], searches[2]]
    for index, (obj, (x, y, w, h)) in enumerate(zip(embedded, grid, strict=True), start=1):
        panel_index = str(index)
        panels.append(
            {
                "type": obj["type"],
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": panel_index},
                "panelIndex": panel_index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{panel_index}",
            }
        )
        references.append(
            {"type": obj["type"], "id": obj["id"], "name": f"{panel_index}:panel_{panel_index}"}
        )
    objects.append(
        saved_object(
            "dashboard",
            "mathapi-logs-dashboard",
            {
                "title": "mathapi logs",
                "description": "Requests, computation times, rejected inputs and errors of every "
                f"mathapi service, from their bunyan logs. {MARK}.",
                "panelsJSON": json.dumps(panels, separators=(",", ":")),
                "optionsJSON": json.dumps(
                    {
                        "useMargins": True,
                        "syncColors": False,
                        "syncCursor": True,
                        "syncTooltips": False,
                        "hidePanelTitles": False,
                    },
                    separators=(",", ":"),
                ),
                "timeRestore": True,
                "timeFrom": "now-15m",
                "timeTo": "now",
                "refreshInterval": {"pause": False, "value": 10000},
                "version": 1,
                "kibanaSavedObjectMeta": {
                    "searchSourceJSON": json.dumps(
                        {"query": {"query": "", "language": "kuery"}, "filter": []},
                        separators=(",", ":"),
                    )
                },
            },
            references,
            "8.9.0",
        )
    )
    return objects


# ---------------------------------------------------------------------------------------


def render() -> dict[Path, str]:
    grafana = json.dumps(grafana_dashboard(), indent=2) + "\n"
    kibana = "".join(
        json.dumps(o, separators=(",", ":"), sort_keys=True) + "\n" for o in kibana_objects()
    )
    return {GRAFANA_FILE: grafana, KIBANA_FILE: kibana}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare the committed files with the generated ones"
    )
    args = parser.parse_args()
    return write_or_check(render(), args.check, "scripts/stack_dashboards.py")


if __name__ == "__main__":
    sys.exit(main())
