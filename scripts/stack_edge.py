#!/usr/bin/env python3
"""The per-client limits at the edge, shown with the real Traefik in front of a real service.

    scripts/stack_edge.py run [--cycles 14] [--without-limits] [--json FILE]

One release backend and the real Traefik with the repository's configs on loopback
(scripts/stack_live.py). Two clients, each its own process and its own loopback source
address, so that Traefik's limits (configs/traefik/dynamic.yml `api-rate-limit`,
`api-in-flight`, keyed on the source address) tell them apart:

- the flood (127.0.0.1): FLOOD_RATE requests/s over FLOOD_CONNECTIONS keep-alive
  connections, five times its rate limit, going on whatever the answers; at `nice 19`, since
  it stands for a client on another machine whose CPU is not the proxy's;
- the probe (127.0.0.2): PROBE_RATE requests/s, one at a time, its latency measured.

The probe alternates 3-second phases alone (the flood paused) and beside the flood, 14 cycles;
the verdict compares the p99 of all its requests beside the flood with the p99 of all its
requests alone. The fine interleaving gives both pools the same share of the shared machine's
noise (the neighbours' builds), so no single stall decides it. Then the concurrency limit:
the backend made slow (its fault file, 500 ms per request) and IN_FLIGHT_BURST requests
from a third address at once; those over the limit get 429 at once.

The report (JSON) carries every figure; `check(report)` lists what contradicts the claims
(tests/stack/test_edge.py asserts it is empty; `make check-edge` prints it). `--without-limits`
runs the same with the two middlewares taken off the routers, for comparison (docs/reliability.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_live import (  # noqa: E402
    LivePorts,
    Processes,
    find_tool,
    wait_http,
    write_live_configs,
)
from stack_model import BACKENDS, ROOT  # noqa: E402

RELEASE = ROOT / "target" / "release"
FLOOD_SOURCE, PROBE_SOURCE, BURST_SOURCE = "127.0.0.1", "127.0.0.2", "127.0.0.3"
# The flood: FLOOD_RATE requests/s over FLOOD_CONNECTIONS connections, five times its rate
# limit; paced so that the client's own CPU use stays bounded on a shared 2-core machine.
FLOOD_CONNECTIONS = 16
FLOOD_RATE = 1000
PROBE_RATE = 50
# The probe alternates: PHASE_SECONDS alone (the flood paused), PHASE_SECONDS beside it, for
# CYCLES cycles; the first SETTLE_SECONDS of a phase are not counted (the flood pausing or
# resuming).
CYCLES = 14
PHASE_SECONDS = 3.0
SETTLE_SECONDS = 0.25
# The probe's p99 beside the flood may be at most this many times its p99 alone.
MAX_P99_RATIO = 2.0
# The slow backend of the concurrency check, and how many requests arrive at once.
SLOW_MS = 500
IN_FLIGHT_BURST = 64
# The backend every request goes to: one that does not serve the stepper (no store needed).
BACKEND = next((b for b in BACKENDS if not b.stepper), BACKENDS[0])


# ---------------------------------------------------------------------------- clients


def connection(port: int, source: str) -> http.client.HTTPConnection:
    """A keep-alive connection to Traefik's web entrypoint from `source`."""
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, str | None]:
    """One GET on a kept-alive connection: the status and the Retry-After header."""
    status, retry, _ = get_with_body(conn, path)
    return status, retry


def get_with_body(conn: http.client.HTTPConnection, path: str) -> tuple[int, str | None, bytes]:
    """One GET on a kept-alive connection: the status, the Retry-After header and the body."""
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    return response.status, response.getheader("Retry-After"), body


# The body of Traefik's rate-limit 429 (pkg/middlewares/ratelimiter/rate_limiter.go); the
# in-flight limiter's (vulcand/oxy connlimit) names the connection limit instead.
RATE_LIMIT_BODY = b"Too Many Requests"


