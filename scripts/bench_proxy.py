"""`make bench-proxy`: what Traefik costs per request with the repository's configuration,
against Traefik's minimal configuration, side by side in one run.

Every variant is a real Traefik (GOMAXPROCS=1) pinned to core 0, in front of the bare poem
handler (`bench-hello`, which answers every path) on core 1, loaded by `wrk` on core 1. The
figure is requests per Traefik CPU-second (its utime + stime while wrk runs), so that what
runs on the other core does not count. The variants take turns, round after round, and each
round's ratio is against the minimal configuration measured in that round; the result is the
median of the rounds' ratios.

Variants:
- minimal: one entrypoint, the file provider, one router to one server; nothing else.
- metrics: minimal plus the repository's `metrics` section (and its entrypoint).
- every-request-log: the repository's configuration plus a JSON access-log line for every
  request, unbuffered (what the repository shipped first).
- filtered-log: the repository's configuration plus the access log it shipped next: JSON, only
  429, 502-504 and requests over 250 ms, through a 1,024-line buffer.
- repository: `configs/traefik/traefik.yml` and `dynamic.yml` as they are (the admin services'
  addresses and the listening ports aside). Tracing is left out of every variant: without a
  receiver it would measure failed exports; the services' and Traefik's tracing costs are in
  docs/performance.md. Per-client limits (rateLimit, inFlightReq) stay in the chain with their
  thresholds raised out of reach, so that one load generator measures their cost, not their
  refusals.

Usage: bench_proxy.py [--seconds 8] [--rounds 3] [--connections 64] [--out DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_capacity import RELEASE, TOOLS, loaded, server  # noqa: E402
from stack_live import LivePorts, free_port, wait_http, write_live_configs  # noqa: E402
from stack_model import BACKENDS  # noqa: E402

GOAL = 0.75
# A threshold no single load generator reaches: the middleware runs, never refuses.
OUT_OF_REACH = 1_000_000_000


def minimal_configs(work: Path, web: int, api: int, backend: int) -> Path:
    """Traefik's minimal configuration: one entrypoint, one router, one server."""
    dynamic = {
        "http": {
            "routers": {"all": {"entryPoints": ["web"], "rule": "PathPrefix(`/`)", "service": "b"}},
            "services": {
                "b": {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{backend}"}]}}
            },
        }
    }
    static = {
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{web}"},
            "traefik": {"address": f"127.0.0.1:{api}"},
        },
        "ping": {"entryPoint": "traefik"},
        "providers": {"file": {"filename": str(work / "dynamic.yml")}},
    }
    return write(work, static, dynamic)


def repository_configs(work: Path, ports: LivePorts, backend: int) -> tuple[dict, dict]:
    """The repository's static and dynamic configuration, every backend at `backend`."""
    work.mkdir(parents=True, exist_ok=True)
    write_live_configs(work, ports)
    static = yaml.safe_load((work / "traefik.yml").read_text())
    dynamic = yaml.safe_load((work / "dynamic.yml").read_text())
    for name in ports.backends:
        dynamic["http"]["services"][name]["loadBalancer"]["servers"] = [
            {"url": f"http://127.0.0.1:{backend}"}
        ]
    for middleware in dynamic["http"].get("middlewares", {}).values():
        if "rateLimit" in middleware:
            middleware["rateLimit"].update(average=OUT_OF_REACH, burst=OUT_OF_REACH)
        if "inFlightReq" in middleware:
            middleware["inFlightReq"]["amount"] = OUT_OF_REACH
    return static, dynamic


def write(work: Path, static: dict, dynamic: dict) -> Path:
    """Writes traefik.yml and dynamic.yml into `work`; the static file's path."""
    work.mkdir(parents=True, exist_ok=True)
    static["providers"]["file"]["filename"] = str(work / "dynamic.yml")
    (work / "dynamic.yml").write_text(yaml.safe_dump(dynamic, sort_keys=False))
    (work / "traefik.yml").write_text(yaml.safe_dump(static, sort_keys=False))
    return work / "traefik.yml"


# The access logs the repository shipped before it shipped none, measured beside it.
ACCESS_LOGS = {
    "every-request-log": {"format": "json"},
    "filtered-log": {
        "format": "json",
        "bufferingSize": 1024,
        "filters": {"statusCodes": ["429", "502-504"], "minDuration": "250ms"},
        "fields": {
            "headers": {
                "defaultMode": "drop",
                "names": {"X-Request-Id": "keep", "User-Agent": "keep"},
            }
        },
    },
}


