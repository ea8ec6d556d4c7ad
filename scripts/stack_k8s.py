#!/usr/bin/env python3
"""Generates deploy/kubernetes/base/{apps,logging}/generated/ from the stack's single sources.

Layout of what it writes (one file per concern, each marked as generated), apps/generated/:
  backends.yaml           per backend (scripts/stack_model.py): Deployment, Service,
                          HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy
  routes.yaml             the Gateway and one HTTPRoute per backend (same paths as compose)
  monitoring.yaml         ServiceMonitors for the backends and for Traefik
  prometheus-rules.yaml   PrometheusRule built from configs/prometheus/rules/*.yml
  grafana-dashboards.yaml ConfigMap for the Grafana sidecar from dashboards/grafana/*.json
  tracing.yaml            ConfigMap mathapi-tracing: the backends' OTEL_* settings (the
                          production overlay patches its endpoint)
traefik/generated/ (Helm values for the Traefik chart, which these manifests do not install):
  values-local.yaml, values-production.yaml
                          Traefik's tracing (configs/traefik/traefik.yml) and latency buckets
                          as command-line flags, exporting where that overlay's backends do
and logging/generated/:
  logging.yaml            Filebeat's config, the Logstash pipeline and the Elasticsearch index
                          template (the compose files, byte for byte) as ConfigMaps

`--check` exits 1 when a committed file differs from what would be generated (the stack suite
runs it), so nothing here is ever edited by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_model import (  # noqa: E402
    API_TARGET_LABEL,
    BACKENDS,
    EDGE_MIDDLEWARES,
    GENERATED_MARK,
    HEALTH_PATH,
    METRICS_PATH,
    READY_PATH,
    ROOT,
    TRAEFIK_JOB,
    Backend,
    write_or_check,
)

BASE = ROOT / "deploy" / "kubernetes" / "base"
APPS_OUT = BASE / "apps" / "generated"
TRAEFIK_OUT = BASE / "traefik" / "generated"
TRAEFIK_STATIC = ROOT / "configs" / "traefik" / "traefik.yml"
TRAEFIK_DYNAMIC = ROOT / "configs" / "traefik" / "dynamic.yml"
LOGGING_OUT = BASE / "logging" / "generated"
RULES = ROOT / "configs" / "prometheus" / "rules"
DASHBOARDS = ROOT / "dashboards" / "grafana"
PIPELINE = ROOT / "configs" / "logstash" / "pipeline" / "mathapi.conf"
INDEX_TEMPLATE = ROOT / "configs" / "elasticsearch" / "index-template.json"

PART_OF = {"app.kubernetes.io/part-of": "mathapi"}
# The image's user (Dockerfile: useradd --uid 10001).
IMAGE_UID = 10001
# The services drain for this long after SIGTERM (--shutdown-timeout); the pod's grace period
# must cover the preStop delay plus the drain, with a margin for the process exit.
SHUTDOWN_TIMEOUT_S = 20
PRESTOP_DELAY_S = 5
GRACE_PERIOD_S = PRESTOP_DELAY_S + SHUTDOWN_TIMEOUT_S + 10
# Where the Traefik and Prometheus pods live (their charts' usual namespaces).
TRAEFIK_NAMESPACE = "traefik"
MONITORING_NAMESPACE = "monitoring"
# kube-prometheus-stack selects ServiceMonitors and PrometheusRules by the label
# release=<its Helm release name> unless its *SelectorNilUsesHelmValues are false (its
# templates/prometheus/prometheus.yaml): the monitors and rules carry it. Set this to your
# release's name and run `make generate` (docs/kubernetes.md).
PROMETHEUS_RELEASE = "kube-prometheus-stack"
PROMETHEUS_SELECTED = {"release": PROMETHEUS_RELEASE}
# Traefik's Middleware CRD (traefik.io/v1alpha1), which a Gateway API HTTPRoute references by
# an ExtensionRef filter (traefik v3.5.3 FillExtensionBuilderRegistry, kubernetescrd provider).
MIDDLEWARE_GROUP = "traefik.io"
# Requests from docs/performance.md: 19 MiB peak resident under load, one core saturated by
# ~37k requests/s at info. Half a core per pod leaves the HPA room to act at 70 %.
REQUESTS = {"cpu": "500m", "memory": "64Mi"}
LIMITS = {"cpu": "1", "memory": "256Mi"}
# Why each policy-scanner finding does not apply; an annotation on the object, so the reason
# travels with it through kustomize into checkov's input.
CHECKOV_SKIPS_BACKEND = {
    "CKV_K8S_43": "images are pinned by release tag (kustomize images:), the project's policy; "
    "digests are set at release time by the deploying pipeline",
}


# Where each overlay's spans go (OTLP/HTTP base URL). local: a Jaeger in namespace
# observability (docs/kubernetes.md shows how to run one); production: a placeholder for the
# collector the operator runs, set in overlays/production/tracing.yaml (the suite checks that
# the overlay and the Traefik values agree with this table).
TRACE_ENDPOINTS = {
    "local": "http://jaeger.observability.svc:4318",
    "production": "http://otel-collector.observability.svc:4318",
}
TRACING_CONFIGMAP = "mathapi-tracing"


def tracing_settings() -> dict[str, str]:
    """The backends' OTEL_* variables (as in docker-compose.yml), base: the local endpoint.
    Sampling is parent-based: Traefik's sample rate decides; requests without a `traceparent`
    (scrapes, probes) are not traced (ratio 0)."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": TRACE_ENDPOINTS["local"],
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0",
    }


