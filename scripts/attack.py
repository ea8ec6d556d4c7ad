#!/usr/bin/env python3
"""Hostile traffic against a server on 127.0.0.1, its RSS sampled from /proc, for
scripts/attack.sh.

  attack.py headers HOST:PORT PID COUNT BYTES ROUNDS  # COUNT sockets, each sending BYTES of a
                                                      # head that never ends; ROUNDS times
  attack.py scan HOST:PORT PID PATHS_FILE             # GET every path once (distinct answers)
  attack.py metrics HOST:PORT PID SECONDS             # hostile methods and paths, then
                                                      # scrapes of /metrics at 64 at once
                                                      # with /health probed meanwhile

Each prints one JSON object: RSS samples (MB) at the points that matter, and what the
attack saw. Bounded in count and time; loopback only.
"""

import asyncio
import json
import sys
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def percentile(values, p):
    values = sorted(values)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * p))], 2)


async def unfinished_head(host, port, size, opened, answers):
    """Sends `size` bytes of a head that never ends, then holds the socket until the server
    closes it (or 15 s pass)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 20)
    except Exception:
        return
    opened.append(1)
    head = b"GET /health HTTP/1.1\r\nHost: attack\r\n"
    chunk = b"X-Filler: " + b"a" * 4000 + b"\r\n"
    sent = 0
    try:
        writer.write(head)
        while sent < size:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), 5)
            sent += len(chunk)
        answer = await asyncio.wait_for(reader.read(200), 15)
        answers.append(answer[:12].decode(errors="replace"))
    except Exception:
        answers.append("closed")
    finally:
        writer.close()


async def headers(address, pid, count, size, rounds):
    host, port = address.rsplit(":", 1)
    result = {"baseline_mb": rss_mb(pid), "rounds": []}
    for _ in range(rounds):
        opened, answers = [], []
        peak = [0.0]
        done = asyncio.Event()

        async def sample(peak=peak, done=done):
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(pid) or 0)
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        await asyncio.gather(
            *(unfinished_head(host, port, size, opened, answers) for _ in range(count))
        )
        done.set()
        await sampler
        await asyncio.sleep(2)
        statuses = {}
        for answer in answers:
            statuses[answer] = statuses.get(answer, 0) + 1
        result["rounds"].append(
            {
                "opened": len(opened),
                "answers": statuses,
                "seconds": round(time.monotonic() - started, 1),
                "peak_mb": peak[0],
                "after_mb": rss_mb(pid),
            }
        )
    return result


async def get(reader, writer, path):
    writer.write(f"GET {path} HTTP/1.1\r\nHost: attack\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return int(head[9:12])


async def scan_worker(host, port, paths, statuses):
    reader, writer = await asyncio.open_connection(host, port)
    while paths:
        status = await get(reader, writer, paths.pop())
        statuses[status] = statuses.get(status, 0) + 1
    writer.close()


async def scan(address, pid, paths_file):
    host, port = address.rsplit(":", 1)
    with open(paths_file) as lines:
        paths = [line.strip() for line in lines if line.strip()]
    count = len(paths)
    before = rss_mb(pid)
    statuses = {}
    started = time.monotonic()
    await asyncio.gather(*(scan_worker(host, port, paths, statuses) for _ in range(4)))
    return {
        "requests": count,
        "statuses": statuses,
        "seconds": round(time.monotonic() - started, 1),
        "before_mb": before,
        "after_mb": rss_mb(pid),
    }


HOSTILE_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"]
HOSTILE_PATHS = [
    "/fibonacci/10/",
    "/fibonacci/abc/",
    "/fibonacci/-1/",
    "/factorial/99999999/",
    "/ackermann/2/3/",
    "/ackermann/9/",
    "/fibonacci/next",
    "/fibonacci/reset",
    "/fibonacci/current",
    "/health",
    "/ready",
    "/metrics",
    "/docs",
    "/openapi.json",
    "/fibonacci/docs",
    "/no/such/path",
    "/%FF",
    "*",
]


async def one_request(host, port, request):
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request)
        await writer.drain()
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
    except Exception:
        pass


async def hostile_round(host, port, round_number):
    requests = []
    for method in HOSTILE_METHODS:
        for path in HOSTILE_PATHS:
            requests.append(
                f"{method} {path} HTTP/1.1\r\nHost: attack\r\nOrigin: http://evil.example\r\n"
                f"X-Request-Id: hostile-{round_number}\r\nConnection: close\r\n\r\n".encode()
            )
    requests.append(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    requests.append(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    requests.append(b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)))
    for start in range(0, len(requests), 32):
        await asyncio.gather(*(one_request(host, port, r) for r in requests[start : start + 32]))


async def scrape(host, port):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: attack\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer.split(b"\r\n\r\n", 1)[1].decode()


async def health_probe(host, port, stop, latencies):
    while not stop.is_set():
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.read(), 5)
            writer.close()
            latencies.append((time.monotonic() - started) * 1000)
        except Exception:
            latencies.append(5000.0)
        await asyncio.sleep(0.02)


async def probe_for(host, port, seconds):
    stop, latencies = asyncio.Event(), []
    task = asyncio.create_task(health_probe(host, port, stop, latencies))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return latencies


async def metrics(address, pid, seconds):
    host, port = address.rsplit(":", 1)
    for round_number in range(3):
        await hostile_round(host, port, round_number)
    page = await scrape(host, port)
    series = [line for line in page.splitlines() if line and not line.startswith("#")]
    quiet = await probe_for(host, port, 3)
    flood = await asyncio.create_subprocess_exec(
        "wrk",
        "-t2",
        "-c64",
        f"-d{seconds}s",
        f"http://{address}/metrics",
        stdout=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(1)
    during = await probe_for(host, port, max(1, seconds - 2))
    wrk_output, _ = await flood.communicate()
    rate = [line for line in wrk_output.decode().splitlines() if "Requests/sec" in line]
    return {
        "page_bytes": len(page.encode()),
        "series": len(series),
        "health_quiet_ms": {"p50": percentile(quiet, 0.5), "p99": percentile(quiet, 0.99)},
        "health_during_scrapes_ms": {
            "p50": percentile(during, 0.5),
            "p99": percentile(during, 0.99),
            "probes": len(during),
        },
        "scrapes_per_s": rate[0].split()[-1] if rate else None,
        "rss_mb": rss_mb(pid),
    }


def main():
    kind, address, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "headers":
        count, size, rounds = (int(a) for a in sys.argv[4:7])
        result = asyncio.run(headers(address, pid, count, size, rounds))
    elif kind == "scan":
        result = asyncio.run(scan(address, pid, sys.argv[4]))
    elif kind == "metrics":
        result = asyncio.run(metrics(address, pid, int(sys.argv[4])))
    else:
        sys.exit(f"unknown attack {kind}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
