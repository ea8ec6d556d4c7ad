"""`make demo-incident`: an incident on demand. Switches a fault on in one service (added
latency and a share of injected 500s, through its fault file and SIGHUP), waits until the
matching alert fires in Prometheus, prints where to look (the Grafana panel, the slow traces,
the Kibana search for the failing requests), switches the fault off and waits until the alert
resolves.

Two ways to run it:
  python scripts/stack_incident.py            the running Docker stack (`make demo` first):
                                              faults through target/demo-faults/ and
                                              `docker compose kill -s SIGHUP`
  python scripts/stack_incident.py --native   no Docker: starts the release services, Traefik
                                              and Prometheus natively on loopback with the
                                              repository's configs, with traffic, and runs the
                                              same incident (`make demo-incident-native`)

The live stack suite (tests/stack/test_incident.py) runs the native form and checks what it
shows. docs/stack.md explains the switch and the scenario.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stack_live import (
    LivePorts,
    Processes,
    find_tool,
    prometheus_url,
    start_traefik_and_prometheus,
    wait_http,
    write_live_configs,
)
from stack_model import BACKEND_NAMES, BACKENDS, ROOT
from stack_otlp import OtlpReceiver

# The alert the demonstration waits for, and the fault that fires it: a quarter of the
# service's API requests fail (the alert's threshold is 5% for 2 minutes) and every one of
# them is 400 ms late (above the 250 ms p95 target: MathapiLatencyAboveTarget follows after
# its 5 minutes if the fault is left on).
ALERT = "MathapiHighServerErrorRatio"
# The first backend that does not serve the sequence: a pure computation, no storage.
DEFAULT_SERVICE = next(b.name for b in BACKENDS if not b.stepper)
DEFAULT_LATENCY_MS = 400
DEFAULT_ERROR_RATE = 0.25
# Where the Docker stack's services read their fault files (docker-compose.yml mounts it).
COMPOSE_FAULTS_DIR = ROOT / "target" / "demo-faults"
RELEASE = ROOT / "target" / "release"


@dataclass(frozen=True)
class Fault:
    """Added latency and a share of injected errors for one service."""

    latency_ms: int
    error_rate: float

    def file_text(self, service: str) -> str:
        """The service's fault file (crates/faults/src/settings.rs)."""
        return (
            json.dumps({service: {"latency_ms": self.latency_ms, "error_rate": self.error_rate}})
            + "\n"
        )


def write_fault_file(path: Path, service: str, fault: Fault | None) -> None:
    """Writes (or, for no fault, removes) a fault file; replaced atomically, so a reload
    never reads half a file."""
    if fault is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".tmp")
    staged.write_text(fault.file_text(service))
    os.replace(staged, path)


class NativeSwitch:
    """Faults of services running as local processes: their files, then SIGHUP."""

    def __init__(self, files: dict[str, Path], pids: dict[str, int]) -> None:
        self.files, self.pids = files, pids

    def set(self, service: str, fault: Fault | None) -> None:
        write_fault_file(self.files[service], service, fault)
        os.kill(self.pids[service], signal.SIGHUP)


class ComposeSwitch:
    """Faults of the Docker stack's services: target/demo-faults/<service>.json (mounted
    read-only into each service), then `docker compose kill -s SIGHUP <service>`."""

    def __init__(self, compose: list[str]) -> None:
        self.compose = compose

    def set(self, service: str, fault: Fault | None) -> None:
        write_fault_file(COMPOSE_FAULTS_DIR / f"{service}.json", service, fault)
        subprocess.run(
            [*self.compose, "kill", "-s", "SIGHUP", service],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )


