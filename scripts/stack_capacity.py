#!/usr/bin/env python3
"""The capacity model of docs/scaling.md: measure its inputs here, then compute its table.

  stack_capacity.py measure --out docs/scaling-inputs.json   (scripts/capacity.sh runs it)
  stack_capacity.py table   --inputs docs/scaling-inputs.json --doc docs/scaling.md

measure: the release binaries, the real Traefik (repository configs: metrics, no access log) and
a real Redis (AOF, appendfsync always, password) on this machine, loopback only. Every server is
pinned to core 0 and the load (wrk) to core 1 with taskset; every figure is taken per CPU
second the server process actually used (utime + stime from /proc), so a server that was not
saturated still yields its per-core cost. A bare poem handler (bench-hello) runs in the same
run for the ratio, which is what stays comparable on a shared machine.

table: pods, Traefik replicas, log ingest and Prometheus series for 1k..1M requests/s from
those inputs, and what gives first at each step; written between the markers of the doc.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_live import LivePorts, free_port, wait_http, write_live_configs  # noqa: E402
from stack_model import BACKENDS, ROOT, SEQUENCE  # noqa: E402

RELEASE = ROOT / "target" / "release"
TOOLS = Path(
    os.environ.get("MATHAPI_STACK_TOOLS", Path.home() / ".local/share/mathapi-stack-tools")
)
CLK_TCK = os.sysconf("SC_CLK_TCK")
TABLE_BEGIN = "<!-- capacity-table:begin (scripts/stack_capacity.py table) -->"
TABLE_END = "<!-- capacity-table:end -->"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@contextmanager
def server(argv: list[str], log: Path, env: dict[str, str] | None = None, core: int = 0):
    """A server pinned to `core`, stdout+stderr to `log`; stopped on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", str(core), *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    """wrk on core 1: requests, non-2xx, requests/s, p99 ms."""
    argv = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        argv += ["-s", str(script)]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", out, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p99_ms": float(p99.group(1)) * scale,
    }


def loaded(
    proc: subprocess.Popen, url: str, seconds: int, connections: int, script: Path | None = None
) -> dict:
    """wrk against `url`, with the CPU seconds `proc` spent meanwhile."""
    before = cpu_seconds(proc.pid)
    result = wrk(url, seconds, connections, script)
    result["server_cpu_s"] = cpu_seconds(proc.pid) - before
    ok = result["requests"] - result["non_2xx"]
    result["per_cpu_second"] = ok / result["server_cpu_s"] if result["server_cpu_s"] else 0.0
    return result


def series(url: str) -> int:
    """Samples (series) on a /metrics page: the lines that are not comments."""
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def varied_requests(port: int, prefix: str, sample_path: str) -> None:
    """The kinds of request a pod meets (valid, invalid, out of range, unmatched, docs), so
    that the series count covers the label combinations production creates."""
    for path in (
        sample_path,
        f"{prefix}/abc/",
        f"{prefix}/99999999/",
        f"{prefix}/-1/",
        f"{prefix}/docs",
        f"{prefix}/openapi.json",
        "/nope",
        "/health",
        "/ready",
    ):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).close()
        except OSError:
            pass  # 4xx answers are the point


def measure_backends(work: Path, seconds: int, connections: int) -> dict:
    """Each backend alone on core 0 at info logging to a file."""
    results = {}
    for b in BACKENDS:
        port = free_port()
        log = work / f"{b.name}.log"
        argv = [
            str(RELEASE / b.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info,poem=warn",
        ]
        if b.stepper:
            argv += ["--sequence-data-dir", str(work / "data")]
        with server(argv, log) as proc:
            wait_http(f"http://127.0.0.1:{port}/ready", 30)
            log_start = log.stat().st_size
            lines_start = log.read_bytes().count(b"\n")
            r = loaded(proc, f"http://127.0.0.1:{port}{b.sample_path}", seconds, connections)
            r["log_bytes_per_request"] = (log.stat().st_size - log_start) / r["requests"]
            lines = log.read_bytes().count(b"\n") - lines_start
            r["log_lines_per_request"] = lines / r["requests"]
            varied_requests(port, b.prefix, b.sample_path)
            r["series_per_pod"] = series(f"http://127.0.0.1:{port}/metrics")
            r["path"] = b.sample_path
        results[b.name] = r
    return results


def measure_hello(work: Path, seconds: int, connections: int) -> dict:
    """The bare poem handler on core 0: the machine's yardstick in this run."""
    port = free_port()
    with server([str(RELEASE / "bench-hello"), "--port", str(port)], work / "hello.log") as proc:
        wait_http(f"http://127.0.0.1:{port}/hello", 30)
        return loaded(proc, f"http://127.0.0.1:{port}/hello", seconds, connections)


