#!/usr/bin/env python3
"""Slow and idle clients against a server on 127.0.0.1, for scripts/overload.sh.

  overload.py slowloris HOST:PORT COUNT      # COUNT connections trickling one header byte / 10 s
  overload.py hold HOST:PORT COUNT SECONDS   # COUNT idle connections held SECONDS, then closed

Both print JSON: how many connections were opened, how long the server kept them, and
/health latencies measured meanwhile. Bounded in count and time; loopback only.
"""

import asyncio
import json
import sys
import time


async def health_probe(host, port, stop, latencies):
    while not stop.is_set():
        started = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
            writer.write(b"GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 5)
            ok = answer.startswith(b"HTTP/1.1 200")
            writer.close()
        except Exception:
            ok = False
        latencies.append((time.monotonic() - started) * 1000 if ok else None)
        await asyncio.sleep(0.1)


def percentile(values, p):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * p))], 2)


async def slow_client(host, port, started, lifetimes):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        lifetimes.append(None)
        return
    request = b"GET /health HTTP/1.1\r\nHost: slow\r\n"
    opened = time.monotonic()
    try:
        # At most 7 bytes (about 70 s): a server without a header timeout is seen holding on.
        for i in range(7):
            writer.write(request[i : i + 1])
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(1024), 10)
                if not data:
                    break
            except TimeoutError:
                continue
        else:
            pass
    except (ConnectionError, OSError):
        pass
    lifetimes.append(time.monotonic() - opened)
    writer.close()


async def slowloris(host, port, count):
    started = time.monotonic()
    lifetimes, latencies, stop = [], [], asyncio.Event()
    probe = asyncio.create_task(health_probe(host, port, stop, latencies))
    clients = [
        asyncio.create_task(slow_client(host, port, started, lifetimes)) for _ in range(count)
    ]
    await asyncio.gather(*clients)
    stop.set()
    await probe
    held = [life for life in lifetimes if life is not None]
    return {
        "connections": count,
        "refused": lifetimes.count(None),
        "held_s_max": round(max(held), 2) if held else None,
        "held_s_median": round(sorted(held)[len(held) // 2], 2) if held else None,
        "health_probes": len(latencies),
        "health_failed": latencies.count(None),
        "health_p50_ms": percentile(latencies, 0.5),
        "health_p99_ms": percentile(latencies, 0.99),
    }


async def hold(host, port, count, seconds):
    sockets, failed = [], 0
    for _ in range(count):
        try:
            sockets.append(await asyncio.wait_for(asyncio.open_connection(host, port), 2))
        except (TimeoutError, OSError):
            failed += 1
    await asyncio.sleep(seconds)
    for _, writer in sockets:
        writer.close()
    closed_at = time.monotonic()
    # Time until /health answers again once the sockets are closed.
    while time.monotonic() - closed_at < 10:
        one = []
        await health_probe_once(host, port, one)
        if one[0] is not None:
            break
    return {
        "opened": len(sockets),
        "failed_to_open": failed,
        "health_again_after_close_s": round(time.monotonic() - closed_at, 3),
    }


async def health_probe_once(host, port, out):
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1)
        writer.write(b"GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 1)
        writer.close()
        out.append(
            (time.monotonic() - started) * 1000 if answer.startswith(b"HTTP/1.1 200") else None
        )
    except Exception:
        out.append(None)
        await asyncio.sleep(0.05)


def main():
    mode, address = sys.argv[1], sys.argv[2]
    host, port = address.rsplit(":", 1)
    port = int(port)
    if mode == "slowloris":
        result = asyncio.run(slowloris(host, port, int(sys.argv[3])))
    elif mode == "hold":
        result = asyncio.run(hold(host, port, int(sys.argv[3]), float(sys.argv[4])))
    else:
        sys.exit(f"unknown mode {mode}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
