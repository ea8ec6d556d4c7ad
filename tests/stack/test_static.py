"""The stack's files, without starting anything: each linter and validator the real consumer
would be (Compose, hadolint, yamllint, shellcheck, promtool, the GitHub workflow schema), and
the cross-checks no linter makes (compose <-> Traefik <-> Prometheus wiring, Grafana
provisioning, alert-rule test coverage, Logstash pipeline <-> index template <-> log contract,
Kibana <-> index template). Whether the dashboards' metric and label names exist is left to
the live run, where every query must return data (test_live.py)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, tool
from models import (
    COMPOSE,
    GRAFANA_DASHBOARDS,
    GRAFANA_DATASOURCES,
    GRAFANA_PROVIDERS,
    INDEX_TEMPLATE,
    RARE_DERIVED_FIELDS,
    RARE_LOG_FIELDS,
    RULE_TESTS_DIR,
    Pipeline,
    contract_log_fields,
    dashboard_queries,
    dashboards,
    grafana_panels,
    kibana_fields_used,
    kibana_objects,
    rules_of,
    template_fields,
)
from stack_live import PROMETHEUS_CONFIG, TRAEFIK_DYNAMIC, TRAEFIK_STATIC
from stack_model import ADMIN_PREFIXES, API_TARGET_LABEL, BACKEND_NAMES, BACKENDS, SEQUENCE

pytestmark = pytest.mark.static


def run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """A tool run that must succeed; its output is the assertion message."""
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


# ------------------------------------------------------------------ tools


@pytest.mark.parametrize("profile", [[], ["--profile", "tools"]], ids=["default", "tools"])
def test_compose_file_fits_the_compose_specification(profile: list[str]) -> None:
    run(tool("docker-compose"), "-f", str(COMPOSE), *profile, "config", "--quiet")


def test_dockerfile_passes_hadolint() -> None:
    run(tool("hadolint"), "Dockerfile")


def test_yaml_passes_yamllint() -> None:
    # Relative paths: the config's `ignore:` patterns are relative to the repository.
    files = sorted(
        str(p.relative_to(ROOT)) for d in ("configs", ".github") for p in (ROOT / d).rglob("*.yml")
    )
    run(tool("yamllint"), "-s", "-c", "configs/yamllint.yml", "docker-compose.yml", *files)


def test_github_workflows_fit_their_schema() -> None:
    run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, (ROOT / ".github/workflows").glob("*.yml")),
    )


def test_every_shell_script_passes_shellcheck() -> None:
    scripts = sorted({*ROOT.glob("scripts/*.sh"), *ROOT.glob("configs/**/*.sh"), ROOT / ".ci/run"})
    assert len(scripts) >= 10
    run(tool("shellcheck"), *map(str, scripts))


def test_prometheus_config_and_rules_pass_promtool() -> None:
    run(tool("promtool"), "check", "config", str(PROMETHEUS_CONFIG))
    run(
        tool("promtool"),
        "check",
        "rules",
        *map(str, (ROOT / "configs/prometheus/rules").glob("*.yml")),
    )
    run(tool("promtool"), "test", "rules", *map(str, RULE_TESTS_DIR.glob("*.yml")))


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    # promtool parses a rules file: every query becomes a recording rule.
    rules = [
        {"record": f"dashboard_query_{i}", "expr": expr}
        for i, (_where, expr) in enumerate(dashboard_queries())
    ]
    assert len(rules) > 20
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run(tool("promtool"), "check", "rules", str(path))


def test_every_alert_has_a_firing_unit_test() -> None:
    tested = set()
    for path in RULE_TESTS_DIR.glob("*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            tested |= {
                case["alertname"]
                for case in test.get("alert_rule_test", [])
                if case.get("exp_alerts")
            }
    assert set(rules_of("alert")) - tested == set()


# ------------------------------------------------------------------ wiring


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml as the real Compose binary resolves it (defaults interpolated)."""
    out = run(
        tool("docker-compose"),
        "-f",
        str(COMPOSE),
        "--profile",
        "tools",
        "config",
        "--format",
        "json",
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def traefik() -> tuple[dict, dict]:
    """Traefik's static and dynamic configuration."""
    return (
        yaml.safe_load(TRAEFIK_STATIC.read_text()),
        yaml.safe_load(TRAEFIK_DYNAMIC.read_text())["http"],
    )


def test_images_pinned_and_only_traefik_published(compose: dict) -> None:
    for name, service in compose["services"].items():
        if "build" not in service:
            image = service["image"]
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
            assert tag and tag != "latest", f"{name}: {image} is not pinned"
        if name != "traefik":
            assert not service.get("ports"), f"{name} publishes ports"
    for port in compose["services"]["traefik"]["ports"]:
        assert port["host_ip"] == "127.0.0.1", port


def test_traefik_publishes_web_and_dashboard_not_metrics(
    compose: dict, traefik: tuple[dict, dict]
) -> None:
    static, dynamic = traefik
    entrypoints = {n: int(e["address"].rsplit(":", 1)[1]) for n, e in static["entryPoints"].items()}
    published = {p["target"] for p in compose["services"]["traefik"]["ports"]}
    assert published == {entrypoints["web"], entrypoints["traefik"]}
    assert entrypoints[static["metrics"]["prometheus"]["entryPoint"]] not in published
    for name, router in dynamic["routers"].items():
        assert router["service"] in dynamic["services"], name
        assert set(router["entryPoints"]) <= set(entrypoints), name
        for middleware in router.get("middlewares", []):
            assert middleware in dynamic["middlewares"], name


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_backend_wiring_agrees(backend, compose: dict, traefik: tuple[dict, dict]) -> None:  # noqa: ANN001
    _static, dynamic = traefik
    service = compose["services"][backend.name]
    env = service["environment"]
    assert service["restart"] == "unless-stopped"
    limits = service["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) == 1.0 and int(limits["memory"]) == 512 * 2**20
    assert (env["MATHAPI_HOST"], env["MATHAPI_PORT"]) == ("0.0.0.0", str(backend.port))
    assert service["command"] == [backend.binary]
    assert f"127.0.0.1:{backend.port}/health" in " ".join(service["healthcheck"]["test"])
    lb = dynamic["services"][backend.name]["loadBalancer"]
    assert lb["servers"] == [{"url": f"http://{backend.name}:{backend.port}"}]
    assert lb["healthCheck"]["path"] == "/health"
    assert f"PathPrefix(`{backend.prefix}/`)" in dynamic["routers"][backend.name]["rule"]
    assert "StripPrefix" not in json.dumps(dynamic)
    jobs = {
        j["job_name"]: j["static_configs"]
        for j in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    }
    # The alert rules find the backends by their targets' label.
    assert jobs[backend.name] == [
        {"targets": [f"{backend.name}:{backend.port}"], "labels": dict([API_TARGET_LABEL])}
    ]


def test_front_page_goes_to_the_backend_that_serves_the_sequence(
    traefik: tuple[dict, dict],
) -> None:
    _static, dynamic = traefik
    router = dynamic["routers"]["frontpage"]
    assert router["service"] == SEQUENCE.name
    assert "Path(`/`)" in router["rule"]


def test_only_the_backends_carry_the_api_label() -> None:
    label, value = API_TARGET_LABEL
    labelled = {
        j["job_name"]
        for j in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
        for static in j["static_configs"]
        if static.get("labels", {}).get(label) == value
    }
    assert labelled == set(BACKEND_NAMES)


def test_rules_name_no_function() -> None:
    # A new function needs no rule edit: the API routes are /{function}/..., the backends'
    # targets carry the API label.
    rules = {**rules_of("record"), **rules_of("alert")}
    named = {
        rule: name
        for rule, expr in rules.items()
        for name in BACKEND_NAMES
        if re.search(rf"\b{re.escape(name)}\b", expr)
    }
    assert named == {}
    label, value = API_TARGET_LABEL
    assert f'up{{{label}="{value}"}}' in rules_of("alert")["MathapiBackendDown"]


def test_prometheus_scrapes_traefiks_metrics_entrypoint(traefik: tuple[dict, dict]) -> None:
    static, _dynamic = traefik
    entrypoint = static["metrics"]["prometheus"]["entryPoint"]
    port = static["entryPoints"][entrypoint]["address"].rsplit(":", 1)[1]
    jobs = {
        j["job_name"]: j["static_configs"][0]["targets"]
        for j in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    }
    assert jobs["traefik"] == [f"traefik:{port}"]


def test_stepper_uses_redis_with_password_and_fsync(compose: dict) -> None:
    services = compose["services"]
    command = services["redis"]["command"]
    password = command[command.index("--requirepass") + 1]
    env = services[SEQUENCE.name]["environment"]
    assert env["MATHAPI_SEQUENCE_BACKEND"] == "redis"
    assert env["MATHAPI_REDIS_URL"] == f"redis://:{password}@redis:6379"
    assert services[SEQUENCE.name]["depends_on"]["redis"]["condition"] == "service_healthy"
    for b in BACKENDS:
        if not b.stepper:
            assert "MATHAPI_REDIS_URL" not in services[b.name]["environment"], b.name
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == password
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "always"


def test_admin_routers_use_admin_auth(traefik: tuple[dict, dict]) -> None:
    _static, dynamic = traefik
    for prefix in ADMIN_PREFIXES:
        assert "admin-auth" in dynamic["routers"][prefix.strip("/")]["middlewares"]


def test_grafana_provisioning(compose: dict) -> None:
    uids = {
        ds["uid"]
        for p in GRAFANA_DATASOURCES.glob("*.yml")
        for ds in yaml.safe_load(p.read_text()).get("datasources", [])
    }
    assert uids, "no provisioned Grafana datasource"
    grafana = compose["services"]["grafana"]
    mounts = {v["target"]: v["source"] for v in grafana["volumes"]}
    for p in GRAFANA_PROVIDERS.glob("*.yml"):
        for provider in yaml.safe_load(p.read_text())["providers"]:
            assert mounts[provider["options"]["path"]] == str(GRAFANA_DASHBOARDS)
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GRAFANA_DASHBOARDS / Path(home).name).exists()
    for name, dashboard in dashboards().items():
        panels = grafana_panels(dashboard)
        assert len({p["id"] for p in panels}) == len(panels), f"{name}: duplicate panel ids"
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        for panel in panels:
            if panel["type"] == "row":
                assert panel.get("repeat") in (None, *variables), panel["title"]
                continue
            assert panel["targets"], panel["title"]
            for source in [panel.get("datasource")] + [
                t.get("datasource") for t in panel["targets"]
            ]:
                assert source and source["uid"] in uids, panel["title"]
            for target in panel["targets"]:
                query = target.get("expr", target.get("query"))
                assert set(re.findall(r"\$(\w+)", query)) <= variables


# ------------------------------------------------------------------ logs


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    """The Logstash pipeline, read from its file."""
    return Pipeline()


def test_pipeline_levels_time_and_spans(pipeline: Pipeline) -> None:
    assert pipeline.levels == {60: "fatal", 50: "error", 40: "warn", 30: "info", 20: "debug"}
    assert pipeline.level_fallback == "trace"
    assert pipeline.date_source == "time"
    assert pipeline.grok_fields == ["span.name", "span.phase"]


def test_pipeline_routes_exactly_the_documented_fields(pipeline: Pipeline) -> None:
    contract = contract_log_fields()
    assert set(pipeline.renames) - contract == set(), "renamed but not documented"
    assert contract - set(pipeline.renames) - pipeline.handled == set(), "documented, dropped"
    for rare, why in RARE_LOG_FIELDS.items():
        sources = [s for s, d in pipeline.renames.items() if d == rare]
        assert sources and sources[0] in contract, f"{rare}: {why}"
    for rare, why in RARE_DERIVED_FIELDS.items():
        assert rare in pipeline.grok_fields, f"{rare}: {why}"


def test_pipeline_and_template_agree(pipeline: Pipeline) -> None:
    fields = template_fields()
    assert pipeline.outputs() - set(fields) == set(), "written but not mapped"
    assert set(fields) - pipeline.outputs() == set(), "mapped but never written"
    template = json.loads(INDEX_TEMPLATE.read_text())
    assert template["template"]["mappings"]["dynamic"] == "strict"
    index = pipeline.index_prefix + "2026.01.01"
    assert any(re.fullmatch(p.replace("*", ".*"), index) for p in template["index_patterns"])


def test_kibana_objects_resolve_and_use_mapped_fields() -> None:
    objects = kibana_objects()
    by_key = {(o["type"], o["id"]): o for o in objects}
    assert len(by_key) == len(objects), "duplicate type/id"
    assert {"index-pattern", "search", "visualization", "dashboard"} <= {o["type"] for o in objects}
    for obj in objects:
        for ref in obj.get("references", []):
            assert (ref["type"], ref["id"]) in by_key, f"{obj['id']} -> {ref['id']}"
        if obj["type"] == "dashboard":
            names = {ref["name"] for ref in obj["references"]}
            for panel in json.loads(obj["attributes"]["panelsJSON"]):
                assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names
    fields = template_fields()
    unmapped = {f: users for f, users in kibana_fields_used(objects).items() if f not in fields}
    assert unmapped == {}
    view = by_key[("index-pattern", "mathapi-logs")]["attributes"]
    assert fields[view["timeFieldName"]] == "date"


def test_rejected_inputs_search_reads_the_request_line() -> None:
    # Log contract v2: reason/detail are fields of the one request line.
    search = next(o for o in kibana_objects() if o["id"] == "mathapi-rejected-inputs")
    query = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    text = query["query"]["query"]
    assert 'message:"request completed"' in text and "http.response.status_code" in text
    assert "mathapi.reason" in text


# ------------------------------------------------------------------ traces

JAEGER_CONFIG = ROOT / "configs" / "jaeger" / "config.yml"


@pytest.fixture(scope="module")
def jaeger() -> dict:
    """configs/jaeger/config.yml."""
    return yaml.safe_load(JAEGER_CONFIG.read_text())


def port_of(endpoint: str) -> int:
    """The port of a host:port or URL."""
    return int(re.search(r":(\d+)(?:/|$)", endpoint).group(1))


def test_jaeger_receives_otlp_http_and_stores_a_bounded_number_of_traces(
    compose: dict, jaeger: dict
) -> None:
    service = compose["services"]["jaeger"]
    assert re.fullmatch(r"jaegertracing/jaeger:2\.\d+\.\d+", service["image"])
    assert not service.get("ports"), "the receiver and UI stay on the compose network"
    assert int(service["deploy"]["resources"]["limits"]["memory"]) <= 512 * 2**20
    mounts = {v["target"]: v["source"] for v in service["volumes"]}
    config_path = service["command"][service["command"].index("--config") + 1]
    assert mounts[str(Path(config_path).parent)] == str(JAEGER_CONFIG.parent)
    pipeline = jaeger["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert port_of(jaeger["receivers"]["otlp"]["protocols"]["http"]["endpoint"]) == 4318
    backends = jaeger["extensions"]["jaeger_storage"]["backends"]
    store = jaeger["extensions"]["jaeger_query"]["storage"]["traces"]
    assert jaeger["exporters"][pipeline["exporters"][0]]["trace_storage"] == store
    assert 0 < backends[store]["memory"]["max_traces"] <= 50_000
    assert jaeger["extensions"]["jaeger_query"]["base_path"] == "/jaeger"
    health = jaeger["extensions"]["healthcheckv2"]["http"]["endpoint"]
    assert f"127.0.0.1:{port_of(health)}/status" in " ".join(service["healthcheck"]["test"])


def test_traefik_exports_to_jaeger_and_routes_its_ui(
    traefik: tuple[dict, dict], jaeger: dict
) -> None:
    static, dynamic = traefik
    tracing = static["tracing"]
    receiver = port_of(jaeger["receivers"]["otlp"]["protocols"]["http"]["endpoint"])
    assert tracing["otlp"]["http"]["endpoint"] == f"http://jaeger:{receiver}/v1/traces"
    assert tracing["serviceName"] == "traefik"
    assert 0 < float(tracing["sampleRate"]) <= 1
    assert "X-Request-Id" in tracing["capturedRequestHeaders"]
    ui = port_of(jaeger["extensions"]["jaeger_query"]["http"]["endpoint"])
    assert dynamic["services"]["jaeger"]["loadBalancer"]["servers"] == [
        {"url": f"http://jaeger:{ui}"}
    ]
    router = dynamic["routers"]["jaeger"]
    assert router["middlewares"] == ["admin-auth"]
    assert "PathPrefix(`/jaeger/`)" in router["rule"]
    for prefix in ADMIN_PREFIXES:  # the tools' own UI calls are not traced
        assert dynamic["routers"][prefix.strip("/")]["observability"] == {"tracing": False}
    for b in BACKENDS:
        assert "observability" not in dynamic["routers"][b.name], "the APIs are traced"


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_every_service_exports_parent_based_traces_to_jaeger(
    backend,
    compose: dict,  # noqa: ANN001
    jaeger: dict,
) -> None:
    env = compose["services"][backend.name]["environment"]
    receiver = port_of(jaeger["receivers"]["otlp"]["protocols"]["http"]["endpoint"])
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://jaeger:{receiver}"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    # Parent-based: Traefik's head decision (its sampleRate) is the stack's.
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert 0 <= float(env["OTEL_TRACES_SAMPLER_ARG"]) <= 1


def test_grafana_jaeger_datasource_points_at_the_query_base_path(jaeger: dict) -> None:
    sources = {
        ds["uid"]: ds
        for p in GRAFANA_DATASOURCES.glob("*.yml")
        for ds in yaml.safe_load(p.read_text()).get("datasources", [])
    }
    ui = port_of(jaeger["extensions"]["jaeger_query"]["http"]["endpoint"])
    base = jaeger["extensions"]["jaeger_query"]["base_path"]
    assert sources["jaeger"]["type"] == "jaeger"
    assert sources["jaeger"]["url"] == f"http://jaeger:{ui}{base}"


def test_trace_ids_reach_elasticsearch_and_link_to_jaeger(pipeline: Pipeline) -> None:
    assert pipeline.renames["trace_id"] == "trace.id"
    assert pipeline.renames["span_id"] == "span.id"
    fields = template_fields()
    assert fields["trace.id"] == fields["span.id"] == "keyword"
    view = next(o for o in kibana_objects() if o["type"] == "index-pattern")
    link = json.loads(view["attributes"]["fieldFormatMap"])["trace.id"]
    assert link["id"] == "url"
    assert link["params"]["urlTemplate"] == "@MATHAPI_PUBLIC_URL@/jaeger/trace/{{value}}"
    # kibana-setup replaces the placeholder with the public URL before the import.
    setup = (ROOT / "configs/setup/kibana-setup.sh").read_text()
    assert "placeholder='@MATHAPI_PUBLIC_URL@'" in setup


def test_latency_panels_link_to_the_backends_traces() -> None:
    sources = {
        ds["uid"]: ds["type"]
        for p in GRAFANA_DATASOURCES.glob("*.yml")
        for ds in yaml.safe_load(p.read_text()).get("datasources", [])
    }
    latency = [
        panel
        for dashboard in dashboards().values()
        for panel in grafana_panels(dashboard)
        if panel["title"].startswith("Latency:")
    ]
    assert len(latency) == 2
    for panel in latency:
        links = panel["fieldConfig"]["defaults"]["links"]
        internal = [link["internal"] for link in links if "internal" in link]
        assert internal, panel["title"]
        assert sources[internal[0]["datasourceUid"]] == "jaeger"
        # The repeated row's backend: the service.name its spans carry (OTEL_SERVICE_NAME's
        # default is the binary's name, which is the backend's).
        assert internal[0]["query"]["service"] == "${backend}"
        assert internal[0]["query"]["queryType"] == "search"


# ------------------------------------------------------------------ Grafana: logs beside traces


def grafana_datasources() -> dict[str, dict]:
    """uid -> provisioned Grafana datasource."""
    return {
        ds["uid"]: ds
        for p in GRAFANA_DATASOURCES.glob("*.yml")
        for ds in yaml.safe_load(p.read_text()).get("datasources", [])
    }


def lucene_fields(query: str) -> set[str]:
    """The field names a Lucene query filters on (`field:value`)."""
    return set(re.findall(r"([\w.@]+):", query))


def test_grafana_logs_datasource_reads_the_pipelines_index(pipeline: Pipeline) -> None:
    logs = grafana_datasources()["elasticsearch"]
    assert logs["type"] == "elasticsearch"
    settings = logs["jsonData"]
    # The index the pipeline writes (mathapi-logs-%{+YYYY.MM.dd}) and the template maps.
    assert settings["index"] == pipeline.index_prefix + "*"
    template = json.loads(INDEX_TEMPLATE.read_text())
    assert settings["index"] in template["index_patterns"]
    fields = template_fields()
    assert fields[settings["timeField"]] == "date"
    for key in ("timeField", "logMessageField", "logLevelField"):
        assert settings[key] in fields and settings[key] in pipeline.outputs(), key
    assert settings["logLevelField"] == "log.level"


def test_logs_panels_per_backend_errors_first(pipeline: Pipeline) -> None:
    (dashboard,) = dashboards().values()
    panels = grafana_panels(dashboard)
    rows = [p for p in panels if p["type"] == "row"]
    backend_row = next(r for r in rows if r.get("repeat") == "backend")
    # The panels of the repeated row: those after it, up to the next row.
    start = panels.index(backend_row) + 1
    end = next(i for i, p in enumerate(panels) if i >= start and p["type"] == "row")
    logs = [p for p in panels[start:end] if p["type"] == "logs"]
    assert [p["title"] for p in logs] == ["Logs: errors and warnings", "Logs: every line"]
    fields = template_fields()
    # The bunyan `name` (the backend's name, contract v2) lands in service.name.
    assert "name" in contract_log_fields()
    assert pipeline.renames["name"] == "service.name"
    for panel in logs:
        assert panel["datasource"]["uid"] == "elasticsearch"
        (target,) = panel["targets"]
        assert target["metrics"][0]["type"] == "logs"
        used = lucene_fields(target["query"])
        assert used and used <= set(fields), panel["title"]
        assert 'service.name:"$backend"' in target["query"]
    errors = logs[0]["targets"][0]["query"]
    levels = set(re.search(r"log\.level:\(([^)]*)\)", errors).group(1).split(" OR "))
    # Exactly the pipeline's names of bunyan warn, error and fatal.
    assert levels == {pipeline.level_name(n) for n in (40, 50, 60)}
    assert "info" not in levels


def test_log_lines_link_to_their_traces_and_traces_to_their_lines(pipeline: Pipeline) -> None:
    sources = grafana_datasources()
    fields = template_fields()
    # From a line: trace.id (the services' trace_id, renamed by the pipeline) into Jaeger.
    assert "trace_id" in contract_log_fields()
    assert pipeline.renames["trace_id"] == "trace.id"
    (link,) = sources["elasticsearch"]["jsonData"]["dataLinks"]
    assert link["field"] == "trace.id" and fields[link["field"]] == "keyword"
    assert sources[link["datasourceUid"]]["type"] == "jaeger"
    assert link["url"] == "${__value.raw}"
    # From a span: the lines of its trace in the logs datasource.
    to_logs = sources["jaeger"]["jsonData"]["tracesToLogsV2"]
    assert sources[to_logs["datasourceUid"]]["type"] == "elasticsearch"
    assert to_logs["customQuery"] is True
    assert lucene_fields(to_logs["query"]) == {"trace.id"}
    assert '"${__trace.traceId}"' in to_logs["query"]
