"""The stack running for real, natively on loopback (no Docker): the release services with
their compose environment, the sequence stepper on a real redis-server with a password, the
real Traefik and the real Prometheus with the repository's configs (scripts/stack_live.py),
`mathapi-traffic` sending valid and invalid requests through Traefik while the stepper is
walked, and an OTLP/HTTP receiver (scripts/stack_otlp.py) standing in for Jaeger: Traefik and
the services export their spans to it. One session fixture starts it all; the tests read what
it produced; the last ones stop the services with SIGTERM and read their logs.

The log tests hold the services to log contract v2 (one "request completed" line per request,
docs/observability.md) and the p99 test needs contract v2's histogram buckets: against
binaries that predate them, those tests fail and say so. Likewise the trace test of the
services' side (their span a child of Traefik's, trace_id on their request line) needs the
services' OTLP export; Traefik's side is checked on its own.
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest

from conftest import ROOT, tool
from models import (
    RARE_DERIVED_FIELDS,
    RARE_LOG_FIELDS,
    TYPE_CHECKS,
    Pipeline,
    contract_log_fields,
    dashboard_p99_query,
    dashboard_queries,
    rules_of,
    template_fields,
)
from stack_live import (
    LivePorts,
    Processes,
    free_port,
    prometheus_url,
    start_traefik_and_prometheus,
    wait_http,
    write_live_configs,
)
from stack_model import BACKEND_NAMES, BACKENDS, SEQUENCE
from stack_otlp import OtlpReceiver, Span, ancestors

pytestmark = pytest.mark.live

TRAFFIC_SECONDS = int(os.environ.get("CHECK_STACK_TRAFFIC_SECONDS", "45"))
ADMIN = ("admin", f"live-admin-{os.getpid()}")
STANDARD_METHODS = {
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "_OTHER",
}
RELEASE = ROOT / "target" / "release"


@dataclass
class Live:
    """What the session fixture started, and where it put its output."""

    work: Path
    ports: LivePorts
    otlp: OtlpReceiver
    components: Processes
    sequence_failures: list[str] = field(default_factory=list)
    sequence_rounds: int = 0
    sequence_thread: threading.Thread | None = None
    traffic_started: float = 0.0

    @property
    def web(self) -> str:
        """Traefik's public entrypoint."""
        return f"http://127.0.0.1:{self.ports.traefik_web}"

    @property
    def prometheus(self) -> str:
        """Prometheus' base URL (served under /prometheus, as in compose)."""
        return prometheus_url(self.ports)

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        """Every component started, by name."""
        return self.components.running

    def log(self, name: str) -> Path:
        """Where a component's stdout and stderr go."""
        return self.components.log(name)

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        """Starts a component, its output in log(name)."""
        self.components.start(name, argv, env, cwd)

    def stop(self, names: list[str], seconds: float = 40) -> dict[str, int | None]:
        """SIGTERM, then wait; the exit codes (None: killed after `seconds`)."""
        return self.components.stop(names, seconds)


