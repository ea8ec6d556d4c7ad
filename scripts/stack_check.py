#!/usr/bin/env python3
"""The checks behind `make check-stack` that need more than a linter.

scripts/check-stack.sh runs the tools (Compose, hadolint, yamllint, promtool, Traefik,
Prometheus, the services) and calls the subcommands here:

  static --compose-json FILE --promql-rules OUT
      compose invariants, Traefik <-> compose <-> Prometheus wiring, Grafana dashboard
      (datasource uids, metric and label names against docs/observability.md and Traefik's
      documented metrics), Kibana saved objects against the index template, the Logstash
      pipeline against the template and the log contract, unit-test coverage of the alert
      rules; writes every dashboard query as a recording rule to OUT so that
      `promtool check rules` parses it.
  ports N                     print N free localhost TCP ports
  compose-env SERVICE         a backend's environment in docker-compose.yml (RUST_LOG, ...)
  live-configs --dir D ...    the real Prometheus and Traefik configs, pointed at localhost
  routes --traefik URL        answers through Traefik (routing, docs, problem documents)
  sequence --url URL ...      drives the fibonacci stepper (its metrics and log fields)
  queries --prometheus URL    every dashboard query and recording rule returns data
  logs FILE...                real log lines against the contract, the pipeline and the template

Every failure is printed as "FAIL: ..." and makes the subcommand exit 1.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs" / "observability.md"
COMPOSE = ROOT / "docker-compose.yml"
TRAEFIK_STATIC = ROOT / "configs" / "traefik" / "traefik.yml"
TRAEFIK_DYNAMIC = ROOT / "configs" / "traefik" / "dynamic.yml"
PROMETHEUS_CONFIG = ROOT / "configs" / "prometheus" / "prometheus.yml"
RULES_DIR = ROOT / "configs" / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "configs" / "prometheus" / "tests"
GRAFANA_DATASOURCES = ROOT / "configs" / "grafana" / "provisioning" / "datasources"
GRAFANA_PROVIDERS = ROOT / "configs" / "grafana" / "provisioning" / "dashboards"
GRAFANA_DASHBOARDS = ROOT / "dashboards" / "grafana"
KIBANA_OBJECTS = ROOT / "dashboards" / "kibana" / "mathapi.ndjson"
INDEX_TEMPLATE = ROOT / "configs" / "elasticsearch" / "index-template.json"
PIPELINE = ROOT / "configs" / "logstash" / "pipeline" / "mathapi.conf"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_model import ADMIN_PREFIXES  # noqa: E402
from stack_model import BACKENDS as MODEL_BACKENDS  # noqa: E402

BACKENDS = {b.name: b.port for b in MODEL_BACKENDS}

# Traefik v3's Prometheus metrics and their labels, as documented in "Metrics overview"
# (docs/content/observability/metrics/overview.md of traefik/traefik, v3): entrypoint and
# service metrics. Router metrics are left out (addRoutersLabels is off), and so are
# open-connection gauges, whose names changed within v3.
TRAEFIK_METRICS: dict[str, tuple[str, set[str]]] = {
    "traefik_config_reloads_total": ("counter", set()),
    "traefik_config_last_reload_success": ("gauge", set()),
    "traefik_entrypoint_requests_total": ("counter", {"code", "method", "protocol", "entrypoint"}),
    "traefik_entrypoint_request_duration_seconds": (
        "histogram", {"code", "method", "protocol", "entrypoint"}),
    "traefik_entrypoint_requests_bytes_total": (
        "counter", {"code", "method", "protocol", "entrypoint"}),
    "traefik_entrypoint_responses_bytes_total": (
        "counter", {"code", "method", "protocol", "entrypoint"}),
    "traefik_service_requests_total": ("counter", {"code", "method", "protocol", "service"}),
    "traefik_service_request_duration_seconds": (
        "histogram", {"code", "method", "protocol", "service"}),
    "traefik_service_retries_total": ("counter", {"service"}),
    "traefik_service_server_up": ("gauge", {"service", "url"}),
    "traefik_service_requests_bytes_total": ("counter", {"code", "method", "protocol", "service"}),
    "traefik_service_responses_bytes_total": (
        "counter", {"code", "method", "protocol", "service"}),
}
# Labels Prometheus itself attaches to every scraped series.
TARGET_LABELS = {"job", "instance"}

# Template fields whose bunyan source only appears in exceptional lines, so that no normal
# run of the services produces them. Each must still be a documented log field.
RARE_LOG_FIELDS = {
    "error.message": "bunyan `panic`, logged only when a handler panics",
}

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)
    print(f"FAIL: {message}", flush=True)


def ok(message: str, since: int = 0) -> None:
    """Prints message unless a failure was recorded after index `since` of `failures`."""
    if len(failures) == since:
        print(f"ok: {message}", flush=True)


def finish(what: str) -> int:
    if failures:
        print(f"{what}: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print(f"{what}: all checks passed")
    return 0


# ---------------------------------------------------------------------------------------
# The telemetry contract (docs/observability.md)
# ---------------------------------------------------------------------------------------


def contract_section(title: str) -> str:
    text = CONTRACT.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not match:
        raise SystemExit(f"docs/observability.md has no '## {title}' section")
    return match.group(1)


def table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"^\|\s*-", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def backticked(cell: str) -> list[str]:
    # Values in parentheses, e.g. `function` (`fibonacci`, ...), are not names.
    return re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", cell))


def contract_metrics() -> dict[str, set[str]]:
    """Every series name the services export, with its labels."""
    series: dict[str, set[str]] = {}
    for row in table_rows(contract_section("Metrics")):
        if len(row) < 3 or row[0] == "metric":
            continue
        names, kind, labels = backticked(row[0]), row[1], set(backticked(row[2]))
        for name in names:
            if kind.startswith("histogram"):
                series[f"{name}_bucket"] = labels | {"le"}
                series[f"{name}_sum"] = set(labels)
                series[f"{name}_count"] = set(labels)
            else:
                series[name] = labels
    return series


def contract_log_fields() -> set[str]:
    """Every field a bunyan line of a service may carry."""
    fields: set[str] = set()
    for row in table_rows(contract_section("Logs")):
        if row[1:2] in (["type"], ["level"]):  # a table's header row
            continue
        if len(row) == 3 and row[1] and re.match(r"^\d+", row[1]):  # events: msg | level | extra
            fields.update(backticked(row[2]))
        elif row[0].startswith("`"):
            fields.update(backticked(row[0]))
    return fields


# ---------------------------------------------------------------------------------------
# PromQL: enough of a tokenizer to list the metric names and label names a query uses.
# ---------------------------------------------------------------------------------------

PROMQL_KEYWORDS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio", "by", "without", "on", "ignoring",
    "group_left", "group_right", "and", "or", "unless", "offset", "bool", "atan2", "inf", "nan",
}
TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|\{[^}]*\}|\[[^\]]*\]|'
    r"(?P<grouping>\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))|"
    r"(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<call>\s*\()?|"
    r"[0-9.]+(?:e[+-]?\d+)?|\S"
)


def promql_names(expr: str) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """(metric name, label names in its matchers) per selector, and the grouping labels."""
    selectors: list[tuple[str, set[str]]] = []
    grouping: set[str] = set()
    for match in TOKEN.finditer(expr):
        token = match.group(0)
        if match.group("grouping"):
            inner = token[token.index("(") + 1:-1]
            grouping.update(label.strip() for label in inner.split(",") if label.strip())
        elif token.startswith("{"):
            labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", token))
            if selectors and selectors[-1][1] is None:
                selectors[-1] = (selectors[-1][0], labels)
            else:
                selectors.append(("", labels))  # a selector without a metric name
        elif match.group("ident"):
            name = match.group("ident")
            if match.group("call") or name in PROMQL_KEYWORDS:
                continue
            selectors.append((name, None))  # type: ignore[arg-type]
    return [(name, labels or set()) for name, labels in selectors], grouping


def recording_rules() -> dict[str, str]:
    rules = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    rules[rule["record"]] = rule["expr"]
    return rules


def alert_rules() -> dict[str, str]:
    rules = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rules[rule["alert"]] = rule["expr"]
    return rules


def check_query_names(where: str, expr: str, service_series: dict[str, set[str]],
                      recorded: set[str]) -> str:
    """Checks one query's names; answers which metrics it reads: service, traefik, both."""
    selectors, grouping = promql_names(expr)
    kinds = set()
    available: set[str] = set(TARGET_LABELS)
    for name, labels in selectors:
        if not name:
            fail(f"{where}: a selector without a metric name in {expr!r}")
            continue
        if name.startswith("traefik_"):
            kinds.add("traefik")
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            documented = TRAEFIK_METRICS.get(name) or TRAEFIK_METRICS.get(base)
            if documented is None or (name != base and documented[0] != "histogram"):
                fail(f"{where}: {name} is not a documented Traefik v3 metric")
                continue
            allowed = documented[1] | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())
        elif name in service_series:
            kinds.add("service")
            allowed = service_series[name] | TARGET_LABELS
        elif name in recorded:
            kinds.add("service")
            # A recording rule keeps the labels it aggregates by (checked in its own expr).
            allowed = set(re.findall(r"[a-z]+", name.split(":")[0])) | {"le"}
            allowed |= {"http_response_status_code"} if name.startswith("job_code") else set()
        elif name == "up":
            kinds.add("service")
            allowed = set(TARGET_LABELS)
        else:
            fail(f"{where}: {name} is neither in docs/observability.md, a recording rule, "
                 f"Traefik's documented metrics nor `up`")
            continue
        available |= allowed
        unknown = labels - allowed
        if unknown:
            fail(f"{where}: {name} has no label(s) {sorted(unknown)}")
    unknown_grouping = grouping - available
    if unknown_grouping:
        fail(f"{where}: grouping by unknown label(s) {sorted(unknown_grouping)} in {expr!r}")
    return "+".join(sorted(kinds))