def refusal(retry: str | None, body: bytes) -> str:
    """A 429 by its limiter and Retry-After: "rate:<seconds>", "rate:none" or
    "in-flight:<seconds>"/"in-flight:none"."""
    limiter = "rate" if body.strip() == RATE_LIMIT_BODY else "in-flight"
    return f"{limiter}:{retry if retry is not None else 'none'}"


def probe(port: int, path: str, cycles: int, rate: float, pause_file: Path) -> dict:
    """GETs at `rate`/s, one at a time from PROBE_SOURCE, alternating phases alone (it
    creates `pause_file`, which pauses the flood) and beside the flood (it removes it): each
    counted request's latency by phase, and the statuses."""
    conn = connection(port, PROBE_SOURCE)
    latencies: dict[str, list[float]] = {"alone": [], "beside": []}
    per_cycle: list[dict[str, float]] = []
    statuses: dict[str, dict[int, int]] = {"alone": {}, "beside": {}}
    for _ in range(cycles):
        cycle = {}
        for phase in ("alone", "beside"):
            if phase == "alone":
                pause_file.touch()
            else:
                pause_file.unlink()
            start, sent, counted = time.monotonic(), 0, []
            while time.monotonic() - start < PHASE_SECONDS:
                # Paced on a fixed schedule: a slow answer does not shift the next slot.
                delay = start + sent / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent += 1
                began = time.perf_counter()
                status, _ = get(conn, path)
                elapsed = time.perf_counter() - began
                statuses[phase][status] = statuses[phase].get(status, 0) + 1
                if time.monotonic() - start >= SETTLE_SECONDS:
                    counted.append(elapsed)
            latencies[phase] += counted
            cycle[phase] = p99(counted) * 1000
        per_cycle.append(cycle)
    pause_file.touch()
    return {"latencies": latencies, "statuses": statuses, "cycles": per_cycle}


def flood(
    port: int, path: str, connections: int, stop_file: Path, pause_file: Path, started: Path
) -> dict:
    """`connections` threads sending GETs from FLOOD_SOURCE at FLOOD_RATE in all, except
    while `pause_file` exists, until `stop_file` exists: the statuses and the 429s by limiter
    and Retry-After (`refusal`). `started` is created once every thread runs."""
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    retry_after: dict[str, int] = {}
    stop = threading.Event()

    per_connection = FLOOD_RATE / connections

    def worker() -> None:
        conn = connection(port, FLOOD_SOURCE)
        start, sent = time.monotonic(), 0
        while not stop.is_set():
            if pause_file.exists():
                time.sleep(0.02)
                start, sent = time.monotonic(), 0
                continue
            delay = start + sent / per_connection - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent += 1
            try:
                status, retry, body = get_with_body(conn, path)
            except OSError:
                conn.close()
                conn = connection(port, FLOOD_SOURCE)
                continue
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 429:
                    key = refusal(retry, body)
                    retry_after[key] = retry_after.get(key, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    began = time.monotonic()
    for t in threads:
        t.start()
    started.touch()
    while not stop_file.exists():
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    return {
        "seconds": time.monotonic() - began,
        "statuses": statuses,
        "retry_after": retry_after,
    }


def burst(port: int, path: str, count: int) -> dict:
    """`count` GETs at once from BURST_SOURCE, each on its own connection: their statuses
    and the Retry-After values of the 429s."""
    barrier = threading.Barrier(count)
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def one() -> None:
        conn = connection(port, BURST_SOURCE)
        conn.connect()
        barrier.wait()
        status, retry, body = get_with_body(conn, path)
        with lock:
            results.append((status, refusal(retry, body) if status == 429 else None))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    statuses: dict[int, int] = {}
    retry_after: dict[str, int] = {}
    for status, key in results:
        statuses[status] = statuses.get(status, 0) + 1
        if key is not None:
            retry_after[key] = retry_after.get(key, 0) + 1
    return {"statuses": statuses, "retry_after": retry_after}


# ---------------------------------------------------------------------------- the stack


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)]


