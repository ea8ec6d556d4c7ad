#!/usr/bin/env python3
"""Generates the backend parts of the compose stack's files from configs/functions.json.

    scripts/stack_wiring.py            # (re)write the marked blocks below
    scripts/stack_wiring.py --check    # fail if a block differs from what this script makes

Each file stays one hand-written file that its consumer reads as before; only the block
between a `# BEGIN <block>` and a `# END <block>` line is generated, one entry per backend
(scripts/stack_model.py, read from configs/functions.json):

- docker-compose.yml, "backend services": one service per backend (its binary as `command`,
  MATHAPI_PORT, its fault file, a health check on its /health; the backend that serves the
  sequence also gets Redis);
- configs/traefik/dynamic.yml, "backend routers": the front page (`/` and its two files, to the
  backend that serves the sequence) and one router per backend for its path prefix;
  "backend services": one load-balanced service per backend with a /health check;
- configs/prometheus/prometheus.yml, "backend scrape jobs": one job per backend, named after it,
  its target labelled tier="api" (the alert rules select the backends by that label).

Everything outside the blocks (the shared settings, Redis, Traefik's admin tools, the other
scrape jobs) is edited by hand as usual. `make generate` runs every generator; `make
check-stack` runs the --check mode (tests/stack/test_compose.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_model import (  # noqa: E402
    API_TARGET_LABEL,
    BACKENDS,
    EDGE_MIDDLEWARES,
    GENERATED_MARK,
    HEALTH_PATH,
    ROOT,
    SEQUENCE,
    write_or_check,
)

SCRIPT = "scripts/stack_wiring.py"
MARK = GENERATED_MARK.format(script=SCRIPT)
COMPOSE = ROOT / "docker-compose.yml"
TRAEFIK_DYNAMIC = ROOT / "configs" / "traefik" / "dynamic.yml"
PROMETHEUS_CONFIG = ROOT / "configs" / "prometheus" / "prometheus.yml"

# The front page's paths (crates/frontpage): served by the backend that serves the sequence.
FRONT_PAGE_PATHS = ("/", "/assets/style.css", "/assets/app.js")
# The sequence stepper's Redis in compose (its password has a local default).
REDIS_URL = "redis://:${MATHAPI_REDIS_PASSWORD:-mathapi-local}@redis:6379"


# ------------------------------------------------------------------ the blocks


def compose_services() -> list[str]:
    """docker-compose.yml: one service per backend, on the shared x-service settings."""
    lines: list[str] = []
    for b in BACKENDS:
        health = f"http://127.0.0.1:{b.port}{HEALTH_PATH}"
        lines += [
            *([""] if lines else []),
            f"{b.name}:",
            "  <<: *service",
            f'  command: ["{b.binary}"]',
            "  environment:",
            "    <<: *service-env",
            f'    MATHAPI_PORT: "{b.port}"',
            f"    MATHAPI_FAULT_FILE: /etc/mathapi/faults/{b.name}.json",
        ]
        if b.stepper:
            lines += [
                "    MATHAPI_SEQUENCE_BACKEND: redis",
                f"    MATHAPI_REDIS_URL: {REDIS_URL}",
                "  depends_on:",
                "    redis:",
                "      condition: service_healthy",
            ]
        lines += [
            "  healthcheck:",
            "    <<: *healthcheck",
            f'    test: ["CMD", "curl", "-fsS", "--max-time", "2", "-o", "/dev/null", "{health}"]',
        ]
    return lines


def path_rule(prefix: str) -> str:
    """The Traefik rule of a path prefix: the prefix itself and everything under it, whole
    segments only (not /fibonacciX)."""
    return f"Path(`{prefix}`) || PathPrefix(`{prefix}/`)"


def traefik_routers() -> list[str]:
    """dynamic.yml: the front page's router, then one router per backend (no prefix is
    stripped: the services serve their full paths), each behind the per-client limits."""
    limits = ", ".join(EDGE_MIDDLEWARES)
    front_page = " || ".join(f"Path(`{path}`)" for path in FRONT_PAGE_PATHS)
    lines = [
        f"# The front page and its two files, served by {SEQUENCE.name} (it serves the sequence).",
        "frontpage:",
        "  entryPoints: [web]",
        f'  rule: "{front_page}"',
        f"  middlewares: [{limits}]",
        f"  service: {SEQUENCE.name}",
    ]
    for b in BACKENDS:
        lines += [
            f"{b.name}:",
            "  entryPoints: [web]",
            f'  rule: "{path_rule(b.prefix)}"',
            f"  middlewares: [{limits}]",
            f"  service: {b.name}",
        ]
    return lines


def traefik_services() -> list[str]:
    """dynamic.yml: one load-balanced service per backend, health-checked on /health."""
    lines: list[str] = []
    for b in BACKENDS:
        lines += [
            f"{b.name}:",
            "  loadBalancer:",
            "    servers:",
            f'      - url: "http://{b.name}:{b.port}"',
            "    healthCheck:",
            f"      path: {HEALTH_PATH}",
            "      interval: 5s",
            "      timeout: 2s",
        ]
    return lines


def prometheus_jobs() -> list[str]:
    """prometheus.yml: one scrape job per backend, its target labelled as an API."""
    name, value = API_TARGET_LABEL
    lines: list[str] = []
    for b in BACKENDS:
        lines += [
            *([""] if lines else []),
            f"- job_name: {b.name}",
            "  static_configs:",
            f'    - targets: ["{b.name}:{b.port}"]',
            "      labels:",
            f"        {name}: {value}",
        ]
    return lines


# Each file's blocks, by the name on their BEGIN/END lines.
BLOCKS: dict[Path, dict[str, Callable[[], list[str]]]] = {
    COMPOSE: {"backend services": compose_services},
    TRAEFIK_DYNAMIC: {"backend routers": traefik_routers, "backend services": traefik_services},
    PROMETHEUS_CONFIG: {"backend scrape jobs": prometheus_jobs},
}


# ------------------------------------------------------------------ filling the blocks


def fill(text: str, block: str, lines: list[str], where: Path) -> str:
    """`text` with the lines between `# BEGIN block` and `# END block` replaced by the mark
    and `lines`, indented as the BEGIN line is."""
    source = text.splitlines(keepends=True)
    begins = [i for i, line in enumerate(source) if line.strip() == f"# BEGIN {block}"]
    ends = [i for i, line in enumerate(source) if line.strip() == f"# END {block}"]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise SystemExit(
            f"{where.relative_to(ROOT)}: needs exactly one '# BEGIN {block}' line and one "
            f"'# END {block}' line after it"
        )
    begin, end = begins[0], ends[0]
    indent = source[begin][: len(source[begin]) - len(source[begin].lstrip())]
    body = [f"{indent}{line}\n" if line else "\n" for line in [f"# {MARK}", *lines]]
    return "".join(source[: begin + 1] + body + source[end:])


def render() -> dict[Path, str]:
    """Every file with its blocks filled (the rest as committed)."""
    files = {}
    for path, blocks in BLOCKS.items():
        text = path.read_text()
        for block, make in blocks.items():
            text = fill(text, block, make(), path)
        files[path] = text
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a committed file differs from the generated one",
    )
    args = parser.parse_args()
    return write_or_check(render(), args.check, SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
