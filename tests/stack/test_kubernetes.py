"""deploy/kubernetes without a cluster: every overlay renders, every object fits the
Kubernetes schemas of K8S_VERSION (strict), every custom resource fits its project's
published CRD schema, checkov passes with each skip justified and needed, the manifests keep
the deployment rules (locked-down containers, probes and graceful shutdown, Redis for more
than one stepper replica, durable and private in production, only Traefik and Prometheus
reaching the backends, pod security levels), and each Deployment's real binary, started with
the container's command, args and env, answers its probes and metrics port as declared."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import stack_capacity
import stack_k8s
from conftest import K8S_DIR, ROOT, TOOLS, objects_of, tool
from stack_live import free_port, wait_http
from stack_model import (
    API_TARGET_LABEL,
    BACKENDS,
    EDGE_MIDDLEWARES,
    GENERATED_MARK,
    HEALTH_PATH,
    METRICS_PATH,
    READY_PATH,
    SEQUENCE,
)
from stack_otlp import OtlpReceiver

pytestmark = pytest.mark.k8s

# The Kubernetes version the manifests are validated against (docs/kubernetes.md).
K8S_VERSION = "1.33.0"
CRD_GROUPS = {"monitoring.coreos.com", "gateway.networking.k8s.io", "traefik.io"}
CRD_SCHEMAS = TOOLS / "crd-schemas" / "node_modules"
# Stands for the Secret mathapi-redis of the production overlay in the contract test.
TEST_SECRET = "contract-test-password"
BACKEND_NAMES = {b.name for b in BACKENDS}


def is_custom(obj: dict) -> bool:
    """True for objects of a CRD (not in the Kubernetes schemas)."""
    return obj["apiVersion"].split("/")[0] in CRD_GROUPS


def containers(deployment: dict) -> list[dict]:
    """The containers of a workload's pod template."""
    return deployment["spec"]["template"]["spec"]["containers"]


def env_of(container: dict) -> dict[str, dict]:
    """The container's env entries by name."""
    return {e["name"]: e for e in container.get("env", [])}


# ------------------------------------------------------------------ generated files


def test_generated_files_are_current() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/stack_k8s.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def test_generated_files_are_marked() -> None:
    mark = GENERATED_MARK.format(script="scripts/stack_k8s.py")
    files = sorted((K8S_DIR / "base").glob("*/generated/*.yaml"))
    assert set(files) == set(stack_k8s.render())
    for f in files:
        assert f.read_text().startswith(f"# {mark}\n"), f


def test_prometheus_rule_is_the_compose_rules(rendered: dict[str, list[dict]]) -> None:
    rule = objects_of(rendered["production"], "PrometheusRule")["mathapi"]
    compose_groups = []
    for path in sorted((ROOT / "configs/prometheus/rules").glob("*.yml")):
        compose_groups += yaml.safe_load(path.read_text())["groups"]
    assert rule["spec"]["groups"] == compose_groups