def labels(name: str) -> dict[str, str]:
    """The labels every object of a backend carries. `component: api` lets the overlays
    patch every backend without listing them."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "api", **PART_OF}


def selector(name: str) -> dict[str, str]:
    """The stable pod selector of a backend (a subset of its labels)."""
    return {"app.kubernetes.io/name": name}


def skip_annotations(skips: dict[str, str]) -> dict[str, str]:
    """checkov's skip annotations (`checkov.io/skipN: CHECK=reason`)."""
    return {
        f"checkov.io/skip{i}": f"{check}={why}"
        for i, (check, why) in enumerate(sorted(skips.items()), start=1)
    }


def http_probe(path: str, period: int, failures: int) -> dict:
    """An HTTP GET probe on the container's API port."""
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def container(b: Backend) -> dict:
    """The backend's container: args, env, probes, resources and a locked-down context."""
    c = {
        "name": b.name,
        "image": "mathapi",
        "imagePullPolicy": "Always",
        "command": [b.binary],
        "args": ["--host=0.0.0.0", f"--port={b.port}"],
        "env": [
            {"name": "RUST_LOG", "value": "info,poem=warn"},
            {"name": "MATHAPI_SHUTDOWN_TIMEOUT", "value": str(SHUTDOWN_TIMEOUT_S)},
            # From one ConfigMap, so that an overlay changes the endpoint in one place.
            *(
                {
                    "name": key,
                    "valueFrom": {"configMapKeyRef": {"name": TRACING_CONFIGMAP, "key": key}},
                }
                for key in tracing_settings()
            ),
        ],
        "ports": [{"name": "http", "containerPort": b.port, "protocol": "TCP"}],
        # Startup: up to 30 s to listen; liveness only after that.
        "startupProbe": http_probe(HEALTH_PATH, 1, 30),
        "livenessProbe": http_probe(HEALTH_PATH, 10, 3),
        "readinessProbe": http_probe(READY_PATH, 5, 2),
        # Endpoints are removed asynchronously after the pod turns Terminating: keep serving
        # for a few seconds before SIGTERM starts the drain, so no request meets a closed port.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_DELAY_S)]}}},
        "resources": {"requests": dict(REQUESTS), "limits": dict(LIMITS)},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": IMAGE_UID,
            "runAsGroup": IMAGE_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if b.stepper:
        # The embedded stepper (one replica) keeps its file here; the production overlay
        # switches to Redis. The image's WORKDIR is /var/lib/mathapi, the store is data/.
        c["env"] += [
            {"name": "MATHAPI_SEQUENCE_BACKEND", "value": "embedded"},
            {"name": "MATHAPI_SEQUENCE_DATA_DIR", "value": "/var/lib/mathapi/data"},
        ]
        c["volumeMounts"] = [{"name": "sequence-data", "mountPath": "/var/lib/mathapi/data"}]
    return c


def deployment(b: Backend) -> dict:
    """The backend's Deployment, one replica in base (overlays set the count)."""
    pod_spec = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": GRACE_PERIOD_S,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": IMAGE_UID,
            "runAsGroup": IMAGE_UID,
            "fsGroup": IMAGE_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(b.name)},
            }
            for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
        ],
        "containers": [container(b)],
    }
    if b.stepper:
        pod_spec["volumes"] = [{"name": "sequence-data", "emptyDir": {"sizeLimit": "16Mi"}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": b.name,
            "labels": labels(b.name),
            "annotations": skip_annotations(CHECKOV_SKIPS_BACKEND),
        },
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(b.name)},
            "template": {
                # mathapi.dev/logs: Filebeat ships the stdout of pods carrying it.
                "metadata": {"labels": {**labels(b.name), "mathapi.dev/logs": "bunyan"}},
                "spec": pod_spec,
            },
        },
    }