def child(command: str, *args: object) -> list[str]:
    """This script run as a client process."""
    return [sys.executable, str(Path(__file__).resolve()), command, *map(str, args)]


class EdgeStack:
    """The backend and Traefik on loopback, in a work directory of their own."""

    def __init__(self, work: Path, limits: bool) -> None:
        self.work = work
        self.ports = LivePorts.allocate()
        self.processes = Processes(work)
        self.fault_file = work / "faults.json"
        self.limits = limits

    @property
    def web(self) -> int:
        return self.ports.traefik_web

    def start(self) -> None:
        binary = RELEASE / BACKEND.binary
        if not binary.exists():
            raise SystemExit(f"{binary} missing: cargo build --release --bin {BACKEND.binary}")
        traefik = find_tool("traefik")
        if not traefik:
            raise SystemExit("traefik not found: scripts/install-stack-tools.sh")
        port = self.ports.backends[BACKEND.name]
        self.processes.start(
            BACKEND.name,
            [str(binary), "--host", "127.0.0.1", "--port", str(port)],
            {"MATHAPI_FAULT_FILE": str(self.fault_file), "RUST_LOG": "info,poem=warn"},
            cwd=self.work,
        )
        wait_http(f"http://127.0.0.1:{port}/ready", 30)
        write_live_configs(self.work, self.ports, edge_limits=self.limits)
        self.processes.start("traefik", [traefik, f"--configFile={self.work / 'traefik.yml'}"])
        wait_http(f"http://127.0.0.1:{self.ports.traefik_api}/ping", 30)
        wait_http(f"http://127.0.0.1:{self.web}{BACKEND.sample_path}", 30)

    def slow_down(self, ms: int) -> None:
        """Every API request of the backend takes `ms` more (its fault file, SIGHUP);
        returns once a request through Traefik shows it (polled, bounded)."""
        fault = {BACKEND.name: {"latency_ms": ms, "error_rate": 0.0}}
        tmp = self.fault_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(fault) + "\n")
        tmp.replace(self.fault_file)
        self.processes.running[BACKEND.name].send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        conn = connection(self.web, "127.0.0.4")
        while True:
            began = time.perf_counter()
            get(conn, BACKEND.sample_path)
            if time.perf_counter() - began >= ms / 1000:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"{BACKEND.name} did not apply its {ms} ms fault within 30 s")
            time.sleep(0.2)

    def stop(self) -> None:
        self.processes.stop()


def run_child(argv: list[str], work: Path, name: str) -> dict:
    """Runs a client process to its end: its JSON report."""
    out = work / f"{name}.json"
    subprocess.run([*argv, str(out)], check=True, timeout=300)
    return json.loads(out.read_text())


def compare(stack: EdgeStack, cycles: int) -> dict:
    """The flood (paused at first) and the probe, which alternates the phases."""
    path = BACKEND.sample_path
    stop_file, pause_file = stack.work / "stop", stack.work / "pause"
    started, flood_out = stack.work / "flood.started", stack.work / "flood.json"
    pause_file.touch()
    flooder = subprocess.Popen(
        child("flood", stack.web, path, FLOOD_CONNECTIONS, stop_file, pause_file, flood_out)
    )
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        probed = run_child(
            child("probe", stack.web, path, cycles, PROBE_RATE, pause_file), stack.work, "probe"
        )
    finally:
        stop_file.touch()
        code = flooder.wait(timeout=60)
    if code != 0:
        raise SystemExit(f"flood client failed ({code})")
    return {"probe": probed, "flood": json.loads(flood_out.read_text())}