# ---------------------------------------------------------------------------------------
# Grafana
# ---------------------------------------------------------------------------------------


def grafana_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expr) for every query of every dashboard, variables expanded."""
    queries = []
    for path in sorted(GRAFANA_DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        variables = {v["name"]: [o["value"] for o in v.get("options", [])
                                 if o["value"] != "$__all"]
                     for v in dashboard.get("templating", {}).get("list", [])}
        for panel in grafana_panels(dashboard):
            for target in panel.get("targets", []):
                expr = target["expr"]
                names = sorted(set(re.findall(r"\$(\w+)", expr)))
                combos: list[dict[str, str]] = [{}]
                for name in names:
                    combos = [dict(c, **{name: value}) for c in combos
                              for value in variables.get(name, [])]
                for combo in combos:
                    expanded = expr
                    for name, value in combo.items():
                        expanded = expanded.replace(f"${name}", value)
                    label = ",".join(f"{k}={v}" for k, v in combo.items())
                    where = f"{path.name} panel {panel['title']!r} {target['refId']}"
                    queries.append((where + (f" [{label}]" if label else ""), expanded))
    return queries


def check_grafana(promql_out: Path) -> None:
    since = len(failures)
    datasource_uids = set()
    for path in GRAFANA_DATASOURCES.glob("*.yml"):
        for ds in yaml.safe_load(path.read_text()).get("datasources", []):
            datasource_uids.add(ds["uid"])
    if not datasource_uids:
        fail("no provisioned Grafana datasource")
    providers = []
    for path in GRAFANA_PROVIDERS.glob("*.yml"):
        providers += yaml.safe_load(path.read_text()).get("providers", [])
    provider_paths = {p["options"]["path"] for p in providers}

    compose = yaml.safe_load(COMPOSE.read_text())
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    for provider_path in provider_paths:
        if mounts.get(provider_path) != "./dashboards/grafana":
            fail(f"Grafana provider path {provider_path} is not the mount of ./dashboards/grafana")
    home = grafana["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "")
    if not (GRAFANA_DASHBOARDS / Path(home).name).exists():
        fail(f"Grafana home dashboard {home} is not a file of dashboards/grafana/")

    for path in sorted(GRAFANA_DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        ids = [p["id"] for p in grafana_panels(dashboard)]
        if len(ids) != len(set(ids)):
            fail(f"{path.name}: duplicate panel ids")
        variables = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}
        for panel in grafana_panels(dashboard):
            if panel["type"] == "row":
                if panel.get("repeat") and panel["repeat"] not in variables:
                    fail(f"{path.name}: row {panel['title']!r} repeats unknown ${panel['repeat']}")
                continue
            sources = [panel.get("datasource")] + [t.get("datasource") for t in panel["targets"]]
            for source in sources:
                if not source or source.get("uid") not in datasource_uids:
                    fail(f"{path.name} panel {panel['title']!r}: datasource {source} is not "
                         f"the provisioned one {sorted(datasource_uids)}")
            if not panel["targets"]:
                fail(f"{path.name} panel {panel['title']!r} has no query")
            for target in panel["targets"]:
                for name in re.findall(r"\$(\w+)", target["expr"]):
                    if name not in variables:
                        fail(f"{path.name} panel {panel['title']!r}: unknown variable ${name}")

    service_series = contract_metrics()
    recorded = set(recording_rules())
    rules = []
    for index, (where, expr) in enumerate(dashboard_queries()):
        check_query_names(where, expr, service_series, recorded)
        rules.append({"record": f"dashboard_query_{index}", "expr": expr})
    for name, expr in {**recording_rules(), **alert_rules()}.items():
        check_query_names(f"rule {name}", expr, service_series, recorded)
    promql_out.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries",
                                                       "rules": rules}]}, sort_keys=False))
    ok(f"Grafana: {len(rules)} queries use the provisioned datasource and documented names; "
       f"written to {promql_out.name} for promtool to parse", since)


# ---------------------------------------------------------------------------------------
# The log pipeline: Logstash config, index template, Kibana objects
# ---------------------------------------------------------------------------------------


def template_fields() -> dict[str, str]:
    """Leaf field path -> mapping type."""
    template = json.loads(INDEX_TEMPLATE.read_text())
    fields: dict[str, str] = {}

    def walk(properties: dict, prefix: str) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(spec["properties"], path + ".")
            else:
                fields[path] = spec["type"]

    walk(template["template"]["mappings"]["properties"], "")
    return fields


def dotted(field_ref: str) -> str:
    """Logstash's [a][b] -> a.b."""
    return ".".join(re.findall(r"\[([^\]]+)\]", field_ref)) if field_ref.startswith("[") \
        else field_ref