def service(b: Backend) -> dict:
    """ClusterIP Service on the backend's port, named `http` (the monitor scrapes it)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": b.name, "labels": labels(b.name)},
        "spec": {
            "selector": selector(b.name),
            "ports": [{"name": "http", "port": b.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(b: Backend) -> dict:
    """CPU-driven HPA. The stepper's embedded store is one process: max 1 until an overlay
    switches it to Redis (the suite refuses more than one replica on the embedded backend)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": b.name, "labels": labels(b.name)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": b.name},
            "minReplicas": 1,
            "maxReplicas": 1 if b.stepper else 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def disruption_budget(b: Backend) -> dict:
    """At most one pod of a backend evicted at a time (never blocks a drain at 1 replica)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": b.name, "labels": labels(b.name)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(b.name)}},
    }


def from_pods(namespace: str, app: str) -> dict:
    """A NetworkPolicy peer: pods named `app` in `namespace`."""
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
    }


def network_policy(b: Backend) -> dict:
    """Only Traefik (the API paths) and Prometheus (/metrics, same port) reach a backend."""
    port = [{"protocol": "TCP", "port": b.port}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": b.name, "labels": labels(b.name)},
        "spec": {
            "podSelector": {"matchLabels": selector(b.name)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [from_pods(TRAEFIK_NAMESPACE, "traefik")], "ports": port},
                {"from": [from_pods(MONITORING_NAMESPACE, "prometheus")], "ports": port},
            ],
        },
    }


def backends_objects() -> list[dict]:
    """Every per-backend object, backend by backend."""
    return [
        make(b)
        for b in BACKENDS
        for make in (deployment, service, autoscaler, disruption_budget, network_policy)
    ]


def routes_objects() -> list[dict]:
    """The Gateway (Traefik's GatewayClass) and one HTTPRoute per backend path prefix."""
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "mathapi", "labels": PART_OF},
        "spec": {
            "gatewayClassName": "traefik",
            # Traefik's chart listens on 8000 inside the pod for its `web` entrypoint.
            "listeners": [
                {
                    "name": "web",
                    "protocol": "HTTP",
                    "port": 8000,
                    "allowedRoutes": {"namespaces": {"from": "Same"}},
                }
            ],
        },
    }
    routes = [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": b.name, "labels": labels(b.name)},
            "spec": {
                "parentRefs": [{"name": "mathapi", "sectionName": "web"}],
                # PathPrefix matches whole segments: /{name} and /{name}/..., not /{name}X,
                # as compose's Path(`/{name}`) || PathPrefix(`/{name}/`).
                # No prefix is stripped: the services serve their full paths.
                # The per-client limits first (Traefik's Middlewares, below).
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": b.prefix}}],
                        "filters": [
                            {
                                "type": "ExtensionRef",
                                "extensionRef": {
                                    "group": MIDDLEWARE_GROUP,
                                    "kind": "Middleware",
                                    "name": name,
                                },
                            }
                            for name in EDGE_MIDDLEWARES
                        ],
                        "backendRefs": [{"name": b.name, "port": b.port}],
                    }
                ],
            },
        }
        for b in BACKENDS
    ]
    return [gateway, *routes, *edge_middlewares()]


def edge_middlewares() -> list[dict]:
    """The per-client limits of configs/traefik/dynamic.yml (compose), the same settings as
    Traefik Middlewares in the backends' namespace, for the HTTPRoutes' ExtensionRef filters."""
    defined = yaml.safe_load(TRAEFIK_DYNAMIC.read_text())["http"]["middlewares"]
    return [
        {
            "apiVersion": f"{MIDDLEWARE_GROUP}/v1alpha1",
            "kind": "Middleware",
            "metadata": {"name": name, "labels": PART_OF},
            "spec": defined[name],
        }
        for name in EDGE_MIDDLEWARES
    ]


