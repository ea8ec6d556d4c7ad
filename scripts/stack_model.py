#!/usr/bin/env python3
"""The one list of the stack's backends, ports and paths, read from configs/functions.json.

configs/functions.json is written by the Rust side (`mathapi functions --json`): every
function with its binary, port, route, sample path and parameters, and the one whose binary also
serves the durable sequence stepper. Everything on the stack side that names a backend, its port
or one of its paths reads it from here: the generators (scripts/stack_wiring.py: compose,
Traefik, Prometheus; scripts/stack_dashboards.py; scripts/stack_k8s.py), the live and capacity
scripts and the stack test suite (tests/stack/). Adding a function needs no edit here
(docs/adding-a-function.md).

Shell scripts read the list through the command line:

    python3 scripts/stack_model.py names       # one function name a line
    python3 scripts/stack_model.py binaries    # one binary a line
    python3 scripts/stack_model.py ports       # "name port" a line
    python3 scripts/stack_model.py backends    # "name binary port sample_path" a line
    python3 scripts/stack_model.py caps        # "name binary --flag hard_max ..." a line
    python3 scripts/stack_model.py sequence    # the function that serves the sequence stepper

e.g. `while read -r name binary port path; do ...; done < <(python3 scripts/stack_model.py
backends)`, or `mapfile -t binaries < <(python3 scripts/stack_model.py binaries)`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_FILE = ROOT / "configs" / "functions.json"


@dataclass(frozen=True)
class Param:
    """One bounded path parameter of a function, and how its bound is set."""

    name: str
    default_max: int
    hard_max: int
    # The command-line flag and the environment variable that set the bound.
    flag: str
    env: str


@dataclass(frozen=True)
class Backend:
    """One math service: its binary, its port and the path prefix Traefik routes to it."""

    name: str
    port: int
    # A path that answers 200 with a computed result, used by probes of the live checks.
    sample_path: str
    # True for the service that also serves the sequence stepper (needs storage).
    stepper: bool = False
    # The executable of the image that serves it (compose's and Kubernetes' `command`).
    binary: str = ""
    # The route template of its computation, e.g. /ackermann/{m}/{n}/.
    route: str = ""
    params: tuple[Param, ...] = ()

    @property
    def prefix(self) -> str:
        """The path prefix of every route of the service (never stripped by Traefik)."""
        return f"/{self.name}"

    def path_with(self, value: int | str) -> str:
        """The computation's route with every parameter set to `value`."""
        path = self.route
        for p in self.params:
            path = path.replace(f"{{{p.name}}}", str(value))
        return path


def load_backends(path: Path = FUNCTIONS_FILE) -> tuple[Backend, ...]:
    """The backends of a functions file, in its order."""
    data = json.loads(path.read_text())
    return tuple(
        Backend(
            name=f["name"],
            port=int(f["port"]),
            sample_path=f["sample_path"],
            stepper=f["name"] == data["sequence"],
            binary=f["binary"],
            route=f["route"],
            params=tuple(
                Param(p["name"], int(p["default_max"]), int(p["hard_max"]), p["flag"], p["env"])
                for p in f["params"]
            ),
        )
        for f in data["functions"]
    )


BACKENDS: tuple[Backend, ...] = load_backends()
BACKEND_NAMES: tuple[str, ...] = tuple(b.name for b in BACKENDS)
# The backend whose binary also serves the sequence stepper (storage, Redis) and the front page.
SEQUENCE: Backend = next(b for b in BACKENDS if b.stepper)

# Served by every backend on its API port (no separate metrics port).
HEALTH_PATH = "/health"
READY_PATH = "/ready"
METRICS_PATH = "/metrics"

# Admin tools behind Traefik's admin-auth middleware (configs/traefik/dynamic.yml).
ADMIN_PREFIXES: tuple[str, ...] = ("/grafana", "/kibana", "/prometheus", "/jaeger")

# Log/metric contract v2: the services' http_server_request_duration_seconds and Traefik's
# request histograms share these boundaries (seconds).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)

# The Prometheus job name of Traefik (rules and dashboards select on it).
TRAEFIK_JOB = "traefik"

# The per-client limits of the public API routers, in this order (their settings are
# configs/traefik/dynamic.yml's middlewares of these names; Kubernetes gets the same ones).
EDGE_MIDDLEWARES = ("api-rate-limit", "api-in-flight")

# The target label every scrape of a backend carries (compose's scrape jobs, Kubernetes'
# ServiceMonitor): the alert rules select the backends by it instead of listing them.
API_TARGET_LABEL: tuple[str, str] = ("tier", "api")

# Marks every file a generator writes; the suite checks that each generated file carries it.
GENERATED_MARK = "GENERATED by {script}; do not edit by hand (edit the generator or its inputs)"


def write_or_check(files: dict[Path, str], check: bool, generator: str) -> int:
    """Writes a generator's files, or with `check` only compares them with the committed
    ones: 1 (and the stale paths on stderr) when any differs or is missing."""
    stale = []
    for path, text in files.items():
        rel = path.relative_to(ROOT)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(rel))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {rel}")
    if stale:
        print(f"out of date (run {generator}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


def backend(name: str) -> Backend:
    """The backend called `name` (KeyError when there is none)."""
    for b in BACKENDS:
        if b.name == name:
            return b
    raise KeyError(name)


# The command line: what shell scripts loop over.
LISTS = {
    "names": lambda b: b.name,
    "binaries": lambda b: b.binary,
    "ports": lambda b: f"{b.name} {b.port}",
    "backends": lambda b: f"{b.name} {b.binary} {b.port} {b.sample_path}",
    "caps": lambda b: " ".join([b.name, b.binary, *(f"{p.flag} {p.hard_max}" for p in b.params)]),
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in (*LISTS, "sequence"):
        print(f"usage: stack_model.py {{{'|'.join((*LISTS, 'sequence'))}}}", file=sys.stderr)
        return 2
    if argv[0] == "sequence":
        print(SEQUENCE.name)
    else:
        print("\n".join(map(LISTS[argv[0]], BACKENDS)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