class Pipeline:
    """What configs/logstash/pipeline/mathapi.conf does to a bunyan line, read from it."""

    def __init__(self) -> None:
        text = PIPELINE.read_text()
        block = re.search(r"rename\s*=>\s*\{(.*?)\}\s*\}", text, re.S)
        if not block:
            raise SystemExit("the pipeline has no rename table")
        self.renames = {src: dotted(dst) for src, dst in re.findall(
            r'"\[@metadata\]\[bunyan\]\[(\w+)\]"\s*=>\s*"([^"]+)"', block.group(1))}
        self.levels = [(int(n), name) for n, name in re.findall(
            r'\[@metadata\]\[bunyan\]\[level\]\s*>=\s*(\d+)\s*\{\s*mutate\s*\{\s*add_field\s*=>'
            r'\s*\{\s*"\[log\]\[level\]"\s*=>\s*"(\w+)"', text)]
        fallback = re.search(r'\}\s*else\s*\{\s*mutate\s*\{\s*add_field\s*=>\s*\{\s*'
                             r'"\[log\]\[level\]"\s*=>\s*"(\w+)"', text)
        self.level_fallback = fallback.group(1) if fallback else None
        self.date_source = re.search(
            r'date\s*\{\s*match\s*=>\s*\["\[@metadata\]\[bunyan\]\[(\w+)\]",\s*"ISO8601"\]', text)
        grok = re.search(r'grok\s*\{\s*match\s*=>\s*\{\s*"message"\s*=>\s*"([^"]+)"', text)
        self.grok_fields = [dotted(f) for f in re.findall(r"%\{\w+:(\[[^}]+)\}", grok.group(1))] \
            if grok else []
        self.index = re.search(r'index\s*=>\s*"([^"%]+)', text)
        self.handled = {"v", "level"} | ({self.date_source.group(1)} if self.date_source else set())
        self.computed = {"@timestamp", "log.level"} | set(self.grok_fields)

    def outputs(self) -> set[str]:
        return set(self.renames.values()) | self.computed

    def level_name(self, level: int) -> str | None:
        for threshold, name in sorted(self.levels, reverse=True):
            if level >= threshold:
                return name
        return self.level_fallback

    def document(self, line: dict) -> dict[str, object]:
        """The Elasticsearch document for one bunyan line (flattened field paths)."""
        doc: dict[str, object] = {"@timestamp": line.get("time"),
                                  "log.level": self.level_name(line["level"])}
        for src, dst in self.renames.items():
            if src in line:
                doc[dst] = line[src]
        # The grok pattern: "[NAME - PHASE]" at the start of the message.
        span = re.match(r"^\[(.*?) - (\w+)\]", str(line.get("msg", "")))
        if span and len(self.grok_fields) == 2:
            doc[self.grok_fields[0]] = span.group(1)
            doc[self.grok_fields[1]] = span.group(2).lower()
        return doc