def measure_traefik(work: Path, seconds: int, connections: int) -> dict:
    """Traefik (GOMAXPROCS=1) on core 0 in front of the backend that serves the sequence (its
    store in the work directory) on core 1; the repository's configuration (no access log)."""
    b = SEQUENCE
    ports = LivePorts.allocate()
    port, web, api, metrics = (
        ports.backends[b.name],
        ports.traefik_web,
        ports.traefik_api,
        ports.traefik_metrics,
    )
    # The load comes from one address: without the per-client limits (docs/stack.md).
    write_live_configs(work, ports, edge_limits=False)
    traefik = shutil.which("traefik") or str(TOOLS / "venv/bin/traefik")
    backend_argv = [
        str(RELEASE / b.binary),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--sequence-data-dir",
        str(work / "data-t"),
    ]
    with (
        server(backend_argv, work / "traefik-backend.log", core=1),
        server(
            [traefik, f"--configFile={work / 'traefik.yml'}"],
            work / "traefik.log",
            env={"GOMAXPROCS": "1"},
        ) as proc,
    ):
        wait_http(f"http://127.0.0.1:{api}/ping", 30)
        wait_http(f"http://127.0.0.1:{web}{b.sample_path}", 30)
        r = loaded(proc, f"http://127.0.0.1:{web}{b.sample_path}", seconds, connections)
        r["series_per_pod"] = series(f"http://127.0.0.1:{metrics}/metrics")
    return r


def measure_stepper(work: Path, seconds: int, connections: int) -> dict:
    """POST {prefix}/next of the backend that serves the sequence on a real Redis (AOF always,
    password): that backend on core 0, Redis and the load on core 1; steps/s and Redis CPU per
    step."""
    redis_port, port = free_port(), free_port()
    password = "capacity-run"
    (work / "redis").mkdir()
    script = work / "next.lua"
    script.write_text('wrk.method = "POST"\n')
    redis_argv = [
        "redis-server",
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
    ]
    stepper_argv = [
        str(RELEASE / SEQUENCE.binary),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--sequence-backend",
        "redis",
        "--sequence-max-index",
        "100000",
        "--redis-url",
        f"redis://:{password}@127.0.0.1:{redis_port}",
    ]
    with (
        server(redis_argv, work / "redis.log", core=1) as redis,
        server(stepper_argv, work / "stepper.log") as stepper,
    ):
        wait_http(f"http://127.0.0.1:{port}/ready", 30)
        before = cpu_seconds(redis.pid)
        url = f"http://127.0.0.1:{port}{SEQUENCE.prefix}/next"
        r = loaded(stepper, url, seconds, connections, script)
        r["redis_cpu_s"] = cpu_seconds(redis.pid) - before
        steps = r["requests"] - r["non_2xx"]
        r["steps_per_s"] = steps / seconds
        r["redis_cpu_per_step_us"] = r["redis_cpu_s"] / steps * 1e6 if steps else 0.0
    return r


def measure_fsync(work: Path, count: int = 200) -> dict:
    """Append-and-fsync latency of the disk the Redis AOF sits on: what `appendfsync always`
    waits for on every write (Redis fsyncs once per event-loop pass, so concurrent steps
    share one)."""
    path = work / "fsync-probe"
    times = []
    with path.open("ab") as f:
        for _ in range(count):
            began = time.perf_counter()
            f.write(b"x" * 128)
            f.flush()
            os.fsync(f.fileno())
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"median_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99)]}


def cmd_measure(args: argparse.Namespace) -> int:
    for tool in ("wrk", "taskset", "redis-server"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (apt-get install wrk util-linux redis-server)")
    work = Path(tempfile.mkdtemp(prefix="capacity-"))
    try:
        s, c = args.seconds, args.connections
        inputs = {
            "measured": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
            "machine": f"{os.cpu_count()} cores; server on core 0, load on core 1",
            "seconds": s,
            "connections": c,
            "hello": measure_hello(work, s, c),
            "backends": measure_backends(work, s, c),
            "traefik": measure_traefik(work, s, c),
            "stepper": measure_stepper(work, s, c),
            "fsync": measure_fsync(work),
        }
        inputs["hello_after"] = measure_hello(work, s, c)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).write_text(json.dumps(inputs, indent=2) + "\n")
    print(json.dumps(inputs, indent=2))
    return 0