def test_grafana_configmap_is_the_dashboard_json(rendered: dict[str, list[dict]]) -> None:
    cm = objects_of(rendered["production"], "ConfigMap")["mathapi-grafana-dashboards"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    for path in (ROOT / "dashboards/grafana").glob("*.json"):
        assert json.loads(cm["data"][path.name]) == json.loads(path.read_text())


# ------------------------------------------------------------------ schemas


def test_objects_fit_the_kubernetes_schemas(rendered: dict[str, list[dict]], overlay: str) -> None:
    errors = []
    for obj in rendered[overlay]:
        if is_custom(obj):
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {e.message}")
    assert not errors


def test_the_kubernetes_schema_check_can_fail() -> None:
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "three", "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def validate_custom(objects: list[dict]) -> list[dict]:
    """Each object's verdict from validate_crds.mjs."""
    out = subprocess.run(
        ["node", str(Path(__file__).with_name("validate_crds.mjs")), str(CRD_SCHEMAS)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_custom_resources_fit_their_published_schemas(
    rendered: dict[str, list[dict]], overlay: str
) -> None:
    custom = [o for o in rendered[overlay] if is_custom(o)]
    kinds = {o["kind"] for o in custom}
    assert {"ServiceMonitor", "PrometheusRule", "Gateway", "HTTPRoute", "Middleware"} <= kinds
    verdicts = validate_custom(custom)
    assert len(verdicts) == len(custom)
    assert [v for v in verdicts if v["error"]] == []


def test_the_crd_check_can_fail(rendered: dict[str, list[dict]]) -> None:
    monitor = json.loads(json.dumps(objects_of(rendered["local"], "ServiceMonitor")["traefik"]))
    monitor["spec"]["endpoints"][0]["interval"] = 15
    route = json.loads(json.dumps(objects_of(rendered["local"], "HTTPRoute")[BACKENDS[0].name]))
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefix"
    limit = json.loads(json.dumps(objects_of(rendered["local"], "Middleware")[EDGE_MIDDLEWARES[0]]))
    limit["spec"] = {"rateLimit": {"average": "lots"}}
    assert all(v["error"] for v in validate_custom([monitor, route, limit]))


# ------------------------------------------------------------------ policy scanner


def checkov(directory: Path) -> dict:
    """checkov's JSON report on the manifests in `directory` (no network)."""
    out = subprocess.run(
        [
            tool("checkov"),
            "-d",
            str(directory),
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
    )
    assert out.stdout, out.stderr
    report = json.loads(out.stdout)
    return report[0] if isinstance(report, list) else report


def skips_of(objects: list[dict]) -> dict[tuple[str, str], str]:
    """(object, check) -> justification, from the checkov.io/skipN annotations."""
    skips = {}
    for obj in objects:
        for key, value in obj["metadata"].get("annotations", {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, why = value.partition("=")
                skips[(f"{obj['kind']}.{obj['metadata']['name']}", check)] = why
    return skips


def test_checkov_passes_with_justified_skips(
    rendered_text: dict[str, str], rendered: dict[str, list[dict]], overlay: str, tmp_path: Path
) -> None:
    (tmp_path / "rendered.yaml").write_text(rendered_text[overlay])
    report = checkov(tmp_path)
    failed = [f"{r['check_id']} {r['resource']}" for r in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 100, "checkov checked (almost) nothing"
    assert report["summary"]["skipped"] == len(skips_of(rendered[overlay]))
    for (obj, check), why in skips_of(rendered[overlay]).items():
        assert len(why.split()) >= 6, f"{obj} skips {check} without a real reason"


def test_every_checkov_skip_is_needed(
    rendered: dict[str, list[dict]], overlay: str, tmp_path: Path
) -> None:
    stripped = json.loads(json.dumps(rendered[overlay]))
    for obj in stripped:
        annotations = obj["metadata"].get("annotations", {})
        for key in [k for k in annotations if k.startswith("checkov.io/skip")]:
            del annotations[key]
        if "annotations" in obj["metadata"] and not annotations:
            del obj["metadata"]["annotations"]
    (tmp_path / "rendered.yaml").write_text(yaml.safe_dump_all(stripped))
    # checkov names a resource KIND.NAMESPACE.NAME.
    failed = {
        (r["resource"].split(".")[0] + "." + r["resource"].split(".")[-1], r["check_id"])
        for r in checkov(tmp_path)["results"]["failed_checks"]
    }
    unneeded = set(skips_of(rendered[overlay])) - failed
    assert unneeded == set()


# ------------------------------------------------------------------ deployment rules


def backend_deployments(objects: list[dict]) -> dict[str, dict]:
    """The Deployments of the math backends."""
    return {n: d for n, d in objects_of(objects, "Deployment").items() if n in BACKEND_NAMES}


def test_every_backend_has_its_objects(rendered: dict[str, list[dict]], overlay: str) -> None:
    objects = rendered[overlay]
    for kind in (
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "HTTPRoute",
    ):
        assert BACKEND_NAMES <= set(objects_of(objects, kind)), kind
    for name, hpa in objects_of(objects, "HorizontalPodAutoscaler").items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_containers_are_locked_down(rendered: dict[str, list[dict]], overlay: str) -> None:
    for name, dep in backend_deployments(rendered[overlay]).items():
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert "kubernetes.io/hostname" in keys, name
        for c in containers(dep):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] and sc["runAsUser"] == 10001, name
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"], name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+", c["image"]), c["image"]
            assert c["resources"]["requests"] and c["resources"]["limits"], name


def test_probes_and_shutdown(rendered: dict[str, list[dict]], overlay: str) -> None:
    for name, dep in backend_deployments(rendered[overlay]).items():
        pod = dep["spec"]["template"]["spec"]
        (c,) = containers(dep)
        assert c["startupProbe"]["httpGet"]["path"] == HEALTH_PATH
        assert c["livenessProbe"]["httpGet"]["path"] == HEALTH_PATH
        assert c["readinessProbe"]["httpGet"]["path"] == READY_PATH
        shutdown = int(env_of(c)["MATHAPI_SHUTDOWN_TIMEOUT"]["value"])
        pre_stop = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert pre_stop > 0, name
        assert pod["terminationGracePeriodSeconds"] > shutdown + pre_stop, name


def test_more_than_one_stepper_replica_needs_redis(
    rendered: dict[str, list[dict]], overlay: str
) -> None:
    objects = rendered[overlay]
    for b in BACKENDS:
        if not b.stepper:
            continue
        dep = objects_of(objects, "Deployment")[b.name]
        hpa = objects_of(objects, "HorizontalPodAutoscaler")[b.name]
        most = max(dep["spec"]["replicas"], hpa["spec"]["maxReplicas"])
        backend = env_of(containers(dep)[0])["MATHAPI_SEQUENCE_BACKEND"]["value"]
        if most > 1:
            assert backend == "redis", f"{overlay}: {most} replicas on the {backend} store"
        if backend == "redis":
            url = env_of(containers(dep)[0])["MATHAPI_REDIS_URL"]["value"]
            assert url.startswith("redis://:$(MATHAPI_REDIS_PASSWORD)@"), url


def test_production_redis_is_durable_and_private(rendered: dict[str, list[dict]]) -> None:
    objects = rendered["production"]
    redis = objects_of(objects, "StatefulSet")["redis"]
    args = containers(redis)[0]["args"]
    assert args[args.index("--appendfsync") + 1] == "always"
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert redis["spec"]["volumeClaimTemplates"]
    policy = objects_of(objects, "NetworkPolicy")["redis"]["spec"]["ingress"]
    assert [p["podSelector"]["matchLabels"] for rule in policy for p in rule["from"]] == [
        {"app.kubernetes.io/name": SEQUENCE.name}
    ]


def test_only_traefik_and_prometheus_reach_the_backends(
    rendered: dict[str, list[dict]], overlay: str
) -> None:
    policies = objects_of(rendered[overlay], "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"]["podSelector"] == {}
    for b in BACKENDS:
        peers = [
            p["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in policies[b.name]["spec"]["ingress"]
            for p in rule["from"]
        ]
        assert sorted(peers) == ["prometheus", "traefik"]


def test_routes_are_the_compose_routes(rendered: dict[str, list[dict]], overlay: str) -> None:
    dynamic = yaml.safe_load((ROOT / "configs/traefik/dynamic.yml").read_text())["http"]
    services = objects_of(rendered[overlay], "Service")
    for b in BACKENDS:
        assert f"PathPrefix(`{b.prefix}/`)" in dynamic["routers"][b.name]["rule"]
        (rule,) = objects_of(rendered[overlay], "HTTPRoute")[b.name]["spec"]["rules"]
        assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": b.prefix}}]
        (ref,) = rule["backendRefs"]
        assert ref["port"] in [p["port"] for p in services[ref["name"]]["spec"]["ports"]]
        # The per-client limits, as on compose's routers, and no rewrite (the services serve
        # their full paths).
        assert dynamic["routers"][b.name]["middlewares"] == list(EDGE_MIDDLEWARES)
        assert rule["filters"] == [
            {
                "type": "ExtensionRef",
                "extensionRef": {"group": "traefik.io", "kind": "Middleware", "name": name},
            }
            for name in EDGE_MIDDLEWARES
        ]


def test_edge_limits_are_the_compose_limits(rendered: dict[str, list[dict]], overlay: str) -> None:
    dynamic = yaml.safe_load((ROOT / "configs/traefik/dynamic.yml").read_text())["http"]
    middlewares = objects_of(rendered[overlay], "Middleware")
    for name in EDGE_MIDDLEWARES:
        # In the backends' namespace: an ExtensionRef is a local reference.
        assert middlewares[name]["metadata"]["namespace"] == "mathapi"
        assert middlewares[name]["spec"] == dynamic["middlewares"][name]
    kinds = [next(iter(dynamic["middlewares"][n])) for n in EDGE_MIDDLEWARES]
    assert kinds == ["rateLimit", "inFlightReq"]
    # By the client's address: no sourceCriterion (Traefik's default is the remote address),
    # which Traefik sees only with externalTrafficPolicy Local on its LoadBalancer Service.
    assert all(
        "sourceCriterion" not in next(iter(m.values())) for m in dynamic["middlewares"].values()
    )
    values = yaml.safe_load(
        (K8S_DIR / "base/traefik/generated" / f"values-{overlay}.yaml").read_text()
    )
    assert values["service"]["spec"]["externalTrafficPolicy"] == "Local"


def gateway_service_name(route: dict, ref: dict) -> str:
    """Traefik's name for an HTTPRoute backend (v3.5.3, pkg/provider/kubernetes/gateway/
    httproute.go): <namespace>-<name>-http-<port>@kubernetesgateway."""
    namespace = ref.get("namespace", route["metadata"]["namespace"])
    return f"{namespace}-{ref['name']}-http-{ref['port']}@kubernetesgateway"


def test_traefik_rules_name_the_gateway_services_by_backend(
    rendered: dict[str, list[dict]], overlay: str
) -> None:
    # The recording rules' label_replace turns Traefik's service label into `backend`, for
    # the Gateway API provider's names as for compose's file provider.
    group = next(
        g
        for g in objects_of(rendered[overlay], "PrometheusRule")["mathapi"]["spec"]["groups"]
        if g["name"] == "mathapi-traefik"
    )
    patterns = {
        re.search(r'"service",\s*"([^"]+)"', r["expr"]).group(1)
        for r in group["rules"]
        if "label_replace" in r["expr"]
    }
    (pattern,) = patterns
    for b in BACKENDS:
        route = objects_of(rendered[overlay], "HTTPRoute")[b.name]
        (ref,) = route["spec"]["rules"][0]["backendRefs"]
        for service in (gateway_service_name(route, ref), f"{b.name}@file"):
            match = re.fullmatch(pattern, service)  # Prometheus anchors its regexes
            assert match and match.group(1) == b.name, service


def test_traefik_metrics_service_is_rendered_and_scraped(
    rendered: dict[str, list[dict]], overlay: str
) -> None:
    # The chart (v37.x) renders its metrics Service only when metrics.prometheus.service
    # .enabled or ports.metrics.expose.default is on (templates/service-metrics.yaml); it
    # labels it app.kubernetes.io/component=metrics, port `metrics`.
    values = yaml.safe_load(
        (K8S_DIR / "base/traefik/generated" / f"values-{overlay}.yaml").read_text()
    )
    assert values["metrics"]["prometheus"]["service"]["enabled"] is True
    monitor = objects_of(rendered[overlay], "ServiceMonitor")["traefik"]["spec"]
    assert monitor["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "traefik",
        "app.kubernetes.io/component": "metrics",
    }
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] == "metrics"


def test_prometheus_operator_selects_the_monitors_and_rules(
    rendered: dict[str, list[dict]], overlay: str
) -> None:
    # kube-prometheus-stack's default selectors (ruleSelectorNilUsesHelmValues and
    # serviceMonitorSelectorNilUsesHelmValues true) match release=<its release name>.
    for kind in ("ServiceMonitor", "PrometheusRule"):
        for name, obj in objects_of(rendered[overlay], kind).items():
            labels = obj["metadata"]["labels"]
            assert labels.get("release") == stack_k8s.PROMETHEUS_RELEASE, f"{kind}/{name}"


def test_filebeat_scopes_kubernetes_metadata_to_its_node(rendered: dict[str, list[dict]]) -> None:
    config = yaml.safe_load(
        objects_of(rendered["local"], "ConfigMap")["mathapi-filebeat"]["data"]["filebeat.yml"]
    )
    (processor,) = [
        p["add_kubernetes_metadata"] for p in config["processors"] if "add_kubernetes_metadata" in p
    ]
    # `node` (Filebeat 7+ docs, add-kubernetes-metadata); `host` is the 6.x key, ignored.
    assert processor["node"] == "${NODE_NAME}"
    assert "host" not in processor


def test_monitor_scrapes_the_declared_port(rendered: dict[str, list[dict]], overlay: str) -> None:
    objects = rendered[overlay]
    monitor = objects_of(objects, "ServiceMonitor")["mathapi-backends"]["spec"]
    (endpoint,) = monitor["endpoints"]
    assert endpoint["path"] == METRICS_PATH
    # As compose's scrape jobs: the alert rules find the backends by this target label.
    label, value = API_TARGET_LABEL
    assert {"targetLabel": label, "replacement": value, "action": "replace"} in endpoint[
        "relabelings"
    ]
    (selector,) = monitor["selector"]["matchExpressions"]
    assert set(selector["values"]) == BACKEND_NAMES
    for name, svc in objects_of(objects, "Service").items():
        if name not in BACKEND_NAMES:
            continue
        port = next(p for p in svc["spec"]["ports"] if p["name"] == endpoint["port"])
        declared = {
            p["name"]: p["containerPort"]
            for p in containers(objects_of(objects, "Deployment")[name])[0]["ports"]
        }
        assert port["targetPort"] in declared


# ------------------------------------------------------------------ contract


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of env values and args."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def container_env(c: dict, objects: list[dict]) -> dict[str, str]:
    """The env the kubelet gives the container (ConfigMap keys resolved from the overlay's
    ConfigMaps; secrets: the test's stand-in value)."""
    env: dict[str, str] = {"PATH": "/usr/bin:/bin"}
    config_maps = objects_of(objects, "ConfigMap")
    for e in c.get("env", []):
        source = e.get("valueFrom", {})
        if "value" in e:
            env[e["name"]] = expand(e["value"], env)
        elif "secretKeyRef" in source:
            env[e["name"]] = TEST_SECRET
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[e["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
    return env


def contract_spec(objects: list[dict]) -> dict:
    """What k8s_contract.py runs: each backend container as declared."""
    specs, writable = [], ["/var/lib/mathapi"]
    for name, dep in backend_deployments(objects).items():
        pod = dep["spec"]["template"]["spec"]
        (c,) = containers(dep)
        env = container_env(c, objects)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        writable += [m["mountPath"] for m in c.get("volumeMounts", [])]
        probes = [
            {
                "kind": kind,
                "port": ports[c[f"{kind}Probe"]["httpGet"]["port"]],
                "path": c[f"{kind}Probe"]["httpGet"]["path"],
            }
            for kind in ("startup", "liveness", "readiness")
        ]
        probes.append({"kind": "metrics", "port": ports["http"], "path": METRICS_PATH})
        probes.append(
            {
                "kind": "api",
                "port": ports["http"],
                "path": next(b.sample_path for b in BACKENDS if b.name == name),
            }
        )
        startup = c["startupProbe"]
        pre_stop = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
        specs.append(
            {
                "name": name,
                "argv": [
                    str(ROOT / "target/release" / c["command"][0]),
                    *(expand(a, env) for a in c.get("args", [])),
                ],
                "env": env,
                # The image's WORKDIR (Dockerfile).
                "cwd": "/var/lib/mathapi",
                "startup_seconds": startup["periodSeconds"] * startup["failureThreshold"],
                "probes": probes,
                "stop_seconds": pod["terminationGracePeriodSeconds"] - pre_stop,
            }
        )
    redis = None
    if "redis" in objects_of(objects, "StatefulSet"):
        redis = {"port": 6379, "password": TEST_SECRET}
    return {
        "hosts": sorted(objects_of(objects, "Service")),
        "writable": writable,
        "redis": redis,
        "containers": specs,
    }


def test_containers_answer_as_declared(rendered: dict[str, list[dict]], overlay: str) -> None:
    for b in BACKENDS:
        binary = ROOT / "target/release" / b.binary
        assert binary.exists(), f"{binary}: cargo build --release --bins first"
    spec = contract_spec(rendered[overlay])
    out = subprocess.run(
        [
            "unshare",
            "--net",
            "--mount",
            "--map-root-user",
            "--propagation",
            "private",
            sys.executable,
            str(Path(__file__).with_name("k8s_contract.py")),
        ],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["error"] is None, report["error"]
    assert set(report["containers"]) == BACKEND_NAMES
    for name, result in report["containers"].items():
        bad = {k: s for k, s in result["probes"].items() if s != 200}
        assert bad == {}, f"{overlay}/{name}: {bad}\n{result['log_tail']}"
        assert result["exit"] == 0, f"{overlay}/{name} did not stop cleanly on SIGTERM"


def test_handwritten_manifests_pass_yamllint() -> None:
    files = sorted(str(p) for p in K8S_DIR.rglob("*.yaml") if "generated" not in p.parts)
    assert len(files) >= 10
    out = subprocess.run(
        [tool("yamllint"), "-s", "-c", str(ROOT / "configs/yamllint.yml"), *files],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout


def test_pod_security_levels(rendered: dict[str, list[dict]], overlay: str) -> None:
    # The backends' namespace enforces "restricted"; only Filebeat's is "privileged".
    namespaces = objects_of(rendered[overlay], "Namespace")
    levels = {
        n: ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for n, ns in namespaces.items()
    }
    assert levels == {"mathapi": "restricted", "mathapi-logging": "privileged"}
    for obj in rendered[overlay]:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            expected = "mathapi-logging" if obj["metadata"]["name"] == "filebeat" else "mathapi"
            assert obj["metadata"]["namespace"] == expected, obj["metadata"]["name"]


# ------------------------------------------------------------------ traces

OTEL_KEYS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)


def test_backends_export_traces_where_the_overlay_says(
    rendered: dict[str, list[dict]], overlay: str
) -> None:
    for name, dep in backend_deployments(rendered[overlay]).items():
        (c,) = containers(dep)
        env = container_env(c, rendered[overlay])
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == stack_k8s.TRACE_ENDPOINTS[overlay], name
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf", name
        # Parent-based: Traefik's sample rate (its values file) is the cluster's.
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio", name
        assert 0 <= float(env["OTEL_TRACES_SAMPLER_ARG"]) <= 1, name
        assert set(OTEL_KEYS) <= set(env_of(c)), name
    assert stack_k8s.TRACE_ENDPOINTS["production"] != stack_k8s.TRACE_ENDPOINTS["local"]


def traefik_flags(overlay: str) -> list[str]:
    """The Traefik chart's additionalArguments for an overlay."""
    path = K8S_DIR / "base" / "traefik" / "generated" / f"values-{overlay}.yaml"
    return yaml.safe_load(path.read_text())["additionalArguments"]


def test_traefik_values_export_where_the_backends_do(overlay: str) -> None:
    flags = dict(f.split("=", 1) for f in traefik_flags(overlay))
    assert (
        flags["--tracing.otlp.http.endpoint"] == stack_k8s.TRACE_ENDPOINTS[overlay] + "/v1/traces"
    )
    static = yaml.safe_load((ROOT / "configs/traefik/traefik.yml").read_text())
    assert float(flags["--tracing.sampleRate"]) == float(static["tracing"]["sampleRate"])
    buckets = [float(b) for b in flags["--metrics.prometheus.buckets"].split(",")]
    assert buckets == static["metrics"]["prometheus"]["buckets"]


def test_traefik_runs_with_the_values_flags_and_exports_spans(tmp_path: Path) -> None:
    # The real Traefik with exactly the chart's additionalArguments (the endpoint pointed at a
    # local receiver, the entrypoints on loopback): it accepts every flag and its span of a
    # request, with the captured X-Request-Id, arrives over OTLP/HTTP.
    receiver = OtlpReceiver().start()
    web, api = free_port(), free_port()
    flags = [
        f"--tracing.otlp.http.endpoint={receiver.endpoint}"
        if f.startswith("--tracing.otlp.http.endpoint=")
        else f
        for f in traefik_flags("local")
    ]
    log = (tmp_path / "traefik.log").open("wb")
    traefik = subprocess.Popen(
        [
            tool("traefik"),
            *flags,
            f"--entryPoints.web.address=127.0.0.1:{web}",
            f"--entryPoints.traefik.address=127.0.0.1:{api}",
            "--ping=true",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{api}/ping", 30)
        request = urllib.request.Request(
            f"http://127.0.0.1:{web}{BACKENDS[0].sample_path}",
            headers={"X-Request-Id": "k8s-values-check"},
        )
        with pytest.raises(urllib.error.HTTPError):  # no routes: 404, still traced
            urllib.request.urlopen(request, timeout=5)
        deadline = time.monotonic() + 20
        while True:
            spans = [
                s
                for s in receiver.spans()
                if s.service == "traefik"
                and "k8s-values-check" in s.attributes.get("http.request.header.x-request-id", [])
            ]
            if spans or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert spans, (tmp_path / "traefik.log").read_text()[-2000:]
    finally:
        traefik.terminate()
        traefik.wait(timeout=15)
        receiver.stop()


def test_production_autoscalers_fit_the_capacity_plan(rendered: dict[str, list[dict]]) -> None:
    # docs/scaling.md's plan (scripts/stack_capacity.py on docs/scaling-inputs.json) and the
    # production HPAs: the minimum is the plan's production minimum, and every row's pods per
    # backend fit under maxReplicas.
    inputs = json.loads((ROOT / "docs/scaling-inputs.json").read_text())
    hpas = objects_of(rendered["production"], "HorizontalPodAutoscaler")
    for rate in stack_capacity.RATES:
        planned = stack_capacity.plan(inputs, rate)["pods"]
        assert set(planned) == BACKEND_NAMES
        for name, pods in planned.items():
            spec = hpas[name]["spec"]
            assert spec["minReplicas"] == stack_capacity.MIN_PODS, name
            assert pods <= spec["maxReplicas"], (
                f"{rate:,} requests/s: the plan needs {pods} {name} pods, "
                f"its HPA stops at {spec['maxReplicas']}"
            )
