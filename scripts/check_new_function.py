"""Checks a scratch copy in which `square` was added by docs/adding-a-function.md's steps.

usage: check_new_function.py BIN_DIR SCRATCH_DIR

Runs the new function's own binary and the all-in-one on free ports and asks them over real
HTTP; runs the command line and the traffic generator; reads the generated stack files. Exits 1
naming every place the new function is missing from.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

FAILURES: list[str] = []


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        FAILURES.append(what)


class Server:
    """A binary started with `--port 0`; its address comes from its `listening` log line."""

    def __init__(self, binary: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(binary), "--port", "0", "--log-level", "info", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        self.base = ""
        while time.monotonic() < deadline and not self.base:
            line = self.process.stdout.readline()
            if not line:
                break
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") == "listening":
                self.base = f"http://{record['address']}"
        if not self.base:
            self.process.kill()
            raise SystemExit(f"{binary.name} did not start")

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
        request = urllib.request.Request(self.base + path, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def check_server(server: Server, who: str) -> None:
    status, _, body = server.get("/square/12/")
    check(status == 200 and json.loads(body) == {"n": 12, "result": "144"}, f"{who}: /square/12/")
    status, _, body = server.get("/square/abc/")
    check(status == 400 and "not_an_integer" in body, f"{who}: /square/abc/ is a 400 problem")
    status, _, body = server.get("/square/openapi.json")
    check(status == 200 and "/square/{n}/" in json.loads(body)["paths"], f"{who}: its document")
    status, _, _ = server.get("/square/docs")
    check(status == 200, f"{who}: its Swagger UI")
    status, headers, _ = server.get("/square/7/", {"Origin": "http://elsewhere.example"})
    check(headers.get("access-control-allow-origin") == "*", f"{who}: CORS on its route")
    status, _, body = server.get("/")
    check(status == 200 and 'id="square-form"' in body, f"{who}: its calculator on the page")


def main() -> int:
    bin_dir, scratch = Path(sys.argv[1]), Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as data:
        faults = Path(data) / "faults.json"
        faults.write_text(json.dumps({"square": {"latency_ms": 1, "error_rate": 0}}))

        own = Server(bin_dir / "square", "--fault-file", str(faults))
        check_server(own, "square binary (with a fault file naming square)")
        own.stop()

        all_in_one = Server(bin_dir / "mathapi", "--sequence-data-dir", data)
        check_server(all_in_one, "all-in-one")
        status, _, body = all_in_one.get("/openapi.json")
        check("/square/{n}/" in json.loads(body)["paths"], "all-in-one: the combined document")
        status, _, body = all_in_one.get("/metrics")
        check('function="square"' in body, "all-in-one: the metrics name it")
        traffic = subprocess.run(
            [
                str(bin_dir / "mathapi-traffic"),
                "--url",
                all_in_one.base,
                "--functions",
                "square",
                "--duration",
                "3s",
                "--rate",
                "30",
                "--check",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        check(
            traffic.returncode == 0,
            f"traffic generator: square's valid and invalid requests "
            f"answered as planned (exit {traffic.returncode}) {traffic.stderr[-300:]}",
        )
        all_in_one.stop()

    cli = subprocess.run(
        [str(bin_dir / "mathapi"), "square", "9"], capture_output=True, text=True, timeout=60
    )
    check(cli.stdout == "81\n", "command line: mathapi square 9")
    listing = subprocess.run(
        [str(bin_dir / "mathapi"), "functions", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    check(
        listing.stdout.strip() == (scratch / "configs/functions.json").read_text().strip(),
        "configs/functions.json is the list",
    )

    names = subprocess.run(
        [sys.executable, "scripts/stack_model.py", "names"],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    check("square" in names, "the stack model lists it")
    for path in [
        "docker-compose.yml",
        "configs/traefik/dynamic.yml",
        "configs/prometheus/prometheus.yml",
        "deploy/kubernetes/base/apps/generated/backends.yaml",
        "deploy/kubernetes/base/apps/generated/routes.yaml",
        "dashboards/grafana/mathapi-overview.json",
    ]:
        check("square" in (scratch / path).read_text(), f"generated: {path}")
    generated = subprocess.run(
        ["bash", "scripts/generate.sh", "--check"], cwd=scratch, capture_output=True, text=True
    )
    check(generated.returncode == 0, f"every generated file is current {generated.stderr[-300:]}")

    if FAILURES:
        print(
            f"check-new-function: square is missing from {len(FAILURES)} place(s)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