def check_pipeline() -> None:
    since = len(failures)
    pipeline = Pipeline()
    fields = template_fields()
    contract = contract_log_fields()

    expected_levels = {60: "fatal", 50: "error", 40: "warn", 30: "info", 20: "debug"}
    if dict(pipeline.levels) != expected_levels or pipeline.level_fallback != "trace":
        fail(f"pipeline: level ladder {pipeline.levels} / {pipeline.level_fallback} is not "
             f"bunyan's 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal")
    if not pipeline.date_source or pipeline.date_source.group(1) != "time":
        fail("pipeline: @timestamp must come from bunyan `time` (date filter, ISO8601)")
    if pipeline.grok_fields != ["span.name", "span.phase"]:
        fail(f"pipeline: the span grok must fill span.name and span.phase, not "
             f"{pipeline.grok_fields}")

    undocumented = set(pipeline.renames) - contract
    if undocumented:
        fail(f"pipeline renames fields docs/observability.md does not list: {sorted(undocumented)}")
    unrouted = contract - set(pipeline.renames) - pipeline.handled
    if unrouted:
        fail(f"documented log fields the pipeline drops: {sorted(unrouted)}")
    unmapped = pipeline.outputs() - set(fields)
    if unmapped:
        fail(f"pipeline writes fields the index template does not map: {sorted(unmapped)}")
    unproduced = set(fields) - pipeline.outputs()
    if unproduced:
        fail(f"index template maps fields the pipeline never writes: {sorted(unproduced)}")
    for rare, why in RARE_LOG_FIELDS.items():
        source = [s for s, d in pipeline.renames.items() if d == rare]
        if not source or source[0] not in contract:
            fail(f"{rare} ({why}) must come from a documented log field")

    template = json.loads(INDEX_TEMPLATE.read_text())
    if template["template"]["mappings"].get("dynamic") != "strict":
        fail("index template: mappings must be dynamic: strict (every field fixed)")
    prefix = pipeline.index.group(1) if pipeline.index else ""
    if not any(re.fullmatch(p.replace("*", ".*"), prefix + "2026.01.01")
               for p in template["index_patterns"]):
        fail(f"Logstash writes to {prefix}YYYY.MM.dd, outside {template['index_patterns']}")
    ok(f"pipeline: {len(pipeline.renames)} renames + {len(pipeline.computed)} computed fields "
       f"= the {len(fields)} template fields; every documented log field routed", since)


def kql_fields(query: str) -> set[str]:
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    return set(re.findall(r"([A-Za-z_@][\w.@]*)\s*(?::|>=|<=|>|<)", without_strings))