def monitoring_objects() -> list[dict]:
    """ServiceMonitors: job = service name for the backends (as compose's job names), their
    targets labelled tier="api" as in compose (the alert rules select the backends by it), and
    Traefik's metrics Service relabelled to job="traefik"."""
    label, value = API_TARGET_LABEL
    backends = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "mathapi-backends", "labels": {**PART_OF, **PROMETHEUS_SELECTED}},
        "spec": {
            "selector": {
                "matchExpressions": [
                    {
                        "key": "app.kubernetes.io/name",
                        "operator": "In",
                        "values": [b.name for b in BACKENDS],
                    }
                ]
            },
            "jobLabel": "app.kubernetes.io/name",
            "endpoints": [
                {
                    "port": "http",
                    "path": METRICS_PATH,
                    "interval": "15s",
                    "scrapeTimeout": "10s",
                    "relabelings": [
                        {"targetLabel": label, "replacement": value, "action": "replace"}
                    ],
                }
            ],
        },
    }
    traefik = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "traefik", "labels": {**PART_OF, **PROMETHEUS_SELECTED}},
        "spec": {
            "namespaceSelector": {"matchNames": [TRAEFIK_NAMESPACE]},
            # The chart's metrics Service (traefik_values: metrics.prometheus.service.enabled;
            # its templates/service-metrics.yaml labels it component=metrics, port `metrics`).
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "traefik",
                    "app.kubernetes.io/component": "metrics",
                }
            },
            "endpoints": [
                {
                    "port": "metrics",
                    "path": METRICS_PATH,
                    "interval": "15s",
                    "relabelings": [
                        {"targetLabel": "job", "replacement": TRAEFIK_JOB, "action": "replace"}
                    ],
                }
            ],
        },
    }
    return [backends, traefik]


def prometheus_rule() -> dict:
    """Every rule group of configs/prometheus/rules, unchanged, in one PrometheusRule."""
    groups = []
    for path in sorted(RULES.glob("*.yml")):
        groups += yaml.safe_load(path.read_text())["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "mathapi", "labels": {**PART_OF, **PROMETHEUS_SELECTED}},
        "spec": {"groups": groups},
    }