# ---------------------------------------------------------------------------- the model

# Planned utilisation of a core: headroom for bursts and for the HPA to act (70 % target).
UTILISATION = 0.6
# Production minimums (overlays/production): 3 pods per backend, 2 Traefik replicas.
MIN_PODS, MIN_TRAEFIK = 3, 2
# NOT measured here (no Elasticsearch/Logstash on this machine): planning figures to be
# replaced by a measurement on the target cluster; docs/scaling.md says so.
ES_DOCS_PER_S_PER_NODE = 10_000
LOGSTASH_EVENTS_PER_S_PER_CORE = 5_000
PROMETHEUS_SERIES_PER_INSTANCE = 2_000_000
RATES = (1_000, 10_000, 100_000, 1_000_000)
# Share of requests that are stepper calls, for the Redis ceiling column.
STEPPER_SHARE = 0.01


def plan(inputs: dict, rate: int) -> dict:
    """Pods, replicas, ingest and series at `rate` requests/s spread evenly over backends."""
    backends = inputs["backends"]
    share = rate / len(backends)
    pods = {
        n: max(MIN_PODS, math.ceil(share / (b["per_cpu_second"] * UTILISATION)))
        for n, b in backends.items()
    }
    traefik = max(
        MIN_TRAEFIK, math.ceil(rate / (inputs["traefik"]["per_cpu_second"] * UTILISATION))
    )
    lines = sum(b["log_lines_per_request"] for b in backends.values()) / len(backends)
    log_bytes = sum(b["log_bytes_per_request"] for b in backends.values()) / len(backends)
    series = (
        sum(pods[n] * b["series_per_pod"] for n, b in backends.items())
        + traefik * inputs["traefik"]["series_per_pod"]
    )
    docs = rate * lines
    return {
        "rate": rate,
        "pods": pods,
        "backend_pods": sum(pods.values()),
        "traefik": traefik,
        "docs_per_s": docs,
        "log_mb_per_s": rate * log_bytes / 1e6,
        "log_tb_per_day": rate * log_bytes * 86_400 / 1e12,
        "es_nodes": math.ceil(docs / ES_DOCS_PER_S_PER_NODE),
        "logstash_cores": math.ceil(docs / LOGSTASH_EVENTS_PER_S_PER_CORE),
        "series": series,
        "prometheus_instances": math.ceil(series / PROMETHEUS_SERIES_PER_INSTANCE),
        "stepper_load": rate * STEPPER_SHARE / inputs["stepper"]["steps_per_s"],
    }


def breaks_first(p: dict) -> str:
    """What gives first at this rate, and what to change there."""
    notes = []
    if p["stepper_load"] > 0.7:
        notes.append(
            f"the stepper's one Redis key ({p['stepper_load']:.0%} of its ceiling at "
            f"{STEPPER_SHARE:.0%} stepper calls): shard sequences by key or batch steps"
        )
    if p["es_nodes"] > 3:
        notes.append(
            f"log ingest ({p['docs_per_s']:,.0f} docs/s, {p['log_tb_per_day']:.2f} "
            "TB/day): sample info lines or ship counts, more ES data nodes"
        )
    if p["prometheus_instances"] > 1:
        notes.append(
            "one Prometheus: shard scrapes (functional sharding) or drop per-pod "
            "labels with recording rules and federation"
        )
    if p["traefik"] > 10:
        notes.append("Traefik replicas: an L4 load balancer in front, or keep-alive tuning")
    if not notes:
        notes.append("nothing: the production minimums (3 pods per backend, 2 Traefik) carry it")
    return "; ".join(notes)