def check_kibana() -> None:
    since = len(failures)
    fields = template_fields()
    template = json.loads(INDEX_TEMPLATE.read_text())
    objects = []
    for number, line in enumerate(KIBANA_OBJECTS.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            objects.append(json.loads(line))
        except json.JSONDecodeError as error:
            fail(f"{KIBANA_OBJECTS.name}:{number}: not JSON: {error}")
    by_key = {(o["type"], o["id"]): o for o in objects}
    if len(by_key) != len(objects):
        fail("Kibana objects: duplicate type/id")
    kinds = {o["type"] for o in objects}
    for needed in ("index-pattern", "search", "visualization", "dashboard"):
        if needed not in kinds:
            fail(f"Kibana objects: no {needed}")

    used: dict[str, set[str]] = {}

    def use(obj: dict, field: str) -> None:
        used.setdefault(field, set()).add(f"{obj['type']}/{obj['id']}")

    for obj in objects:
        attributes = obj["attributes"]
        names = {ref["name"] for ref in obj.get("references", [])}
        for ref in obj.get("references", []):
            if (ref["type"], ref["id"]) not in by_key:
                fail(f"{obj['type']}/{obj['id']}: reference to missing {ref['type']}/{ref['id']}")
        if obj["type"] == "index-pattern":
            if not any(re.fullmatch(p.replace("*", ".*"), attributes["title"].replace("*", "x"))
                       or p == attributes["title"] for p in template["index_patterns"]):
                fail(f"data view {attributes['title']} does not match the template's indices")
            use(obj, attributes["timeFieldName"])
            if fields.get(attributes["timeFieldName"]) != "date":
                fail(f"data view time field {attributes['timeFieldName']} is not a date")
            continue
        source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        if "indexRefName" in source and source["indexRefName"] not in names:
            fail(f"{obj['type']}/{obj['id']}: indexRefName without a reference")
        for field in kql_fields(source.get("query", {}).get("query", "")):
            use(obj, field)
        if obj["type"] == "search":
            for column in attributes.get("columns", []):
                use(obj, column)
            for field, _direction in attributes.get("sort", []):
                use(obj, field)
        elif obj["type"] == "visualization":
            vis = json.loads(attributes["visState"])
            for agg in vis["aggs"]:
                if "field" in agg.get("params", {}):
                    use(obj, agg["params"]["field"])
        elif obj["type"] == "dashboard":
            panels = json.loads(attributes["panelsJSON"])
            json.loads(attributes["optionsJSON"])
            for panel in panels:
                ref_name = f"{panel['panelIndex']}:{panel['panelRefName']}"
                if ref_name not in names:
                    fail(f"dashboard {obj['id']}: panel {panel['panelIndex']} has no reference")
    for field, users in sorted(used.items()):
        if field not in fields:
            fail(f"Kibana field {field} (used by {', '.join(sorted(users))}) is not in the "
                 f"index template")
    ok(f"Kibana: {len(objects)} objects parse, references resolve, the {len(used)} fields "
       f"they use are all in the index template", since)


# ---------------------------------------------------------------------------------------
# Compose, Traefik and Prometheus wiring
# ---------------------------------------------------------------------------------------


def check_compose(compose_json: Path) -> None:
    since = len(failures)
    model = json.loads(compose_json.read_text())
    services = model["services"]
    for name, service in services.items():
        image = service.get("image", "")
        if "build" not in service:
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
            if not tag or tag == "latest":
                fail(f"compose {name}: image {image!r} is not pinned to a version")
        published = service.get("ports", [])
        if published and name != "traefik":
            fail(f"compose {name}: only Traefik publishes ports")
        for port in published:
            if port.get("host_ip") != "127.0.0.1":
                fail(f"compose {name}: port {port.get('target')} is not bound to 127.0.0.1")

    static = yaml.safe_load(TRAEFIK_STATIC.read_text())
    entrypoints = {n: int(e["address"].rsplit(":", 1)[1]) for n, e in static["entryPoints"].items()}
    published = {p["target"] for p in services["traefik"].get("ports", [])}
    metrics_port = entrypoints[static["metrics"]["prometheus"]["entryPoint"]]
    if published != {entrypoints["web"], entrypoints["traefik"]}:
        fail(f"Traefik publishes {sorted(published)}, expected the web and dashboard entrypoints")
    if metrics_port in published:
        fail("Traefik's metrics entrypoint must not be published")

    dynamic = yaml.safe_load(TRAEFIK_DYNAMIC.read_text())["http"]
    for router_name, router in dynamic["routers"].items():
        if router["service"] not in dynamic["services"]:
            fail(f"Traefik router {router_name} uses undefined service {router['service']}")
        for entrypoint in router["entryPoints"]:
            if entrypoint not in entrypoints:
                fail(f"Traefik router {router_name} uses undefined entrypoint {entrypoint}")

    prometheus = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in prometheus["scrape_configs"]}
    if jobs.get("traefik") != [f"traefik:{metrics_port}"]:
        fail(f"Prometheus job traefik scrapes {jobs.get('traefik')}, not traefik:{metrics_port}")

    for backend, port in BACKENDS.items():
        service = services[backend]
        env = service.get("environment", {})
        if service.get("restart") != "unless-stopped":
            fail(f"compose {backend}: restart must be unless-stopped")
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        if float(limits.get("cpus", 0)) != 1.0 or int(limits.get("memory", 0)) != 512 * 2**20:
            fail(f"compose {backend}: limits must be 1 CPU and 512 MB, not {limits}")
        if env.get("MATHAPI_HOST") != "0.0.0.0" or env.get("MATHAPI_PORT") != str(port):
            fail(f"compose {backend}: MATHAPI_HOST/MATHAPI_PORT must be 0.0.0.0/{port}")
        if service.get("command") != [backend]:
            fail(f"compose {backend}: command must run the {backend} binary")
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        if f"127.0.0.1:{port}/health" not in test:
            fail(f"compose {backend}: the healthcheck must call its own /health on {port}")
        lb = dynamic["services"][backend]["loadBalancer"]
        if lb["servers"] != [{"url": f"http://{backend}:{port}"}]:
            fail(f"Traefik service {backend} does not point at http://{backend}:{port}")
        if lb.get("healthCheck", {}).get("path") != "/health":
            fail(f"Traefik service {backend} needs a /health health check (server_up metric)")
        rule = dynamic["routers"][backend]["rule"]
        if f"PathPrefix(`/{backend}/`)" not in rule or "StripPrefix" in json.dumps(dynamic):
            fail(f"Traefik router {backend} must route /{backend}/ without stripping it")
        if jobs.get(backend) != [f"{backend}:{port}"]:
            fail(f"Prometheus job {backend} scrapes {jobs.get(backend)}, not {backend}:{port}")

    fib_env = services["fibonacci"].get("environment", {})
    redis_command = " ".join(services["redis"].get("command", []))
    password = re.search(r"--requirepass (\S+)", redis_command)
    if not password:
        fail("compose redis: it must require a password (--requirepass)")
    elif fib_env.get("MATHAPI_SEQUENCE_BACKEND") != "redis" or \
            fib_env.get("MATHAPI_REDIS_URL") != f"redis://:{password.group(1)}@redis:6379":
        fail("compose fibonacci: the stepper must use the redis service with its password")
    if services["redis"].get("environment", {}).get("REDISCLI_AUTH") != (
            password.group(1) if password else None):
        fail("compose redis: the health check's redis-cli needs REDISCLI_AUTH")
    if "--appendonly yes" not in redis_command or "--appendfsync always" not in redis_command:
        fail("compose redis: append-only persistence with appendfsync always must be on")
    for prefix in ADMIN_PREFIXES:
        router = dynamic["routers"][prefix.strip("/")]
        if "admin-auth" not in router.get("middlewares", []):
            fail(f"Traefik router {prefix}: the admin paths need the admin-auth middleware")
    auth = dynamic.get("middlewares", {}).get("admin-auth", {}).get("basicAuth", {})
    if not auth.get("removeHeader") or "MATHAPI_ADMIN_PASSWORD" not in json.dumps(auth):
        fail("Traefik admin-auth: basic auth from MATHAPI_ADMIN_* that removes the header")
    ok(f"compose: {len(services)} services, images pinned, only Traefik published on "
       f"127.0.0.1; Traefik, Prometheus and compose agree on every backend's name and port", since)