def config_map(name: str, data: dict[str, str], extra_labels: dict[str, str]) -> dict:
    """A ConfigMap carrying files verbatim."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {**PART_OF, **extra_labels}},
        "data": data,
    }


def grafana_dashboards() -> dict:
    """The Grafana dashboards for the sidecar (label grafana_dashboard=1, its default)."""
    files = {p.name: p.read_text() for p in sorted(DASHBOARDS.glob("*.json"))}
    return config_map("mathapi-grafana-dashboards", files, {"grafana_dashboard": "1"})


def tracing_config_map() -> dict:
    """ConfigMap mathapi-tracing: the OTEL_* variables every backend reads."""
    return config_map(TRACING_CONFIGMAP, tracing_settings(), {})


def traefik_values(overlay: str) -> dict:
    """Helm values for the Traefik chart (v37.x, Traefik v3.5.3): configs/traefik/traefik.yml's
    tracing, latency buckets and metric labels as Traefik flags (additionalArguments: the same
    names whatever the chart's version), exporting to the overlay's endpoint, and like compose
    no access log (the chart's default); the metrics Service that ServiceMonitor traefik
    scrapes; the clients' own source addresses kept for the per-client limits."""
    static = yaml.safe_load(TRAEFIK_STATIC.read_text())
    tracing = static["tracing"]
    flags = [
        "--tracing=true",
        f"--tracing.serviceName={tracing['serviceName']}",
        f"--tracing.sampleRate={tracing['sampleRate']}",
        f"--tracing.capturedRequestHeaders={','.join(tracing['capturedRequestHeaders'])}",
        f"--tracing.otlp.http.endpoint={TRACE_ENDPOINTS[overlay]}/v1/traces",
        "--metrics.prometheus.buckets="
        + ",".join(
            f"{b:.5f}".rstrip("0").rstrip(".") for b in static["metrics"]["prometheus"]["buckets"]
        ),
        *metrics_label_flags(static["metrics"]["prometheus"]),
    ]
    return {
        "additionalArguments": flags,
        # The chart renders its metrics Service (port `metrics`) only when this is on or
        # ports.metrics.expose.default is (templates/service-metrics.yaml); both default off.
        # A ClusterIP Service for the ServiceMonitor, nothing published.
        "metrics": {"prometheus": {"service": {"enabled": True}}},
        # The limits key on the client's address: with the default policy (Cluster) the
        # LoadBalancer Service's traffic reaches Traefik from a node address, every client alike.
        "service": {"spec": {"externalTrafficPolicy": "Local"}},
    }


def metrics_label_flags(prometheus: dict) -> list[str]:
    """configs/traefik/traefik.yml's choice of metric labels as Traefik flags."""
    keys = ("addEntryPointsLabels", "addServicesLabels", "addRoutersLabels")
    return [f"--metrics.prometheus.{k}={str(prometheus[k]).lower()}" for k in keys]


def values_document(values: dict) -> str:
    """A Helm values file with the generated mark on top."""
    head = f"# {GENERATED_MARK.format(script='scripts/stack_k8s.py')}\n"
    return head + yaml.safe_dump(values, sort_keys=False, width=100)


def filebeat_config() -> str:
    """Filebeat on a node: the stdout of the backends' containers in the mathapi namespace,
    undecoded, to the same Logstash pipeline as compose."""
    paths = [f"/var/log/containers/*_mathapi_{b.name}-*.log" for b in BACKENDS]
    config = {
        "filebeat.inputs": [
            {
                "type": "filestream",
                "id": "mathapi-container-stdout",
                "paths": paths,
                "parsers": [{"container": {"stream": "stdout", "format": "auto"}}],
                "prospector.scanner.symlinks": True,
            }
        ],
        "processors": [
            {
                "add_kubernetes_metadata": {
                    # The node whose pods it watches (`node`; `host` was the 6.x name).
                    "node": "${NODE_NAME}",
                    "matchers": [{"logs_path": {"logs_path": "/var/log/containers/"}}],
                }
            },
            {
                "drop_event": {
                    "when": {"not": {"equals": {"kubernetes.labels.mathapi_dev/logs": "bunyan"}}}
                }
            },
        ],
        "output.logstash": {"hosts": ["${LOGSTASH_HOSTS}"]},
        "logging.level": "info",
    }
    return yaml.safe_dump(config, sort_keys=False)


def logging_objects() -> list[dict]:
    """Filebeat's config and the compose pipeline/template for the Logstash/Elasticsearch
    the cluster runs (docs/kubernetes.md says how to mount them)."""
    return [
        config_map("mathapi-filebeat", {"filebeat.yml": filebeat_config()}, {}),
        config_map("mathapi-logstash-pipeline", {"mathapi.conf": PIPELINE.read_text()}, {}),
        config_map(
            "mathapi-elasticsearch-template",
            {"index-template.json": INDEX_TEMPLATE.read_text()},
            {},
        ),
    ]


def document(objects: list[dict]) -> str:
    """A multi-document YAML file with the generated mark on top."""
    head = f"# {GENERATED_MARK.format(script='scripts/stack_k8s.py')}\n"
    return head + "".join("---\n" + yaml.safe_dump(o, sort_keys=False, width=100) for o in objects)


def render() -> dict[Path, str]:
    """Every generated file and its content."""
    return {
        APPS_OUT / "backends.yaml": document(backends_objects()),
        APPS_OUT / "routes.yaml": document(routes_objects()),
        APPS_OUT / "monitoring.yaml": document(monitoring_objects()),
        APPS_OUT / "prometheus-rules.yaml": document([prometheus_rule()]),
        APPS_OUT / "grafana-dashboards.yaml": document([grafana_dashboards()]),
        APPS_OUT / "tracing.yaml": document([tracing_config_map()]),
        **{
            TRAEFIK_OUT / f"values-{overlay}.yaml": values_document(traefik_values(overlay))
            for overlay in TRACE_ENDPOINTS
        },
        LOGGING_OUT / "logging.yaml": document(logging_objects()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a committed file differs from the generated one",
    )
    args = parser.parse_args()
    return write_or_check(render(), args.check, "scripts/stack_k8s.py")


if __name__ == "__main__":
    sys.exit(main())
