"""Static models of the stack's files, read the way their consumers read them.

- the telemetry contract: docs/observability.md's Metrics and Logs tables;
- the Prometheus rules and the Grafana dashboards' queries (variables expanded);
- the Elasticsearch index template's fields and the Logstash pipeline's transformation of a
  bunyan line into a document (read from the pipeline file itself: its rename table, level
  ladder, date source and span grok), so real log lines can be pushed through it;
- the Kibana saved objects and the fields their queries use.

conftest.py turns each into a fixture; test_static.py and test_live.py check them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import yaml

from stack_model import ROOT

CONTRACT = ROOT / "docs" / "observability.md"
COMPOSE = ROOT / "docker-compose.yml"
RULES_DIR = ROOT / "configs" / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "configs" / "prometheus" / "tests"
GRAFANA_DATASOURCES = ROOT / "configs" / "grafana" / "provisioning" / "datasources"
GRAFANA_PROVIDERS = ROOT / "configs" / "grafana" / "provisioning" / "dashboards"
GRAFANA_DASHBOARDS = ROOT / "dashboards" / "grafana"
KIBANA_OBJECTS = ROOT / "dashboards" / "kibana" / "mathapi.ndjson"
INDEX_TEMPLATE = ROOT / "configs" / "elasticsearch" / "index-template.json"
PIPELINE = ROOT / "configs" / "logstash" / "pipeline" / "mathapi.conf"

# Template fields whose bunyan source only appears in exceptional lines, so that no normal
# run of the services produces them. Each must still be a documented log field.
RARE_LOG_FIELDS = {
    "error.message": "bunyan `panic`, logged only when a handler panics",
    "mathapi.operation": "stepper `operation`: only on storage warnings and errors at info "
    "(conflicts log at debug since log contract v2)",
    "mathapi.sequence_index": "stepper `index`: only at debug, and on a recovery at start",
    "mathapi.fault": "`fault`: only on requests a demonstration fault hit (`--fault-file`)",
}

# Document fields the pipeline derives from a line's message, not from a log field, that a run
# may never produce -> why.
RARE_DERIVED_FIELDS = {
    "span.name": "the `[HTTP_REQUEST - EVENT]` prefix: only on lines a handler logs inside a "
    "request (a panic, a storage warning); Redis's initialisation is logged by the storage's "
    "monitor, outside any request",
    "span.phase": "with `span.name`",
}

# Elasticsearch mapping type -> does a JSON value fit it.
TYPE_CHECKS = {
    "keyword": lambda v: isinstance(v, str),
    "text": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "date": lambda v: isinstance(v, str) and bool(datetime.fromisoformat(v.replace("Z", "+00:00"))),
}


# ------------------------------------------------------------------ the contract


def contract_section(title: str) -> str:
    """The text of one `## title` section of docs/observability.md."""
    text = CONTRACT.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not match:
        raise AssertionError(f"docs/observability.md has no '## {title}' section")
    return match.group(1)


def table_rows(section: str) -> list[list[str]]:
    """The cells of every markdown table row of a section (separator rows left out)."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|") and not re.match(r"^\|\s*-", line)
    ]


def backticked(cell: str) -> list[str]:
    """The `names` of a cell; values in parentheses, e.g. (`fibonacci`, ...), are not names."""
    return re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", cell))


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


# ------------------------------------------------------------------ rules and dashboards


def rules_of(kind: str) -> dict[str, str]:
    """name -> expr of every `record` or `alert` rule in configs/prometheus/rules."""
    rules = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if kind in rule:
                    rules[rule[kind]] = rule["expr"]
    return rules


def grafana_panels(dashboard: dict) -> list[dict]:
    """Every panel, rows' nested panels included."""
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboards() -> dict[str, dict]:
    """file name -> Grafana dashboard."""
    return {p.name: json.loads(p.read_text()) for p in sorted(GRAFANA_DASHBOARDS.glob("*.json"))}


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expr) for every query of every dashboard, one per variable value."""
    queries = []
    for name, dashboard in dashboards().items():
        variables = {
            v["name"]: [o["value"] for o in v.get("options", []) if o["value"] != "$__all"]
            for v in dashboard.get("templating", {}).get("list", [])
        }
        for panel in grafana_panels(dashboard):
            for target in panel.get("targets", []):
                if "expr" not in target:  # a logs panel's Elasticsearch query
                    continue
                combos: list[dict[str, str]] = [{}]
                for var in sorted(set(re.findall(r"\$(\w+)", target["expr"]))):
                    combos = [
                        dict(c, **{var: value}) for c in combos for value in variables.get(var, [])
                    ]
                for combo in combos:
                    expr = target["expr"]
                    for var, value in combo.items():
                        expr = expr.replace(f"${var}", value)
                    label = ",".join(f"{k}={v}" for k, v in combo.items())
                    where = f"{name} panel {panel['title']!r} {target['refId']}"
                    queries.append((where + (f" [{label}]" if label else ""), expr))
    return queries


def dashboard_p99_query(backend: str, view: str = "service") -> str:
    """The p99 query of the "Latency: service view" (or "traefik view") panel, for `backend`."""
    title = f"Latency: {'Traefik' if view == 'traefik' else 'service'} view"
    for dashboard in dashboards().values():
        for panel in grafana_panels(dashboard):
            if panel.get("title") == title:
                for target in panel["targets"]:
                    if target.get("legendFormat") == "p99":
                        return target["expr"].replace("$backend", backend)
    raise AssertionError(f"no dashboard has a p99 target in {title!r}")


# ------------------------------------------------------------------ logs: template, pipeline


def template_fields() -> dict[str, str]:
    """Leaf field path -> mapping type of the index template."""
    template = json.loads(INDEX_TEMPLATE.read_text())
    fields: dict[str, str] = {}

    def walk(properties: dict, prefix: str) -> None:
        for name, spec in properties.items():
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{name}.")
            else:
                fields[f"{prefix}{name}"] = spec["type"]

    walk(template["template"]["mappings"]["properties"], "")
    return fields


def dotted(field_ref: str) -> str:
    """Logstash's [a][b] -> a.b."""
    if field_ref.startswith("["):
        return ".".join(re.findall(r"\[([^\]]+)\]", field_ref))
    return field_ref