def render_table(inputs: dict) -> str:
    """The markdown table and its measured inputs."""
    b = inputs["backends"]
    # The bare handler before and after the services: the run's yardstick for the ratios.
    hello = (inputs["hello"]["per_cpu_second"] + inputs["hello_after"]["per_cpu_second"]) / 2

    def ratio(per_cpu_second: float) -> str:
        return f"{per_cpu_second:,.0f} ({per_cpu_second / hello:.2f}x bare handler)"

    rows = [
        f"Inputs measured {inputs['measured']} ({inputs['machine']}, {inputs['seconds']} s "
        f"per run, {inputs['connections']} connections; `make capacity`):",
        "",
        "| input | value |",
        "|---|---:|",
        *(
            f"| {n} `{r['path']}`: requests per CPU-second at info | {ratio(r['per_cpu_second'])} |"
            for n, r in b.items()
        ),
        f"| bare poem handler, requests per CPU-second (same run, before / after) | "
        f"{inputs['hello']['per_cpu_second']:,.0f} / "
        f"{inputs['hello_after']['per_cpu_second']:,.0f} |",
        f"| Traefik in front (GOMAXPROCS=1, repository configuration), requests per CPU-second | "
        f"{ratio(inputs['traefik']['per_cpu_second'])} |",
        *(
            f"| {n}: log lines / bytes per request | {r['log_lines_per_request']:.2f} / "
            f"{r['log_bytes_per_request']:,.0f} |"
            for n, r in b.items()
        ),
        *(f"| {n}: Prometheus series per pod | {r['series_per_pod']:,} |" for n, r in b.items()),
        f"| Traefik: Prometheus series per replica ({len(b)} services) | "
        f"{inputs['traefik']['series_per_pod']:,} |",
        f"| stepper on Redis (AOF always): steps/s | {inputs['stepper']['steps_per_s']:,.0f} |",
        f"| stepper: Redis CPU per step | {inputs['stepper']['redis_cpu_per_step_us']:.1f} µs |",
        f"| stepper: Redis' CPU-bound ceiling (one core / CPU per step) | "
        f"{1e6 / inputs['stepper']['redis_cpu_per_step_us']:,.0f} steps/s |",
        f"| append + fsync latency of the AOF's disk, median / p99 | "
        f"{inputs['fsync']['median_ms']:.2f} / {inputs['fsync']['p99_ms']:.2f} ms |",
        "",
        f"Plan at {UTILISATION:.0%} of a core per pod, requests spread evenly over the "
        f"backends, {STEPPER_SHARE:.0%} of them stepper calls:",
        "",
        f"| requests/s | backend pods ({'/'.join(b)}) | Traefik replicas | log docs/s | log MB/s "
        "(TB/day) | ES data nodes* | Logstash cores* | Prometheus series | what breaks first |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for rate in RATES:
        p = plan(inputs, rate)
        pods = "/".join(str(p["pods"][n]) for n in b)
        rows.append(
            f"| {rate:,} | {p['backend_pods']} ({pods}) | {p['traefik']} | "
            f"{p['docs_per_s']:,.0f} | {p['log_mb_per_s']:,.1f} ({p['log_tb_per_day']:.2f}) | "
            f"{p['es_nodes']} | {p['logstash_cores']} | {p['series']:,} | {breaks_first(p)} |"
        )
    rows += [
        "",
        f"\\* planning figures, not measured here: {ES_DOCS_PER_S_PER_NODE:,} docs/s "
        f"per Elasticsearch data node, {LOGSTASH_EVENTS_PER_S_PER_CORE:,} events/s per "
        f"Logstash core, {PROMETHEUS_SERIES_PER_INSTANCE:,} series per Prometheus.",
    ]
    return "\n".join(rows)


def cmd_table(args: argparse.Namespace) -> int:
    inputs = json.loads(Path(args.inputs).read_text())
    doc = Path(args.doc)
    text = doc.read_text()
    begin, end = text.index(TABLE_BEGIN), text.index(TABLE_END)
    new = text[:begin] + TABLE_BEGIN + "\n" + render_table(inputs) + "\n" + text[end:]
    if args.check:
        if new != text:
            print(f"{doc} is out of date: run scripts/stack_capacity.py table", file=sys.stderr)
            return 1
        return 0
    doc.write_text(new)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="measure the inputs (a few minutes)")
    m.add_argument("--out", default=str(ROOT / "docs/scaling-inputs.json"))
    m.add_argument("--seconds", type=int, default=int(os.environ.get("CAPACITY_SECONDS", 8)))
    m.add_argument("--connections", type=int, default=64)
    m.set_defaults(run=cmd_measure)
    t = sub.add_parser("table", help="rewrite the table of docs/scaling.md from the inputs")
    t.add_argument("--inputs", default=str(ROOT / "docs/scaling-inputs.json"))
    t.add_argument("--doc", default=str(ROOT / "docs/scaling.md"))
    t.add_argument("--check", action="store_true", help="exit 1 if the doc is out of date")
    t.set_defaults(run=cmd_table)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