def check_rule_tests() -> None:
    since = len(failures)
    tested_alerts: set[str] = set()
    tested_exprs: list[str] = []
    for path in RULE_TESTS_DIR.glob("*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    tested_alerts.add(case["alertname"])
            tested_exprs += [case["expr"] for case in test.get("promql_expr_test", [])]
    untested = set(alert_rules()) - tested_alerts
    if untested:
        fail(f"alert rules without a firing unit test: {sorted(untested)}")
    unrecorded = [r for r in recording_rules()
                  if not any(re.search(rf"\b{re.escape(r)}\b", e) for e in tested_exprs)]
    ok(f"rules: every alert ({len(alert_rules())}) has a firing unit test; "
       f"{len(recording_rules()) - len(unrecorded)} of {len(recording_rules())} recording "
       f"rules have value tests", since)


def cmd_static(args: argparse.Namespace) -> int:
    check_compose(Path(args.compose_json))
    check_rule_tests()
    check_grafana(Path(args.promql_rules))
    check_pipeline()
    check_kibana()
    return finish("static checks")


# ---------------------------------------------------------------------------------------
# Live run helpers
# ---------------------------------------------------------------------------------------


def cmd_ports(args: argparse.Namespace) -> int:
    sockets = []
    for _ in range(args.count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in sockets))
    for s in sockets:
        s.close()
    return 0


def cmd_compose_env(args: argparse.Namespace) -> int:
    """A backend's compose environment as KEY=VALUE lines, without the network settings."""
    model = json.loads(Path(args.compose_json).read_text())
    for key, value in sorted(model["services"][args.service].get("environment", {}).items()):
        if key not in ("MATHAPI_HOST", "MATHAPI_PORT", "MATHAPI_REDIS_URL"):
            print(f"{key}={value}")
    return 0


def cmd_live_configs(args: argparse.Namespace) -> int:
    """The repository's Prometheus and Traefik configs with localhost addresses."""
    out = Path(args.dir)
    ports = {"fibonacci": args.fibonacci, "factorial": args.factorial,
             "ackermann": args.ackermann}

    prometheus = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    prometheus["global"].update(scrape_interval="1s", scrape_timeout="1s",
                                evaluation_interval="1s")
    prometheus["rule_files"] = [str(PROMETHEUS_CONFIG.parent / f) for f in prometheus["rule_files"]]
    live_targets = {"prometheus": args.prometheus, "traefik": args.traefik_metrics, **ports}
    for job in prometheus["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{live_targets[job['job_name']]}"]}]
    (out / "prometheus.yml").write_text(yaml.safe_dump(prometheus, sort_keys=False))

    static = yaml.safe_load(TRAEFIK_STATIC.read_text())
    static["entryPoints"]["web"]["address"] = f"127.0.0.1:{args.traefik_web}"
    static["entryPoints"]["traefik"]["address"] = f"127.0.0.1:{args.traefik_api}"
    static["entryPoints"]["metrics"]["address"] = f"127.0.0.1:{args.traefik_metrics}"
    static["providers"]["file"]["filename"] = str(out / "dynamic.yml")
    (out / "traefik.yml").write_text(yaml.safe_dump(static, sort_keys=False))

    dynamic = yaml.safe_load(TRAEFIK_DYNAMIC.read_text())
    services = dynamic["http"]["services"]
    for name, port in {**ports, "prometheus": args.prometheus}.items():
        services[name]["loadBalancer"]["servers"] = [{"url": f"http://127.0.0.1:{port}"}]
    (out / "dynamic.yml").write_text(yaml.safe_dump(dynamic, sort_keys=False))
    return 0