class Pipeline:
    """What configs/logstash/pipeline/mathapi.conf does to a bunyan line, read from it."""

    def __init__(self, path: Path = PIPELINE) -> None:
        text = path.read_text()
        block = re.search(r"rename\s*=>\s*\{(.*?)\}\s*\}", text, re.S)
        assert block, "the pipeline has no rename table"
        self.renames = {
            src: dotted(dst)
            for src, dst in re.findall(
                r'"\[@metadata\]\[bunyan\]\[(\w+)\]"\s*=>\s*"([^"]+)"', block.group(1)
            )
        }
        self.levels = {
            int(n): name
            for n, name in re.findall(
                r"\[@metadata\]\[bunyan\]\[level\]\s*>=\s*(\d+)\s*\{\s*mutate\s*\{\s*add_field\s*=>"
                r'\s*\{\s*"\[log\]\[level\]"\s*=>\s*"(\w+)"',
                text,
            )
        }
        fallback = re.search(
            r"\}\s*else\s*\{\s*mutate\s*\{\s*add_field\s*=>\s*\{\s*"
            r'"\[log\]\[level\]"\s*=>\s*"(\w+)"',
            text,
        )
        self.level_fallback = fallback.group(1) if fallback else None
        date = re.search(
            r'date\s*\{\s*match\s*=>\s*\["\[@metadata\]\[bunyan\]\[(\w+)\]",\s*"ISO8601"\]', text
        )
        self.date_source = date.group(1) if date else None
        grok = re.search(r'grok\s*\{\s*match\s*=>\s*\{\s*"message"\s*=>\s*"([^"]+)"', text)
        self.grok_fields = (
            [dotted(f) for f in re.findall(r"%\{\w+:(\[[^}]+)\}", grok.group(1))] if grok else []
        )
        index = re.search(r'index\s*=>\s*"([^"%]+)', text)
        self.index_prefix = index.group(1) if index else ""
        self.handled = {"v", "level"} | ({self.date_source} if self.date_source else set())
        self.computed = {"@timestamp", "log.level"} | set(self.grok_fields)

    def outputs(self) -> set[str]:
        """Every document field the pipeline can write."""
        return set(self.renames.values()) | self.computed

    def level_name(self, level: int) -> str | None:
        """log.level for a bunyan level number."""
        for threshold, name in sorted(self.levels.items(), reverse=True):
            if level >= threshold:
                return name
        return self.level_fallback

    def document(self, line: dict) -> dict[str, object]:
        """The Elasticsearch document for one bunyan line (flattened field paths)."""
        doc: dict[str, object] = {
            "@timestamp": line.get("time"),
            "log.level": self.level_name(line["level"]),
        }
        for src, dst in self.renames.items():
            if src in line:
                doc[dst] = line[src]
        # The grok pattern: "[NAME - PHASE]" at the start of the message.
        span = re.match(r"^\[(.*?) - (\w+)\]", str(line.get("msg", "")))
        if span and len(self.grok_fields) == 2:
            doc[self.grok_fields[0]] = span.group(1)
            doc[self.grok_fields[1]] = span.group(2).lower()
        return doc


# ------------------------------------------------------------------ Kibana


def kibana_objects() -> list[dict]:
    """The saved objects of dashboards/kibana/mathapi.ndjson."""
    return [json.loads(line) for line in KIBANA_OBJECTS.read_text().splitlines() if line.strip()]


def kql_fields(query: str) -> set[str]:
    """The field names a KQL query tests."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    return set(re.findall(r"([A-Za-z_@][\w.@]*)\s*(?::|>=|<=|>|<)", without_strings))


def kibana_fields_used(objects: list[dict]) -> dict[str, set[str]]:
    """field -> the objects using it (queries, columns, sorts, aggregations, time field)."""
    used: dict[str, set[str]] = {}

    def use(obj: dict, field: str) -> None:
        used.setdefault(field, set()).add(f"{obj['type']}/{obj['id']}")

    for obj in objects:
        attributes = obj["attributes"]
        if obj["type"] == "index-pattern":
            use(obj, attributes["timeFieldName"])
            continue
        source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        for field in kql_fields(source.get("query", {}).get("query", "")):
            use(obj, field)
        if obj["type"] == "search":
            for column in attributes.get("columns", []):
                use(obj, column)
            for field, _direction in attributes.get("sort", []):
                use(obj, field)
        elif obj["type"] == "visualization":
            for agg in json.loads(attributes["visState"])["aggs"]:
                if "field" in agg.get("params", {}):
                    use(obj, agg["params"]["field"])
    return used