def http(
    method: str,
    url: str,
    auth: tuple[str, str] | None = None,
    timeout: float = 5,
    headers: dict[str, str] | None = None,
) -> tuple[int, Message, bytes]:
    """One request: status, headers (case-insensitive), body (4xx/5xx are answers)."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def compose_env(service: str) -> dict[str, str]:
    """A backend's environment in docker-compose.yml, without the network settings."""
    out = subprocess.run(
        [
            tool("docker-compose"),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    env = json.loads(out.stdout)["services"][service].get("environment", {})
    return {
        k: v
        for k, v in env.items()
        if k not in ("MATHAPI_HOST", "MATHAPI_PORT", "MATHAPI_REDIS_URL")
    }


def walk_sequence(live: Live, seconds: float) -> None:
    """Runs walk_rounds in the background; any exception (a transport error, an answer that
    is not JSON, a bug here) is recorded as a failure, so the thread can never end silently."""
    try:
        walk_rounds(live, seconds)
    except Exception as error:  # noqa: BLE001 (every exception is a failure to report)
        live.sequence_failures.append(f"{type(error).__name__}: {error}")


def walk_rounds(live: Live, seconds: float) -> None:
    """Walks the stepper (capped at index 5): reset, 409 at 0, 5x next, 409, previous."""
    base, deadline = live.web + SEQUENCE.prefix, time.monotonic() + seconds
    while time.monotonic() < deadline:
        code, _h, raw = http("POST", f"{base}/reset")
        if code != 200 or json.loads(raw) != {"index": 0, "value": "0"}:
            live.sequence_failures.append(f"reset: {code} {raw[:200]!r}")
            return
        if http("POST", f"{base}/previous")[0] != 409:
            live.sequence_failures.append("previous at index 0 is not a 409")
            return
        values = []
        for _ in range(6):
            code, _h, raw = http("POST", f"{base}/next")
            values.append(json.loads(raw).get("value") if code == 200 else code)
        if values != ["1", "1", "2", "3", "5", 409]:
            live.sequence_failures.append(f"6x next from 0 (max index 5) gave {values}")
            return
        http("POST", f"{base}/previous")
        code, _h, raw = http("GET", f"{base}/current")
        if code != 200 or json.loads(raw) != {"index": 4, "value": "3"}:
            live.sequence_failures.append(f"current after previous: {code} {raw!r}")
            return
        live.sequence_rounds += 1
        time.sleep(0.2)


# Valid n for /ackermann/{m}/{n}/ in the live run (the default limit, 4, gives 20 arguments).
ACKERMANN_MAX_N = 1000


def start_backends(live: Live, redis_url: str) -> None:
    """The services with their compose environment, on their live ports."""
    (live.work / "services").mkdir()
    for b in BACKENDS:
        env = {
            **compose_env(b.name),
            "MATHAPI_REDIS_URL": redis_url,
            # The check reaches the stepper's end (a 409) quickly.
            "MATHAPI_SEQUENCE_MAX_INDEX": "5",
            # Enough distinct valid Ackermann arguments that the render cache does not
            # answer them all within a second, so its computation panels have data.
            "MATHAPI_ACKERMANN_MAX_N": str(ACKERMANN_MAX_N),
            # Jaeger's receiver in compose; the local one here.
            "OTEL_EXPORTER_OTLP_ENDPOINT": live.otlp.base_url,
        }
        live.start(
            b.name,
            [
                str(RELEASE / b.binary),
                "--host",
                "127.0.0.1",
                "--port",
                str(live.ports.backends[b.name]),
            ],
            env,
            cwd=live.work / "services",
        )
    for b in BACKENDS:
        wait_http(f"http://127.0.0.1:{live.ports.backends[b.name]}/ready", 30)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """Redis, the services, Traefik, Prometheus, then traffic and the stepper walk."""
    for binary in (*(b.binary for b in BACKENDS), "mathapi-traffic"):
        assert (RELEASE / binary).exists(), "cargo build --release --bins first"
    work = tmp_path_factory.mktemp("live")
    (work / "redis").mkdir()
    state = Live(work, LivePorts.allocate(), OtlpReceiver().start(), Processes(work))
    try:
        redis_port, password = free_port(), f"live-{os.getpid()}"
        state.start(
            "redis",
            [
                tool("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(redis_port),
                "--dir",
                str(work / "redis"),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--requirepass",
                password,
            ],
        )
        time.sleep(0.5)
        start_backends(state, f"redis://:{password}@127.0.0.1:{redis_port}")
        # An access-log line per request, which the repository's Traefik does not write
        # (test_traefik_own_answers.py): the Traefik view's p99 is checked against the
        # Duration Traefik recorded for each request, and a trace against its line.
        write_live_configs(work, state.ports, otlp_endpoint=state.otlp.endpoint, access_log=True)
        start_traefik_and_prometheus(
            state.components, tool("traefik"), tool("prometheus"), state.ports, ADMIN
        )
        # Traefik's health checks must mark the backends up before it routes to them.
        for b in BACKENDS:
            wait_http(state.web + b.sample_path, 30)
        state.start(
            "traffic",
            [
                str(RELEASE / "mathapi-traffic"),
                "--url",
                state.web,
                "--rate",
                "40",
                "--duration",
                f"{TRAFFIC_SECONDS}s",
                "--ackermann-max-n",
                str(ACKERMANN_MAX_N),
                "--concurrency",
                "4",
                "--error-share",
                "0.25",
                "--no-progress",
                "--check",
                "--summary-json",
                str(work / "traffic.json"),
            ],
        )
        state.traffic_started = time.monotonic()
        state.sequence_thread = threading.Thread(
            target=walk_sequence, args=(state, TRAFFIC_SECONDS), daemon=True
        )
        state.sequence_thread.start()
        yield state
    finally:
        state.stop(list(state.processes), seconds=15)
        state.otlp.stop()


# ------------------------------------------------------------------ while it runs


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_metrics_content_type_prometheus_accepts(live: Live, backend: str) -> None:
    code, headers, _ = http("GET", f"http://127.0.0.1:{live.ports.backends[backend]}/metrics")
    content_type = headers.get("Content-Type", "")
    assert code == 200
    assert re.match(r"^(text/plain|application/openmetrics-text)", content_type), content_type


@pytest.mark.parametrize("path", ["/prometheus/-/ready", "/grafana/", "/kibana/", "/jaeger/"])
def test_admin_paths_need_the_admin_password(live: Live, path: str) -> None:
    assert http("GET", live.web + path)[0] == 401
    assert http("GET", live.web + path, auth=("admin", "admin"))[0] == 401


def test_admin_password_opens_prometheus_and_apis_stay_anonymous(live: Live) -> None:
    assert http("GET", f"{live.web}/prometheus/-/ready", auth=ADMIN)[0] == 200
    for b in BACKENDS:
        assert http("GET", live.web + b.sample_path)[0] == 200, b.name


@pytest.mark.parametrize(
    "path, body",
    [
        ("/fibonacci/10/", {"n": 10, "result": "55"}),
        ("/factorial/5/", {"n": 5, "result": "120"}),
        ("/ackermann/2/3/", {"m": 2, "n": 3, "result": "9"}),
    ],
)
def test_answers_through_traefik(live: Live, path: str, body: dict) -> None:
    code, _h, raw = http("GET", live.web + path)
    assert (code, json.loads(raw)) == (200, body)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_bad_arguments_docs_and_unknown_paths(live: Live, backend) -> None:  # noqa: ANN001
    code, headers, raw = http("GET", live.web + backend.path_with(-1))
    assert code == 400
    assert headers.get("Content-Type", "").startswith("application/problem+json")
    problem = json.loads(raw)
    assert problem["status"] == 400 and problem["reason"]
    code, _h, raw = http("GET", f"{live.web}{backend.prefix}/openapi.json")
    assert code == 200 and "openapi" in json.loads(raw)
    code, _h, raw = http("GET", f"{live.web}{backend.prefix}/docs")
    assert code == 200 and b"<html" in raw.lower()
    assert http("GET", f"{live.web}/unknown/1/")[0] == 404


def prometheus_query(live: Live, expr: str) -> list[dict]:
    """An instant query's result vector."""
    url = f"{live.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    code, _h, raw = http("GET", url, timeout=10)
    answer = json.loads(raw)
    assert code == 200 and answer["status"] == "success", answer
    return answer["data"]["result"]


def has_data(result: list[dict]) -> bool:
    """At least one finite sample."""
    return any(math.isfinite(float(r["value"][1])) for r in result)


def test_every_dashboard_query_and_rule_returns_data(live: Live) -> None:
    # Queried while the traffic flows, so the 1m windows are full of it; after 15 s, so
    # every rate has a few scrapes.
    time.sleep(max(0.0, live.traffic_started + 15 - time.monotonic()))
    pending = {f"rule {name}": name for name in rules_of("record")}
    pending.update(dict(dashboard_queries()))
    pending.update(
        {
            f"up {job}": f'up{{job="{job}"}} == 1'
            for job in ("prometheus", "traefik", *BACKEND_NAMES)
        }
    )
    deadline = live.traffic_started + TRAFFIC_SECONDS + 15
    while pending and time.monotonic() < deadline:
        for where, expr in list(pending.items()):
            if has_data(prometheus_query(live, expr)):
                del pending[where]
        if pending:
            time.sleep(2)
    assert pending == {}


def test_traffic_got_the_statuses_it_planned(live: Live) -> None:
    code = live.processes["traffic"].wait(timeout=TRAFFIC_SECONDS + 60)
    assert code == 0, live.log("traffic").read_text()[-3000:]


def test_sequence_stepper_walks(live: Live) -> None:
    live.sequence_thread.join(timeout=TRAFFIC_SECONDS + 30)
    assert not live.sequence_thread.is_alive(), "the stepper walk did not end"
    assert live.sequence_failures == []
    assert live.sequence_rounds > 0


# The services' request-duration histogram, as Prometheus names it.
SERVICE_HISTOGRAM = "http_server_request_duration_seconds"


def p99_of(live: Live, query: str) -> float:
    """The value of a dashboard p99 query, right after the traffic (the 1m window holds it)."""
    live.processes["traffic"].wait(timeout=TRAFFIC_SECONDS + 60)
    result = prometheus_query(live, query)
    assert has_data(result), query
    return float(result[0]["value"][1])


def within_one_bucket(live: Live, dashboard: float, truth: float, what: str) -> None:
    """The dashboard's figure and the independent one fall in the same histogram bucket or in
    neighbouring ones: a histogram quantile is only known to within its bucket, and an exact
    percentile near a boundary may sit just across it."""
    bounds = live_buckets(live)
    ours, theirs = bucket_index(dashboard, bounds), bucket_index(truth, bounds)
    assert abs(ours - theirs) <= 1, (
        f"{what}: dashboard p99 {dashboard * 1000:.3f} ms (bucket {ours}) vs "
        f"{truth * 1000:.3f} ms (bucket {theirs}) of {bounds}"
    )


def bucket_index(seconds: float, bounds: list[float]) -> int:
    """Which bucket `seconds` falls in: i for (bounds[i-1], bounds[i]], len(bounds) for +Inf."""
    return bisect.bisect_left(bounds, seconds)


def histogram_bounds(exposition: str, histogram: str) -> list[set[float]]:
    """The finite `le` boundaries of each series of `histogram` in a Prometheus text page."""
    series: dict[str, set[float]] = {}
    pattern = re.compile(rf"^{re.escape(histogram)}_bucket\{{(.*)\}} ", re.MULTILINE)
    for labels in pattern.findall(exposition):
        le = re.search(r'(?:^|,)le="([^"]+)"', labels).group(1)
        others = re.sub(r'(?:^|,)le="[^"]+"', "", labels)
        if le != "+Inf":
            series.setdefault(others, set()).add(float(le))
    return list(series.values())


def metrics_page(url: str) -> str:
    """A /metrics page as text."""
    code, _h, raw = http("GET", url)
    assert code == 200, url
    return raw.decode()


def live_buckets(live: Live) -> list[float]:
    """The boundaries of the services' request-duration histogram, read from a running
    service's /metrics (the Rust code's HTTP_DURATION_BUCKETS as served)."""
    backend = live.ports.backends[BACKEND_NAMES[0]]
    page = metrics_page(f"http://127.0.0.1:{backend}/metrics")
    found = histogram_bounds(page, SERVICE_HISTOGRAM)
    assert found, f"no {SERVICE_HISTOGRAM} series on {BACKEND_NAMES[0]}'s /metrics"
    return sorted(found[0])


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_traefik_view_p99_agrees_with_traefiks_access_log(live: Live, backend: str) -> None:
    # Like for like: Traefik's histogram against Traefik's own measurement of the same
    # requests, the `Duration` of each access-log line for the backend's service.
    dashboard = p99_of(live, dashboard_p99_query(backend, "traefik"))
    access = [
        json.loads(line)
        for line in live.log("traefik").read_text().splitlines()
        if '"RequestPath"' in line
    ]
    durations = [
        line["Duration"] / 1e9 for line in access if line.get("ServiceName") == f"{backend}@file"
    ]
    assert len(durations) > 100, f"{backend}: {len(durations)} access-log lines"
    within_one_bucket(live, dashboard, p99(durations), f"{backend} Traefik view vs its access log")


# The backend that serves the sequence also serves the stepper, whose durable writes (fsync)
# mathapi-traffic never sends: its p99 would compare different request mixes.
@pytest.mark.parametrize("backend", [b.name for b in BACKENDS if not b.stepper])
def test_traefik_view_p99_is_no_worse_than_the_clients(live: Live, backend: str) -> None:
    # The client's time holds Traefik's, plus the client's own scheduling: on this shared
    # 2-core machine, with traces exported and other checks running during the traffic, that
    # part alone reached 2x Traefik's p99. So only one side holds whatever the load: the
    # dashboard must not show a tail worse than the clients saw (at most one bucket above
    # theirs: a quantile is only known to within its bucket). The two-sided check is the
    # access-log one above.
    dashboard = p99_of(live, dashboard_p99_query(backend, "traefik"))
    summary = json.loads((live.work / "traffic.json").read_text())
    client = summary["functions"][backend]["latency_ms"]["p99"] / 1000
    bounds = live_buckets(live)
    assert bucket_index(dashboard, bounds) <= bucket_index(client, bounds) + 1, (
        f"{backend}: Traefik view p99 {dashboard * 1000:.3f} ms, "
        f"mathapi-traffic's {client * 1000:.3f} ms, buckets {bounds}"
    )


def test_traefik_histograms_have_the_services_buckets(live: Live) -> None:
    # Both sides as served: Traefik's request histograms on its metrics entrypoint, and each
    # service's http.server.request.duration (the Rust HTTP_DURATION_BUCKETS) on its /metrics,
    # after the traffic has filled them. The dashboards compare the two bucket by bucket.
    live.processes["traffic"].wait(timeout=TRAFFIC_SECONDS + 60)
    traefik = metrics_page(f"http://127.0.0.1:{live.ports.traefik_metrics}/metrics")
    traefik_series = histogram_bounds(traefik, "traefik_service_request_duration_seconds")
    assert traefik_series, "Traefik exported no service request histogram"
    for backend, port in live.ports.backends.items():
        page = metrics_page(f"http://127.0.0.1:{port}/metrics")
        service_series = histogram_bounds(page, SERVICE_HISTOGRAM)
        assert service_series, f"{backend}: no {SERVICE_HISTOGRAM} series"
        for bounds in traefik_series + service_series:
            assert bounds == service_series[0], (backend, sorted(bounds))


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_service_view_p99_agrees_with_the_request_lines(live: Live, backend: str) -> None:
    # The services' histogram against their own measurement of the same requests: the
    # latency_ms of the "request completed" lines (contract v2) on the API routes the
    # recording rules count. Needs contract v2's buckets (50 us up) in the services.
    dashboard = p99_of(live, dashboard_p99_query(backend, "service"))
    api_route = re.compile(rf"^/{backend}/.+")
    latencies = [
        line["latency_ms"] / 1000
        for line in map(json.loads, live.log(backend).read_text().splitlines())
        if line.get("msg") == "request completed" and api_route.match(line.get("http_route", ""))
    ]
    assert len(latencies) > 100, f"{backend}: no request lines (log contract v2)"
    within_one_bucket(
        live, dashboard, p99(latencies), f"{backend} service view vs its request lines"
    )


# ------------------------------------------------------------------ traces

SERVER, CLIENT = 2, 3  # opentelemetry.proto.trace.v1.Span.SpanKind
# Traefik and the services export in batches (every 5 s by default).
TRACE_WAIT_SECONDS = 30
REQUEST_ID_ATTRIBUTE = "http.request.header.x-request-id"  # Traefik's capturedRequestHeaders


@pytest.fixture(scope="module")
def traced_requests(live: Live) -> dict[str, str]:
    """backend -> the X-Request-Id of one request sent to it through Traefik, sent once the
    traffic is over: polling the receiver while it runs would load the machine during the
    window whose client-side p99 the latency tests compare with the dashboards."""
    live.processes["traffic"].wait(timeout=TRAFFIC_SECONDS + 60)
    ids = {}
    for b in BACKENDS:
        request_id = f"trace-check-{b.name}-{os.getpid()}"
        code, _h, raw = http("GET", live.web + b.sample_path, headers={"X-Request-Id": request_id})
        assert code == 200, raw
        ids[b.name] = request_id
    return ids


def wait_for_spans(live: Live, found: Callable[[list[Span]], list[Span]]) -> list[Span]:
    """What `found` picks from the received spans, once it picks something (or [] after
    TRACE_WAIT_SECONDS)."""
    deadline = time.monotonic() + TRACE_WAIT_SECONDS
    while True:
        picked = found(live.otlp.spans())
        if picked or time.monotonic() > deadline:
            return picked
        time.sleep(0.5)


def traefik_trace(live: Live, request_id: str) -> list[Span]:
    """Every span of the one trace Traefik started for `request_id` (found by the captured
    X-Request-Id), waiting for Traefik's export until its root span is in: Traefik exports
    in batches, and a span that ends first (the proxy's) can arrive before its parents."""

    def of_request(spans: list[Span]) -> list[Span]:
        trace_ids = {
            s.trace_id
            for s in spans
            if s.service == "traefik" and request_id in s.attributes.get(REQUEST_ID_ATTRIBUTE, [])
        }
        assert len(trace_ids) <= 1, f"{request_id}: Traefik spans in traces {trace_ids}"
        trace = [s for s in spans if s.trace_id in trace_ids]
        return trace if any(not s.parent_span_id for s in trace) else []

    return wait_for_spans(live, of_request)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_traefik_exports_a_trace_per_request(
    live: Live, traced_requests: dict[str, str], backend: str
) -> None:
    # Traefik's half of the trace, checkable without the services' export: its server span
    # is the root (the request came without a traceparent) and its client span, the one whose
    # context goes to the service in `traceparent`, descends from it.
    spans = traefik_trace(live, traced_requests[backend])
    assert spans, (
        f"no Traefik span carries {traced_requests[backend]} ({live.otlp.requests} "
        f"exports, {len(live.otlp.spans())} spans received)"
    )
    by_id = {s.span_id: s for s in spans}
    traefik = [s for s in spans if s.service == "traefik"]
    roots = [s for s in traefik if s.kind == SERVER and not s.parent_span_id]
    assert len(roots) == 1, [(s.name, s.kind, s.parent_span_id) for s in traefik]
    clients = [s for s in traefik if s.kind == CLIENT]
    assert clients, [(s.name, s.kind) for s in traefik]
    assert all(roots[0] in ancestors(c, by_id) for c in clients)
    assert live.otlp.dropped == 0
    # Traefik's access log line of the request names the same trace.
    access = [
        json.loads(line)
        for line in live.log("traefik").read_text().splitlines()
        if traced_requests[backend] in line and '"RequestPath"' in line
    ]
    assert [line.get("TraceId") for line in access] == [roots[0].trace_id], access


def test_admin_tools_are_not_traced(live: Live, traced_requests: dict[str, str]) -> None:
    # Their routers turn tracing off (configs/traefik/dynamic.yml): the UIs' polling must not
    # fill the trace store. An API request sent after it shows the export has caught up.
    admin_id, api_id = f"trace-admin-{os.getpid()}", f"trace-after-admin-{os.getpid()}"
    assert (
        http(
            "GET", f"{live.web}/prometheus/-/ready", auth=ADMIN, headers={"X-Request-Id": admin_id}
        )[0]
        == 200
    )
    api = live.web + BACKENDS[0].sample_path
    assert http("GET", api, headers={"X-Request-Id": api_id})[0] == 200
    assert traefik_trace(live, api_id), "the API request's trace never arrived"
    assert [
        s for s in live.otlp.spans() if admin_id in s.attributes.get(REQUEST_ID_ATTRIBUTE, [])
    ] == []


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_service_span_is_traefiks_child_and_its_log_line_has_the_trace_id(
    live: Live, traced_requests: dict[str, str], backend
) -> None:  # noqa: ANN001
    # Needs the services' OTLP export (OTEL_EXPORTER_OTLP_ENDPOINT) and trace_id/span_id on
    # their log lines: against binaries that predate them this fails and says so.
    request_id = traced_requests[backend.name]

    def with_service_span(spans: list[Span]) -> list[Span]:
        trace = {
            s.trace_id
            for s in spans
            if s.service == "traefik" and request_id in s.attributes.get(REQUEST_ID_ATTRIBUTE, [])
        }
        spans = [s for s in spans if s.trace_id in trace]
        return spans if any(s.service == backend.name for s in spans) else []

    spans = wait_for_spans(live, with_service_span)
    assert spans, (
        f"{backend.name}: no span of the service in the trace of {request_id} "
        "(the services' OTLP export)"
    )
    by_id = {s.span_id: s for s in spans}
    root = next(s for s in spans if s.service == "traefik" and not s.parent_span_id)
    servers = [s for s in spans if s.service == backend.name and s.kind == SERVER]
    assert len(servers) == 1, [(s.name, s.kind) for s in spans if s.service == backend.name]
    server = servers[0]
    assert by_id[server.parent_span_id].service == "traefik", "parent is not Traefik's span"
    assert root in ancestors(server, by_id)
    route = str(server.attributes.get("http.route", ""))
    assert route.startswith(f"/{backend.name}/") and server.name == f"GET {route}", server
    assert server.attributes.get("http.request.method") == "GET", server
    assert server.attributes.get("http.response.status_code") == 200, server
    # The documented request-id search: the service span's string attribute (Traefik's
    # captured header is a string list, which Jaeger's tag search does not match).
    assert server.attributes.get("mathapi.request_id") == request_id, server

    lines = [
        json.loads(line)
        for line in live.log(backend.name).read_text().splitlines()
        if request_id in line
    ]
    completed = [line for line in lines if line.get("msg") == "request completed"]
    assert len(completed) == 1, lines
    assert completed[0].get("trace_id") == server.trace_id, completed[0]
    own = {s.span_id for s in spans if s.service == backend.name}
    assert completed[0].get("span_id") in own, completed[0]
    if "compute_ms" in completed[0]:
        computations = [s for s in spans if s.service == backend.name and s.name == "computation"]
        assert computations and all(server in ancestors(c, by_id) for c in computations)


# ------------------------------------------------------------------ after SIGTERM: the logs


@pytest.fixture(scope="module")
def service_logs(live: Live) -> dict[str, list[dict]]:
    """The services stopped with SIGTERM (so shutdown lines are there), their lines parsed."""
    live.processes["traffic"].wait(timeout=TRAFFIC_SECONDS + 60)
    codes = live.stop(list(BACKEND_NAMES))
    assert codes == dict.fromkeys(BACKEND_NAMES, 0), codes
    logs = {}
    for name in BACKEND_NAMES:
        lines = live.log(name).read_text().splitlines()
        assert lines, f"{name} wrote nothing"
        logs[name] = [json.loads(line) for line in lines]
    return logs


def test_log_lines_fit_the_pipeline_and_template(service_logs: dict[str, list[dict]]) -> None:
    pipeline, fields, contract = Pipeline(), template_fields(), contract_log_fields()
    produced: set[str] = set()
    problems = []
    for name, lines in service_logs.items():
        for number, line in enumerate(lines, start=1):
            where = f"{name}:{number}"
            if set(line) - contract:
                problems.append(f"{where}: undocumented {sorted(set(line) - contract)}")
            if line.get("name") != name or line.get("level") not in (10, 20, 30, 40, 50, 60):
                problems.append(f"{where}: name/level {line.get('name')}/{line.get('level')}")
            for key, value in pipeline.document(line).items():
                if key not in fields or not TYPE_CHECKS[fields[key]](value):
                    problems.append(f"{where}: {key}={value!r} vs {fields.get(key)}")
                produced.add(key)
    assert problems[:20] == []
    rare = set(RARE_LOG_FIELDS) | set(RARE_DERIVED_FIELDS)
    assert set(fields) - produced - rare == set(), "never produced"


def request_lines(service_logs: dict[str, list[dict]]) -> list[dict]:
    """Every "request completed" line of every service."""
    return [
        line
        for lines in service_logs.values()
        for line in lines
        if line.get("msg") == "request completed"
    ]


def test_contract_v2_one_line_per_request(service_logs: dict[str, list[dict]]) -> None:
    spans = [
        line["msg"]
        for lines in service_logs.values()
        for line in lines
        if re.match(r"^\[\w+ - (START|END)\]", line.get("msg", ""))
    ]
    assert spans == [], "span START/END lines at info (contract v1)"
    lines = request_lines(service_logs)
    assert len(lines) > 100
    ids = [line["request_id"] for line in lines]
    assert len(ids) == len(set(ids)), "a request id on more than one request line"
    for line in lines:
        assert isinstance(line["http_status"], int) and isinstance(line["latency_ms"], float)
        # 5xx lines are errors, except shed requests (503 overloaded): the server protecting
        # itself is routine, logged at info so that a flood of them stays batched.
        shed = line.get("reason") == "overloaded"
        assert line["level"] == (50 if line["http_status"] >= 500 and not shed else 30), line
        assert line["http_method"] in STANDARD_METHODS, line
        assert "elapsed_milliseconds" not in line, line
        # Math answers say how the render cache served them; the stepper is never cached.
        if line.get("function") in BACKEND_NAMES and line["http_status"] == 200:
            assert line["cache"] in ("hit", "miss"), line
        if "compute_ms" in line:
            assert isinstance(line["compute_ms"], float), line


def test_contract_v2_refusals_carry_reason_and_detail(service_logs: dict[str, list[dict]]) -> None:
    refused = [
        line
        for line in request_lines(service_logs)
        if 400 <= line["http_status"] < 500 and line.get("function") and line["http_status"] != 404
    ]
    assert refused, "the traffic's invalid requests left no 4xx request line"
    assert [line for line in refused if not (line.get("reason") and line.get("detail"))] == []
    warned = [
        line
        for lines in service_logs.values()
        for line in lines
        if "rejected input" in line.get("msg", "")
    ]
    assert warned == [], "a separate rejected-input line (contract v1)"
