"""`make demo-incident` for real, natively (scripts/stack_incident.py --native): the release
services with fault files, the real Traefik and Prometheus with the repository's configs and
alert rules, traffic through Traefik. A fault is switched on in the demo's service (the first
backend that does not serve the sequence) through its file and SIGHUP; the real alert must fire
for it (and only for it), the failing and slow requests must be visible where the demo says to
look, and the alert must resolve once the fault is off. The same scenario is a promtool unit
test (configs/prometheus/tests/incident_test.yml); this run shows the services, Prometheus and
the rules do it for real.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from stack_incident import (
    ALERT,
    DEFAULT_SERVICE,
    Fault,
    NativeStack,
    Report,
    run_incident,
    where_to_look,
)
from stack_model import BACKEND_NAMES, backend

pytestmark = pytest.mark.live

SERVICE = DEFAULT_SERVICE
ROUTE = backend(SERVICE).route
FAULT = Fault(latency_ms=400, error_rate=0.25)


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """The whole scenario once; the stack stays up for the checks, then stops."""
    work = tmp_path_factory.mktemp("incident")
    said: list[str] = []
    with NativeStack(work) as stack:
        report = run_incident(
            stack.switch(), stack.prometheus, stack.web, SERVICE, FAULT, say=said.append
        )
        metrics = metrics_page(stack, SERVICE)
        yield stack, report, said, metrics


def metrics_page(stack: NativeStack, service: str) -> str:
    url = f"http://127.0.0.1:{stack.ports.backends[service]}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def log_records(path: Path) -> list[dict]:
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def test_the_alert_fires_for_the_faulty_service_only(incident) -> None:  # noqa: ANN001
    _stack, report, _said, _metrics = incident
    assert isinstance(report, Report)
    assert report.fired_after is not None
    # `for: 2m`: never before two minutes of a ratio above 5%.
    assert report.fired_after >= 120, report
    assert report.error_ratio_when_fired is not None
    assert 0.15 <= report.error_ratio_when_fired <= 0.35, report
    error_alerts = [a for a in report.alerts_when_fired if a["alertname"] == ALERT]
    assert [a["job"] for a in error_alerts] == [SERVICE], report.alerts_when_fired
    # Traefik sees the same failures: its alert is on its way for the same service only.
    proxy = [a for a in report.alerts_when_fired if a["alertname"] == "MathapiHighProxyErrorRatio"]
    assert [a["backend"] for a in proxy] == [SERVICE], report.alerts_when_fired


def test_the_alert_resolves_after_the_fault_is_switched_off(incident) -> None:  # noqa: ANN001
    _stack, report, said, _metrics = incident
    assert report.resolved_after is not None and report.switched_off_after is not None
    assert report.resolved_after > report.switched_off_after
    assert any("resolved" in line for line in said), said


def test_the_demo_says_where_to_look(incident) -> None:  # noqa: ANN001
    stack, _report, said, _metrics = incident
    look = where_to_look(stack.web, SERVICE, FAULT)
    assert look in said
    for place in (
        "/prometheus/alerts",
        "/grafana/d/mathapi-overview/",
        f"var-backend={SERVICE}",
        f"/jaeger/search?service={SERVICE}&minDuration=400ms",
        "/kibana/app/discover",
        "mathapi.fault",
    ):
        assert place in look, place


def test_every_injected_fault_is_logged_and_counted(incident) -> None:  # noqa: ANN001
    stack, _report, _said, metrics = incident
    records = log_records(stack.log(SERVICE))
    requests = [
        r for r in records if r.get("msg") == "request completed" and r.get("http_route") == ROUTE
    ]
    errors = [r for r in requests if r.get("fault") == "latency+error"]
    slow = [r for r in requests if r.get("fault") == "latency"]
    assert errors and slow, f"{len(requests)} request lines, none with a fault"
    for r in errors:
        assert (r["http_status"], r["reason"], r["level"]) == (500, "injected_fault", 50), r
    for r in slow:
        # Deliberately invalid requests are late too, and still refused (400, 405).
        assert r["http_status"] < 500 and r["latency_ms"] >= FAULT.latency_ms, r
    share = len(errors) / (len(errors) + len(slow))
    assert 0.15 <= share <= 0.35, f"{len(errors)} injected errors of {len(errors) + len(slow)}"
    # Switched on, then off: two reloads applied, both logged.
    applied = [r for r in records if r.get("msg") == "fault settings applied"]
    assert [r["detail"] for r in applied] == [f"{SERVICE}: 400 ms, 25% errors", "none"], applied
    assert 'mathapi_fault_reloads_total{outcome="applied"} 2' in metrics
    counted = {kind: 0 for kind in ("latency", "error")}
    for line in metrics.splitlines():
        for kind in counted:
            if line.startswith(
                f'mathapi_injected_faults_total{{function="{SERVICE}",kind="{kind}"}}'
            ):
                counted[kind] = int(float(line.split()[-1]))
    assert counted == {"latency": len(errors) + len(slow), "error": len(errors)}, counted


def test_other_services_are_untouched(incident) -> None:  # noqa: ANN001
    stack, _report, _said, _metrics = incident
    for name in (n for n in BACKEND_NAMES if n != SERVICE):
        records = log_records(stack.log(name))
        assert not [r for r in records if "fault" in r], name
        assert metrics_page(stack, name).count("mathapi_injected_faults_total{") == 0


def test_the_slow_and_failing_requests_are_traced(incident) -> None:  # noqa: ANN001
    # Needs the services' OTLP export (merged with the traces work).
    stack, _report, _said, _metrics = incident
    spans = stack.otlp.spans()
    traefik_traces = {s.trace_id for s in spans if s.service == "traefik"}
    server = [s for s in spans if s.service == SERVICE and s.name == f"GET {ROUTE}"]
    assert server, f"{len(spans)} spans received, none of {SERVICE}'s server spans"
    slow = [s for s in server if s.duration_ns >= FAULT.latency_ms * 1_000_000]
    failed = [s for s in slow if s.attributes.get("http.response.status_code") == 500]
    assert slow and failed, f"{len(server)} server spans, {len(slow)} slow, {len(failed)} failed"
    # An injected 500 is a failed span (status ERROR), inside a trace Traefik started.
    for span in failed:
        assert span.status_code == 2, span
        assert span.trace_id in traefik_traces, span
