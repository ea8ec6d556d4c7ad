"""Runs the containers of a rendered overlay as the kubelet would, inside fresh namespaces.

Started by test_kubernetes.py under `unshare --net --mount --map-root-user`: the network
namespace has only its own loopback, so every container binds its declared port (0.0.0.0:8001
...) exactly as declared without touching the machine's ports; the mount namespace gives each
volume mount a tmpfs, the Service names of /etc/hosts (e.g. `redis`) point at 127.0.0.1, and
the root filesystem is remounted read-only, as `readOnlyRootFilesystem: true` makes it.

Input (stdin, JSON): {"hosts": [names], "writable": [paths], "redis": {"port", "password"} |
null, "containers": [{"name", "argv", "env", "cwd", "startup_seconds", "probes": [{"kind",
"port", "path"}], "stop_seconds"}]}.
Output (stdout, JSON): {"containers": {name: {"probes": {kind: status}, "stopped_in": s,
"exit": code, "log_tail": str}}, "error": str | null}.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def run(*argv: str) -> None:
    """A setup command that must succeed."""
    subprocess.run(argv, check=True, capture_output=True)


def nearest_existing(path: Path) -> Path:
    """The deepest existing ancestor of `path` (itself if it exists)."""
    while not path.exists():
        path = path.parent
    return path


def prepare_filesystem(hosts: list[str], writable: list[str]) -> None:
    """tmpfs under every writable path, Service names in /etc/hosts, then / read-only."""
    run("ip", "link", "set", "lo", "up")
    for path in sorted({str(nearest_existing(Path(p))) for p in writable}):
        # A tmpfs on the deepest existing ancestor, then the path itself is created in it.
        if path == "/":
            raise SystemExit("refusing a tmpfs on /")
        run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", path)
    for p in writable:
        Path(p).mkdir(parents=True, exist_ok=True)
    scratch = Path("/mnt")
    run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(scratch))
    hosts_file = scratch / "hosts"
    hosts_file.write_text("127.0.0.1 localhost " + " ".join(hosts) + "\n")
    run("mount", "--bind", str(hosts_file), "/etc/hosts")
    run("mount", "-o", "remount,bind,ro", "/")


def http_status(port: int, path: str) -> int:
    """GET http://127.0.0.1:port/path -> status (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def start_redis(port: int, password: str) -> subprocess.Popen:
    """The Redis of the production overlay, as its StatefulSet runs it."""
    data = Path("/mnt/redis")
    data.mkdir()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--dir",
            str(data),
            "--requirepass",
            password,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ping = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"],
            capture_output=True,
            text=True,
            env={**os.environ, "REDISCLI_AUTH": password},
        )
        if "PONG" in ping.stdout:
            return proc
        time.sleep(0.2)
    raise SystemExit("redis-server did not start")


def start(container: dict, logs: Path) -> tuple[subprocess.Popen, Path]:
    """The container's process with exactly its argv, env and working directory."""
    log = logs / f"{container['name']}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            container["argv"],
            env=container["env"],
            cwd=container["cwd"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, log


def probe_all(container: dict) -> dict[str, int]:
    """Waits for the startup probe (as the kubelet does), then runs every probe once."""
    probes = container["probes"]
    startup = next(p for p in probes if p["kind"] == "startup")
    deadline = time.monotonic() + container["startup_seconds"]
    while http_status(startup["port"], startup["path"]) != 200:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return {p["kind"]: http_status(p["port"], p["path"]) for p in probes}


def stop(proc: subprocess.Popen, limit: float) -> tuple[float, int | None]:
    """SIGTERM, as the kubelet sends after preStop; seconds until exit (or the limit)."""
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return limit, None
    return time.monotonic() - began, code


def main() -> int:
    spec = json.load(sys.stdin)
    results: dict[str, dict] = {}
    error = None
    procs: list[subprocess.Popen] = []
    try:
        prepare_filesystem(spec["hosts"], spec["writable"])
        # On the scratch tmpfs: the root filesystem is read-only from here on.
        logs = Path(tempfile.mkdtemp(prefix="logs-", dir="/mnt"))
        if spec.get("redis"):
            procs.append(start_redis(spec["redis"]["port"], spec["redis"]["password"]))
        started = []
        for container in spec["containers"]:
            proc, log = start(container, logs)
            procs.append(proc)
            started.append((container, proc, log))
        for container, proc, log in started:
            probes = probe_all(container)
            stopped_in, code = stop(proc, container["stop_seconds"])
            tail = log.read_text(errors="replace")[-2000:]
            results[container["name"]] = {
                "probes": probes,
                "stopped_in": stopped_in,
                "exit": code,
                "log_tail": tail,
            }
    except (OSError, subprocess.CalledProcessError, SystemExit) as e:
        error = f"{type(e).__name__}: {e}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    json.dump({"containers": results, "error": error}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