def variants(root: Path, backend: int) -> dict[str, tuple[Path, int, int]]:
    """Each variant's static config file, web port and ping port."""
    out = {}
    web, api = free_port(), free_port()
    out["minimal"] = (minimal_configs(root / "minimal", web, api, backend), web, api)

    ports = LivePorts.allocate()
    static, dynamic = repository_configs(root / "repository", ports, backend)
    out["repository"] = (
        write(root / "repository", static, dynamic),
        ports.traefik_web,
        ports.traefik_api,
    )

    for name, access_log in ACCESS_LOGS.items():
        ports = LivePorts.allocate()
        static, dynamic = repository_configs(root / name, ports, backend)
        static["accessLog"] = copy.deepcopy(access_log)
        out[name] = (write(root / name, static, dynamic), ports.traefik_web, ports.traefik_api)

    web, api, metrics = free_port(), free_port(), free_port()
    minimal = yaml.safe_load((root / "minimal" / "traefik.yml").read_text())
    minimal["entryPoints"]["web"]["address"] = f"127.0.0.1:{web}"
    minimal["entryPoints"]["traefik"]["address"] = f"127.0.0.1:{api}"
    minimal["entryPoints"]["metrics"] = {"address": f"127.0.0.1:{metrics}"}
    minimal["metrics"] = copy.deepcopy(static["metrics"])
    dynamic = yaml.safe_load((root / "minimal" / "dynamic.yml").read_text())
    out["metrics"] = (write(root / "metrics", minimal, dynamic), web, api)
    return out


def measure(seconds: int, rounds: int, connections: int, work: Path) -> dict:
    """Every variant, `rounds` times in turn; per round, each variant's requests per Traefik
    CPU-second and its ratio to the minimal configuration's."""
    traefik = str(TOOLS / "venv/bin/traefik")
    backend = free_port()
    path = BACKENDS[0].sample_path
    results: dict[str, list[dict]] = {}
    with server([str(RELEASE / "bench-hello"), "--port", str(backend)], work / "hello.log", core=1):
        wait_http(f"http://127.0.0.1:{backend}/hello", 30)
        configs = variants(work, backend)
        for round_ in range(rounds):
            for name, (config, web, api) in configs.items():
                log = work / f"{name}-{round_}.log"
                argv = [traefik, f"--configFile={config}"]
                with server(argv, log, env={"GOMAXPROCS": "1"}, core=0) as proc:
                    wait_http(f"http://127.0.0.1:{api}/ping", 30)
                    url = f"http://127.0.0.1:{web}{path}"
                    wait_http(url, 30)
                    loaded(proc, url, 1, connections)  # warm-up: connections, pools, JIT-free Go
                    r = loaded(proc, url, seconds, connections)
                results.setdefault(name, []).append(r)
                rate = r["per_cpu_second"]
                print(f"round {round_ + 1} {name}: {rate:,.0f} per CPU-second", flush=True)
    return summarise(results)


def summarise(results: dict[str, list[dict]]) -> dict:
    """Median per-CPU-second figures and median per-round ratios to `minimal`."""
    minimal = results["minimal"]
    summary = {}
    for name, runs in results.items():
        ratios = [
            r["per_cpu_second"] / m["per_cpu_second"] for r, m in zip(runs, minimal, strict=True)
        ]
        summary[name] = {
            "per_cpu_second": statistics.median(r["per_cpu_second"] for r in runs),
            "ratio_to_minimal": statistics.median(ratios),
            "ratios": ratios,
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        }
    return summary


def table(summary: dict) -> str:
    """The result as a Markdown table."""
    lines = [
        "| Traefik configuration | requests per Traefik CPU-second (median) "
        "| × minimal (median of rounds) | rounds |",
        "|---|---:|---:|---|",
    ]
    for name, s in summary.items():
        rounds = ", ".join(f"{r:.2f}" for r in s["ratios"])
        lines.append(
            f"| {name} | {s['per_cpu_second']:,.0f} | {s['ratio_to_minimal']:.2f}× | {rounds} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("target/bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        summary = measure(args.seconds, args.rounds, args.connections, Path(tmp))
    (args.out / "proxy.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = table(summary)
    (args.out / "proxy.md").write_text(text + "\n")
    print(text)
    ratio = summary["repository"]["ratio_to_minimal"]
    verdict = "meets" if ratio >= GOAL else "misses"
    print(f"repository configuration: {ratio:.2f}× minimal, {verdict} the {GOAL}× goal")


if __name__ == "__main__":
    main()