def http(method: str, url: str, timeout: float = 5.0) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def cmd_routes(args: argparse.Namespace) -> int:
    """Answers through the real Traefik with the repository's routes."""
    base = args.traefik.rstrip("/")
    expectations = [
        ("/fibonacci/10/", 200, {"n": 10, "result": "55"}),
        ("/factorial/5/", 200, {"n": 5, "result": "120"}),
        ("/ackermann/2/3/", 200, {"m": 2, "n": 3, "result": "9"}),
    ]
    for path, status, body in expectations:
        code, _headers, raw = http("GET", base + path)
        got = json.loads(raw) if code == 200 else None
        if code != status or got != body:
            fail(f"Traefik {path}: {code} {raw[:200]!r}, expected {status} {body}")
        else:
            ok(f"Traefik {path} -> {code} {got}")
    for backend in BACKENDS:
        code, headers, raw = http("GET", f"{base}/{backend}/-1/" if backend != "ackermann"
                                  else f"{base}/ackermann/-1/2/")
        content_type = headers.get("Content-Type", headers.get("content-type", ""))
        problem = json.loads(raw) if content_type.startswith("application/problem+json") else {}
        if code != 400 or problem.get("status") != 400 or "reason" not in problem:
            fail(f"Traefik /{backend} bad argument: {code} {content_type} {raw[:200]!r}")
        else:
            ok(f"Traefik /{backend} bad argument -> 400 problem, reason {problem['reason']}")
        code, _headers, raw = http("GET", f"{base}/{backend}/openapi.json")
        if code != 200 or "openapi" not in json.loads(raw):
            fail(f"Traefik /{backend}/openapi.json: {code}")
        code, _headers, raw = http("GET", f"{base}/{backend}/docs")
        if code != 200 or b"<html" not in raw.lower():
            fail(f"Traefik /{backend}/docs: {code} {raw[:100]!r}")
    code, _headers, _raw = http("GET", f"{base}/unknown/1/")
    if code != 404:
        fail(f"Traefik /unknown/1/: {code}, expected 404")
    return finish("routes through Traefik")


def cmd_sequence(args: argparse.Namespace) -> int:
    """Walks the fibonacci stepper: reset, next, previous, current, and both 409s."""
    base = args.url.rstrip("/")
    deadline = time.monotonic() + args.duration
    rounds = 0
    while time.monotonic() < deadline:
        code, _h, raw = http("POST", f"{base}/fibonacci/reset")
        if code != 200 or json.loads(raw) != {"index": 0, "value": "0"}:
            fail(f"POST /fibonacci/reset: {code} {raw[:200]!r}")
            break
        code, _h, raw = http("POST", f"{base}/fibonacci/previous")
        if code != 409:
            fail(f"POST /fibonacci/previous at index 0: {code}, expected 409")
            break
        # The live run caps the sequence at index 5 (--sequence-max-index): the sixth step is
        # a 409, whose log line carries the `operation` and `index` fields.
        values = []
        for _ in range(6):
            code, _h, raw = http("POST", f"{base}/fibonacci/next")
            values.append(json.loads(raw).get("value") if code == 200 else code)
        if values != ["1", "1", "2", "3", "5", 409]:
            fail(f"POST /fibonacci/next x6 from 0 (maximum index 5) gave {values}")
            break
        code, _h, raw = http("POST", f"{base}/fibonacci/previous")
        code2, _h, raw2 = http("GET", f"{base}/fibonacci/current")
        if code != 200 or code2 != 200 or json.loads(raw2) != {"index": 4, "value": "3"}:
            fail(f"previous/current after five steps: {code} {raw!r} / {code2} {raw2!r}")
            break
        rounds += 1
        time.sleep(0.2)
    if rounds:
        ok(f"sequence stepper: {rounds} rounds of reset, 409 at 0, 5x next, 409 at the end, "
           f"previous, current")
    return finish("sequence stepper")


def prometheus_query(base: str, expr: str) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    code, _headers, raw = http("GET", url, timeout=10)
    answer = json.loads(raw)
    if code != 200 or answer.get("status") != "success":
        raise ValueError(f"{code} {answer.get('error', raw[:200])}")
    return answer["data"]["result"]


def has_data(result: list[dict]) -> bool:
    return any(math.isfinite(float(r["value"][1])) for r in result)


def cmd_queries(args: argparse.Namespace) -> int:
    """Every dashboard query and recording rule returns data, polled until a deadline."""
    base = args.prometheus.rstrip("/")
    recorded = recording_rules()
    pending = {f"recording rule {name}": name for name in recorded}
    pending.update({where: expr for where, expr in dashboard_queries()})
    pending.update({f"target up: {job}": f'up{{job="{job}"}} == 1'
                    for job in ["prometheus", "traefik", *BACKENDS]})
    errors: dict[str, str] = {}
    deadline = time.monotonic() + args.timeout
    while pending and time.monotonic() < deadline:
        for where, expr in list(pending.items()):
            try:
                if has_data(prometheus_query(base, expr)):
                    del pending[where]
                    errors.pop(where, None)
            except ValueError as error:
                errors[where] = str(error)
        if pending:
            time.sleep(2)
    total = len(recorded) + len(dashboard_queries()) + 4
    for where, expr in pending.items():
        detail = f" (error: {errors[where]})" if where in errors else ""
        fail(f"no data after {args.timeout}s: {where}: {expr}{detail}")
    if not pending:
        ok(f"Prometheus: all {total} dashboard queries, recording rules and targets have data")
    for series in prometheus_query(base, "traefik_service_server_up"):
        print(f"  traefik_service_server_up{series['metric']} = {series['value'][1]}")
    return finish("live queries")


