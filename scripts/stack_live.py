"""Running the stack's real components natively on loopback, for the live checks and `make
capacity`: free ports, the repository's Traefik and Prometheus configs pointed at 127.0.0.1
(Traefik's trace export at a local OTLP receiver, scripts/stack_otlp.py, or off), and HTTP
polling; the processes of a native stack (`Processes`, `start_traefik_and_prometheus`) and the
tools they run (`find_tool`). The live test suite (tests/stack/test_live.py), the incident demo
(scripts/stack_incident.py) and scripts/stack_capacity.py use it, so all run exactly the
repository's configs.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from stack_model import BACKEND_NAMES, EDGE_MIDDLEWARES, ROOT

TRAEFIK_STATIC = ROOT / "configs" / "traefik" / "traefik.yml"
TRAEFIK_DYNAMIC = ROOT / "configs" / "traefik" / "dynamic.yml"
PROMETHEUS_CONFIG = ROOT / "configs" / "prometheus" / "prometheus.yml"
# Where scripts/install-stack-tools.sh puts its tools.
TOOLS = Path(
    os.environ.get("MATHAPI_STACK_TOOLS", Path.home() / ".local/share/mathapi-stack-tools")
)


def find_tool(name: str) -> str | None:
    """Path of a tool: the stack tools' venvs first (scripts/install-stack-tools.sh), then
    PATH; None when it is nowhere."""
    for candidate in (TOOLS / "venv" / "bin" / name, TOOLS / "checkov-venv" / "bin" / name):
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def free_port() -> int:
    """A free loopback TCP port (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LivePorts:
    """Where each live component listens on 127.0.0.1."""

    backends: dict[str, int]
    prometheus: int
    traefik_web: int
    traefik_api: int
    traefik_metrics: int

    @classmethod
    def allocate(cls) -> LivePorts:
        """Free ports for every component."""
        return cls(
            {name: free_port() for name in BACKEND_NAMES},
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        )


def write_live_configs(
    out: Path,
    ports: LivePorts,
    scrape_interval: str = "1s",
    otlp_endpoint: str | None = None,
    access_log: bool = False,
    edge_limits: bool = True,
) -> None:
    """The repository's Prometheus and Traefik configs, with 127.0.0.1 addresses, in `out`:
    prometheus.yml, traefik.yml, dynamic.yml. Traefik exports its spans to `otlp_endpoint`
    (the full /v1/traces URL); without one its tracing is off (nothing would receive it).
    `access_log` adds a JSON access log of every request (with its `X-Request-Id`) on
    Traefik's stdout (the repository ships none), for checks that compare Traefik's metrics
    and traces with its own record of each request. `edge_limits=False` takes the
    per-client limits off the routers (for measurements whose load comes from one address).
    Everything else is the repository's."""
    prometheus = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    prometheus["global"].update(
        scrape_interval=scrape_interval,
        scrape_timeout=scrape_interval,
        evaluation_interval=scrape_interval,
    )
    prometheus["rule_files"] = [str(PROMETHEUS_CONFIG.parent / f) for f in prometheus["rule_files"]]
    targets = {"prometheus": ports.prometheus, "traefik": ports.traefik_metrics, **ports.backends}
    for job in prometheus["scrape_configs"]:
        # The address only: the target's labels (the backends' tier="api") stay.
        (static,) = job["static_configs"]
        static["targets"] = [f"127.0.0.1:{targets[job['job_name']]}"]
    (out / "prometheus.yml").write_text(yaml.safe_dump(prometheus, sort_keys=False))

    static = yaml.safe_load(TRAEFIK_STATIC.read_text())
    static["entryPoints"]["web"]["address"] = f"127.0.0.1:{ports.traefik_web}"
    static["entryPoints"]["traefik"]["address"] = f"127.0.0.1:{ports.traefik_api}"
    static["entryPoints"]["metrics"]["address"] = f"127.0.0.1:{ports.traefik_metrics}"
    static["providers"]["file"]["filename"] = str(out / "dynamic.yml")
    if otlp_endpoint:
        static["tracing"]["otlp"]["http"]["endpoint"] = otlp_endpoint
    else:
        del static["tracing"]
    if access_log:
        static["accessLog"] = {
            "format": "json",
            "fields": {"headers": {"defaultMode": "drop", "names": {"X-Request-Id": "keep"}}},
        }
    (out / "traefik.yml").write_text(yaml.safe_dump(static, sort_keys=False))

    dynamic = yaml.safe_load(TRAEFIK_DYNAMIC.read_text())
    services = dynamic["http"]["services"]
    for name, port in {**ports.backends, "prometheus": ports.prometheus}.items():
        services[name]["loadBalancer"]["servers"] = [{"url": f"http://127.0.0.1:{port}"}]
    if not edge_limits:
        for router in dynamic["http"]["routers"].values():
            kept = [m for m in router.pop("middlewares", []) if m not in EDGE_MIDDLEWARES]
            if kept:
                router["middlewares"] = kept
    (out / "dynamic.yml").write_text(yaml.safe_dump(dynamic, sort_keys=False))


def wait_http(url: str, seconds: float, auth: tuple[str, str] | None = None) -> None:
    """Polls `url` until it answers 2xx; SystemExit after `seconds`."""
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within {seconds}s") from None
            time.sleep(0.25)


class Processes:
    """Components run as local processes, each writing its stdout and stderr to
    `work/logs/<name>.log`."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.running: dict[str, subprocess.Popen] = {}
        (work / "logs").mkdir(parents=True, exist_ok=True)

    def log(self, name: str) -> Path:
        """Where a component's output goes."""
        return self.work / "logs" / f"{name}.log"

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        """Starts a component, its output in log(name)."""
        with self.log(name).open("wb") as out:
            self.running[name] = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env={**os.environ, **(env or {})},
            )

    def stop(self, names: list[str] | None = None, seconds: float = 40) -> dict[str, int | None]:
        """SIGTERM to `names` (default: all), then wait; the exit codes (None: killed after
        `seconds`)."""
        names = list(self.running) if names is None else names
        for name in names:
            if self.running[name].poll() is None:
                self.running[name].send_signal(signal.SIGTERM)
        codes = {}
        for name in names:
            try:
                codes[name] = self.running[name].wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.running[name].kill()
                self.running[name].wait()
                codes[name] = None
        return codes


def prometheus_url(ports: LivePorts) -> str:
    """Prometheus' base URL (served under /prometheus, as in compose)."""
    return f"http://127.0.0.1:{ports.prometheus}/prometheus"


def start_traefik_and_prometheus(
    processes: Processes, traefik: str, prometheus: str, ports: LivePorts, admin: tuple[str, str]
) -> None:
    """Traefik (`admin`: the admin-auth user and password) and Prometheus with the configs
    write_live_configs wrote into `processes.work`; returns once both answer."""
    work = processes.work
    (work / "prometheus").mkdir(exist_ok=True)
    processes.start(
        "traefik",
        [traefik, f"--configFile={work / 'traefik.yml'}"],
        {"MATHAPI_ADMIN_USER": admin[0], "MATHAPI_ADMIN_PASSWORD": admin[1]},
    )
    processes.start(
        "prometheus",
        [
            prometheus,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'prometheus'}",
            f"--web.listen-address=127.0.0.1:{ports.prometheus}",
            "--web.route-prefix=/prometheus",
            f"--web.external-url={prometheus_url(ports)}/",
        ],
    )
    wait_http(f"http://127.0.0.1:{ports.traefik_api}/ping", 30)
    wait_http(f"{prometheus_url(ports)}/-/ready", 30)