def measure(work: Path, cycles: int, limits: bool) -> dict:
    """The comparison, then the concurrency check: the report."""
    stack = EdgeStack(work, limits)
    stack.start()
    try:
        compared = compare(stack, cycles)
        stack.slow_down(SLOW_MS)
        concurrent = burst(stack.web, BACKEND.sample_path, IN_FLIGHT_BURST)
    finally:
        stack.stop()
    latencies = compared["probe"]["latencies"]
    alone, beside = p99(latencies["alone"]) * 1000, p99(latencies["beside"]) * 1000
    return {
        "backend": BACKEND.name,
        "limits": limits,
        "cycles": compared["probe"]["cycles"],
        "probe_statuses": compared["probe"]["statuses"],
        "probe_requests_counted": {k: len(v) for k, v in latencies.items()},
        "alone_p99_ms": alone,
        "beside_p99_ms": beside,
        "p99_ratio": beside / alone,
        "flood": compared["flood"],
        "burst": concurrent,
    }


def check(report: dict) -> list[str]:
    """What in a report with the limits on contradicts the claims (empty: all hold)."""
    problems = []
    flooded = report["flood"]["statuses"]
    over = flooded.get("429", 0)
    if over <= flooded.get("200", 0):
        problems.append(f"the flood got {flooded}, mostly not 429")
    refusals = report["flood"]["retry_after"]
    rate = {k: n for k, n in refusals.items() if k.startswith("rate:")}
    if not rate or not all(k[5:].isdigit() and int(k[5:]) >= 1 for k in rate):
        problems.append(f"a rate-limit 429 without Retry-After >= 1: {refusals}")
    if sum(rate.values()) < 0.9 * over:
        problems.append(f"the flood's 429s are mostly not the rate limit's: {refusals}")
    for phase, statuses in report["probe_statuses"].items():
        if set(statuses) != {"200"}:
            problems.append(f"the probe got {statuses} ({phase})")
    if report["p99_ratio"] > MAX_P99_RATIO:
        problems.append(
            f"the probe's p99 beside the flood is {report['p99_ratio']:.2f}x its p99 alone "
            f"({report['beside_p99_ms']:.2f} / {report['alone_p99_ms']:.2f} ms), over "
            f"{MAX_P99_RATIO}x"
        )
    statuses = report["burst"]["statuses"]
    if not statuses.get("429") or not statuses.get("200"):
        problems.append(f"{IN_FLIGHT_BURST} slow requests at once got {statuses}")
    if set(report["burst"]["retry_after"]) - {"in-flight:none"}:
        problems.append(f"the burst's 429s: {report['burst']['retry_after']}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="the whole demonstration; exit 1 when a claim fails")
    r.add_argument("--cycles", type=int, default=CYCLES)
    r.add_argument("--without-limits", action="store_true")
    r.add_argument("--json", help="also write the report here")
    p = sub.add_parser("probe")
    for name in ("port", "path", "cycles", "rate", "pause_file", "out"):
        p.add_argument(name)
    f = sub.add_parser("flood")
    for name in ("port", "path", "connections", "stop_file", "pause_file", "out"):
        f.add_argument(name)
    args = parser.parse_args()

    if args.command == "flood":
        # The lowest CPU priority: the flood stands for a client on another machine, so its
        # own CPU use must not compete with what is measured (Traefik, the backend, the probe).
        os.nice(19)
    if args.command == "probe":
        result = probe(
            int(args.port), args.path, int(args.cycles), float(args.rate), Path(args.pause_file)
        )
        Path(args.out).write_text(json.dumps(result))
        return 0
    if args.command == "flood":
        out = Path(args.out)
        result = flood(
            int(args.port),
            args.path,
            int(args.connections),
            Path(args.stop_file),
            Path(args.pause_file),
            out.with_suffix(".started"),
        )
        out.write_text(json.dumps(result))
        return 0

    work = Path(tempfile.mkdtemp(prefix="mathapi-edge-"))
    try:
        report = measure(work, args.cycles, not args.without_limits)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = json.loads(json.dumps(report))  # status keys as JSON has them
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    summary = {k: v for k, v in report.items() if k != "cycles"}
    print(json.dumps(summary, indent=2))
    if args.without_limits:
        return 0
    problems = check(report)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