@dataclass
class Prometheus:
    """Prometheus' HTTP API (served under /prometheus, as in the stack)."""

    base: str
    auth: tuple[str, str] | None = None

    def get(self, path: str, **params: str) -> dict:
        url = f"{self.base}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url)
        if self.auth:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def alerts(self) -> list[dict]:
        """Every pending or firing alert."""
        return self.get("/api/v1/alerts")["data"]["alerts"]

    def alert_state(self, name: str, job: str) -> str | None:
        """`pending`, `firing`, or None for alert `name` of `job`."""
        for alert in self.alerts():
            if alert["labels"].get("alertname") == name and alert["labels"].get("job") == job:
                return alert["state"]
        return None

    def value(self, expr: str) -> float | None:
        """The first value of an instant query, None when it is empty."""
        result = self.get("/api/v1/query", query=expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else None


@dataclass
class Report:
    """What happened, seconds after the fault was switched on."""

    pending_after: float | None = None
    fired_after: float | None = None
    switched_off_after: float | None = None
    resolved_after: float | None = None
    # Every alert pending or firing when ALERT fired (labels and state).
    alerts_when_fired: list[dict] = field(default_factory=list)
    error_ratio_when_fired: float | None = None


def wait_until(condition: Callable[[], bool], seconds: float, what: str, poll: float = 2.0) -> None:
    """Polls `condition` until it holds; SystemExit naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo-incident: {what} did not happen within {seconds:.0f}s")
        time.sleep(poll)


def where_to_look(base: str, service: str, fault: Fault) -> str:
    """The places that show the incident, as the user reaches them through Traefik."""
    grafana = (
        f"{base}/grafana/d/mathapi-overview/mathapi-overview?var-backend={service}"
        f"&from=now-15m&to=now"
    )
    jaeger = (
        f"{base}/jaeger/search?service={service}&minDuration={fault.latency_ms}ms"
        f"&lookback=15m&limit=20"
    )
    kql = f'service.name : "{service}" and mathapi.fault : *'
    kibana = (
        f"{base}/kibana/app/discover#/?_g=(time:(from:now-15m,to:now))"
        f"&_a=(query:(language:kuery,query:'{urllib.parse.quote(kql)}'))"
    )
    return "\n".join(
        [
            "Where to look:",
            f"  Prometheus alerts   {base}/prometheus/alerts",
            f"  Grafana             {grafana}",
            "                      (panels 'Error ratio' and 'Latency: service view' of the",
            f"                      backend row for {service}; their data links open the traces)",
            f"  Slow traces         {jaeger}",
            f"  Kibana              {kibana}",
            f"                      (KQL: {kql}; `mathapi.reason : injected_fault` for the 500s)",
        ]
    )


def run_incident(
    switch: NativeSwitch | ComposeSwitch,
    prometheus: Prometheus,
    base: str,
    service: str,
    fault: Fault,
    hold: float = 0,
    fire_timeout: float = 420,
    resolve_timeout: float = 300,
    say: Callable[[str], None] = print,
) -> Report:
    """The scenario: fault on, alert fires, where to look, fault off, alert resolves."""
    report = Report()
    state = prometheus.alert_state(ALERT, service)
    if state is not None:
        raise SystemExit(
            f"demo-incident: {ALERT} for {service} is already {state}; wait until it resolves"
        )
    say(
        f"switching on: {service} answers {fault.error_rate:.0%} of its API requests with an "
        f"injected 500, every one {fault.latency_ms} ms late"
    )
    switch.set(service, fault)
    started = time.monotonic()
    try:

        def fired() -> bool:
            state = prometheus.alert_state(ALERT, service)
            if state == "pending" and report.pending_after is None:
                report.pending_after = time.monotonic() - started
                say(
                    f"  {ALERT} pending after {report.pending_after:.0f}s "
                    "(its `for: 2m` runs from here)"
                )
            return state == "firing"

        say(f"waiting (at most {fire_timeout:.0f}s) for {ALERT} to fire for job={service}")
        wait_until(fired, fire_timeout, f"{ALERT} firing for {service}")
        report.fired_after = time.monotonic() - started
        report.alerts_when_fired = [
            {**a["labels"], "state": a["state"]} for a in prometheus.alerts()
        ]
        report.error_ratio_when_fired = prometheus.value(
            f'job:http_server_server_errors:ratio_rate1m{{job="{service}"}}'
        )
        say(
            f"  {ALERT} FIRING after {report.fired_after:.0f}s "
            f"(error ratio {report.error_ratio_when_fired or 0:.0%})"
        )
        say(where_to_look(base, service, fault))
        if hold > 0:
            say(f"leaving the fault on for {hold:.0f}s more")
            time.sleep(hold)
    finally:
        say(f"switching off the fault in {service}")
        switch.set(service, None)
    report.switched_off_after = time.monotonic() - started
    say(f"waiting (at most {resolve_timeout:.0f}s) for {ALERT} to resolve")
    wait_until(
        lambda: prometheus.alert_state(ALERT, service) is None,
        resolve_timeout,
        f"{ALERT} resolving for {service}",
    )
    report.resolved_after = time.monotonic() - started
    say(
        f"  resolved {report.resolved_after - report.switched_off_after:.0f}s after the "
        "fault was switched off"
    )
    return report


# ------------------------------------------------------------------ the native stack


class NativeStack:
    """The release services (each with its fault file), Traefik and Prometheus with the
    repository's configs on loopback, mathapi-traffic through Traefik, and an OTLP receiver
    (scripts/stack_otlp.py) standing in for Jaeger: what the Docker stack runs, minus the
    containers. Every process is stopped on exit."""

    def __init__(self, work: Path, traffic_rate: int = 40) -> None:
        self.work, self.traffic_rate = work, traffic_rate
        self.ports = LivePorts.allocate()
        self.otlp = OtlpReceiver()
        self.processes = Processes(work)
        self.fault_files = {name: work / "faults" / f"{name}.json" for name in BACKEND_NAMES}

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.ports.traefik_web}"

    @property
    def prometheus(self) -> Prometheus:
        return Prometheus(prometheus_url(self.ports))

    def log(self, name: str) -> Path:
        return self.processes.log(name)

    def switch(self) -> NativeSwitch:
        return NativeSwitch(
            self.fault_files, {name: self.processes.running[name].pid for name in BACKEND_NAMES}
        )

    def __enter__(self) -> NativeStack:
        for binary in (*(b.binary for b in BACKENDS), "mathapi-traffic"):
            if not (RELEASE / binary).exists():
                raise SystemExit(f"{RELEASE / binary} missing: cargo build --release --bins")
        (self.work / "faults").mkdir(parents=True, exist_ok=True)
        self.otlp.start()
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_all(self) -> None:
        for b in BACKENDS:
            self.processes.start(
                b.name,
                [
                    str(RELEASE / b.binary),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.ports.backends[b.name]),
                ],
                {
                    "MATHAPI_FAULT_FILE": str(self.fault_files[b.name]),
                    "RUST_LOG": "info,poem=warn",
                    # As in compose: Traefik's sampled requests are traced, nothing else.
                    "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp.base_url,
                    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                    "OTEL_TRACES_SAMPLER_ARG": "0",
                },
                cwd=self.work,
            )
        for b in BACKENDS:
            wait_http(f"http://127.0.0.1:{self.ports.backends[b.name]}/ready", 30)
        write_live_configs(self.work, self.ports, otlp_endpoint=self.otlp.endpoint)
        start_traefik_and_prometheus(
            self.processes,
            required_tool("traefik"),
            required_tool("prometheus"),
            self.ports,
            ("admin", "admin"),
        )
        # Traefik's health checks must mark every backend up before it routes to them.
        for b in BACKENDS:
            wait_http(self.web + b.sample_path, 30)
        # Valid requests and some 4xx (which are not server errors), for as long as it runs.
        self.processes.start(
            "traffic",
            [
                str(RELEASE / "mathapi-traffic"),
                "--url",
                self.web,
                "--rate",
                str(self.traffic_rate),
                "--duration",
                "1h",
                "--concurrency",
                "8",
                "--error-share",
                "0.1",
                "--timeout",
                "15s",
                "--no-progress",
            ],
        )

    def stop(self) -> None:
        self.processes.stop(seconds=20)
        self.otlp.stop()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def required_tool(name: str) -> str:
    """A tool of scripts/install-stack-tools.sh, or SystemExit saying to install it."""
    found = find_tool(name)
    if not found:
        raise SystemExit(f"{name} not found: run scripts/install-stack-tools.sh")
    return found


# ------------------------------------------------------------------ command line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--native",
        action="store_true",
        help="run the stack natively (no Docker) and the incident in it",
    )
    parser.add_argument("--service", default=DEFAULT_SERVICE, choices=BACKEND_NAMES)
    parser.add_argument("--latency-ms", type=int, default=DEFAULT_LATENCY_MS)
    parser.add_argument("--error-rate", type=float, default=DEFAULT_ERROR_RATE)
    parser.add_argument(
        "--hold",
        type=float,
        default=None,
        help="seconds to leave the fault on after the alert fired "
        "(default 120 with Docker, 0 natively)",
    )
    parser.add_argument("--fire-timeout", type=float, default=420)
    parser.add_argument("--resolve-timeout", type=float, default=300)
    args = parser.parse_args()
    fault = Fault(args.latency_ms, args.error_rate)
    # A SIGTERM (Ctrl-C's sibling) must still switch the fault off and stop what was started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.native:
        return run_native(args, fault)
    return run_compose(args, fault)


def run_compose(args: argparse.Namespace, fault: Fault) -> int:
    compose = os.environ.get("COMPOSE", "docker compose").split()
    if subprocess.run([*compose, "version"], capture_output=True).returncode != 0:
        print(
            "demo-incident: needs the Docker stack (`make demo`); without Docker run "
            "`make demo-incident-native`",
            file=sys.stderr,
        )
        return 1
    base = os.environ.get("MATHAPI_PUBLIC_URL", "http://localhost:8000").rstrip("/")
    auth = (
        os.environ.get("MATHAPI_ADMIN_USER", "admin"),
        os.environ.get("MATHAPI_ADMIN_PASSWORD", "admin"),
    )
    traffic = subprocess.Popen(
        [
            *compose,
            "--profile",
            "tools",
            "run",
            "--rm",
            "traffic",
            "--url",
            "http://traefik:8000",
            "--duration",
            "20m",
            "--rate",
            "40",
            "--error-share",
            "0.1",
            "--no-progress",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        run_incident(
            ComposeSwitch(compose),
            Prometheus(f"{base}/prometheus", auth),
            base,
            args.service,
            fault,
            hold=120 if args.hold is None else args.hold,
            fire_timeout=args.fire_timeout,
            resolve_timeout=args.resolve_timeout,
        )
    finally:
        traffic.terminate()
        traffic.wait(timeout=30)
    return 0


def run_native(args: argparse.Namespace, fault: Fault) -> int:
    with tempfile.TemporaryDirectory(prefix="mathapi-incident-") as work:
        with NativeStack(Path(work)) as stack:
            print(f"native stack up: Traefik {stack.web}, Prometheus {stack.prometheus.base}")
            report = run_incident(
                stack.switch(),
                stack.prometheus,
                stack.web,
                args.service,
                fault,
                hold=args.hold or 0,
                fire_timeout=args.fire_timeout,
                resolve_timeout=args.resolve_timeout,
            )
            print(
                f"(natively there is no Grafana, Jaeger or Kibana: the service's log is "
                f"{stack.log(args.service)}, removed on exit)"
            )
    print(json.dumps(report.__dict__, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