def dashboard_p99_query(backend: str) -> str:
    """The "Latency: service view" panel's p99 query of the Grafana dashboard, for `backend`."""
    dashboard = json.loads((GRAFANA_DASHBOARDS / "mathapi-overview.json").read_text())
    for panel in grafana_panels(dashboard):
        if panel.get("title") == "Latency: service view":
            for target in panel["targets"]:
                if target.get("legendFormat") == "p99":
                    return target["expr"].replace("$backend", backend)
    raise SystemExit("the dashboard has no p99 target in 'Latency: service view'")


def cmd_p99(args: argparse.Namespace) -> int:
    """The dashboard's server-side p99 against mathapi-traffic's client-side p99 (same run)."""
    summary = json.loads(Path(args.summary).read_text())
    for backend in args.backends:
        client = summary["functions"][backend]["latency_ms"]["p99"] / 1000
        expr = dashboard_p99_query(backend)
        result = prometheus_query(args.prometheus.rstrip("/"), expr)
        if not has_data(result):
            fail(f"p99 {backend}: the dashboard query {expr} has no data")
            continue
        server = float(result[0]["value"][1])
        ratio = max(server, client) / min(server, client) if min(server, client) > 0 else math.inf
        line = (f"p99 {backend}: dashboard {server * 1000:.3f} ms, mathapi-traffic "
                f"{client * 1000:.3f} ms (ratio {ratio:.2f})")
        if ratio > 2:
            fail(f"{line}: more than 2x apart (histogram buckets too coarse?)")
        else:
            ok(line)
    return finish("p99: dashboard vs client")


# ---------------------------------------------------------------------------------------
# Real log lines
# ---------------------------------------------------------------------------------------

TYPE_CHECKS = {
    "keyword": lambda v: isinstance(v, str),
    "text": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and -2**31 <= v < 2**31,
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "date": lambda v: isinstance(v, str) and bool(datetime.fromisoformat(v.replace("Z", "+00:00"))),
}


def cmd_logs(args: argparse.Namespace) -> int:
    since = len(failures)
    pipeline = Pipeline()
    fields = template_fields()
    contract = contract_log_fields()
    produced: dict[str, int] = {}
    lines = 0
    names = set()
    for path in map(Path, args.files):
        for number, raw in enumerate(path.read_text().splitlines(), start=1):
            where = f"{path.name}:{number}"
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                fail(f"{where}: stdout line is not JSON: {raw[:120]!r}")
                continue
            lines += 1
            names.add(line.get("name"))
            undocumented = set(line) - contract
            if undocumented:
                fail(f"{where}: fields not in docs/observability.md: {sorted(undocumented)}")
            if line.get("level") not in (10, 20, 30, 40, 50, 60):
                fail(f"{where}: level {line.get('level')!r} is not a bunyan level")
            for field, value in pipeline.document(line).items():
                kind = fields.get(field)
                if kind is None:
                    fail(f"{where}: the pipeline would write {field}, unmapped")
                    continue
                try:
                    valid = TYPE_CHECKS[kind](value)
                except ValueError:
                    valid = False
                if not valid:
                    fail(f"{where}: {field}={value!r} does not fit mapping type {kind}")
                produced[field] = produced.get(field, 0) + 1
    if lines == 0:
        fail("no log lines captured")
    expected_names = set(args.services)
    if names != expected_names:
        fail(f"bunyan `name` values {sorted(map(str, names))}, expected {sorted(expected_names)}")
    missing = set(fields) - set(produced) - set(RARE_LOG_FIELDS)
    if missing:
        fail(f"template fields no real log line produced: {sorted(missing)}")
    ok(f"logs: {lines} real lines of {sorted(map(str, names))} fit the contract; through the "
       f"pipeline they fill {len(produced)} of {len(fields)} template fields with the mapped "
       f"types (not produced, by design: {sorted(set(fields) - set(produced))})", since)
    return finish("log lines")


# ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("static")
    p.add_argument("--compose-json", required=True)
    p.add_argument("--promql-rules", required=True)
    p.set_defaults(func=cmd_static)

    p = sub.add_parser("ports")
    p.add_argument("count", type=int)
    p.set_defaults(func=cmd_ports)

    p = sub.add_parser("compose-env")
    p.add_argument("--compose-json", required=True)
    p.add_argument("service", choices=list(BACKENDS))
    p.set_defaults(func=cmd_compose_env)

    p = sub.add_parser("live-configs")
    p.add_argument("--dir", required=True)
    for name in ("fibonacci", "factorial", "ackermann", "prometheus", "traefik-web",
                 "traefik-api", "traefik-metrics"):
        p.add_argument(f"--{name}", type=int, required=True)
    p.set_defaults(func=cmd_live_configs)

    p = sub.add_parser("routes")
    p.add_argument("--traefik", required=True)
    p.set_defaults(func=cmd_routes)

    p = sub.add_parser("sequence")
    p.add_argument("--url", required=True)
    p.add_argument("--duration", type=float, default=20)
    p.set_defaults(func=cmd_sequence)

    p = sub.add_parser("queries")
    p.add_argument("--prometheus", required=True)
    p.add_argument("--timeout", type=float, default=90)
    p.set_defaults(func=cmd_queries)

    p = sub.add_parser("p99")
    p.add_argument("--prometheus", required=True)
    p.add_argument("--summary", required=True, help="mathapi-traffic --summary-json output")
    p.add_argument("--backends", nargs="+", default=list(BACKENDS))
    p.set_defaults(func=cmd_p99)

    p = sub.add_parser("logs")
    p.add_argument("--services", nargs="+", default=list(BACKENDS))
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_logs)

    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
