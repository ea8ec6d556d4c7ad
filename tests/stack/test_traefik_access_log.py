"""Traefik's access log with the repository's configuration, natively: the requests a service
answers and logs itself leave no Traefik line; the answers Traefik makes itself (a backend that
is down) do, with the fields the services' lines cannot have."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, tool
from stack_live import LivePorts, Processes, wait_http, write_live_configs
from stack_model import BACKENDS

pytestmark = pytest.mark.live

RELEASE = ROOT / "target" / "release"
SERVED, DOWN = BACKENDS[0], BACKENDS[1]


def status_of(url: str) -> int:
    """The status of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def access_lines(log: Path) -> list[dict]:
    """Traefik's access-log lines (its JSON lines that name a request path)."""
    return [json.loads(line) for line in log.read_text().splitlines() if '"RequestPath"' in line]


@pytest.fixture(scope="module")
def traefik(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Traefik with the repository's configuration; SERVED's service runs, DOWN's does not."""
    assert (RELEASE / SERVED.binary).exists(), "cargo build --release --bins first"
    work = tmp_path_factory.mktemp("access-log")
    ports = LivePorts.allocate()
    write_live_configs(work, ports)
    processes = Processes(work)
    try:
        argv = [str(RELEASE / SERVED.binary), "--host", "127.0.0.1"]
        argv += ["--port", str(ports.backends[SERVED.name])]
        if SERVED.stepper:
            argv += ["--sequence-data-dir", str(work / "data")]
        processes.start("service", argv)
        processes.start("traefik", [tool("traefik"), f"--configFile={work / 'traefik.yml'}"])
        wait_http(f"http://127.0.0.1:{ports.traefik_api}/ping", 30)
        web = f"http://127.0.0.1:{ports.traefik_web}"
        wait_http(web + SERVED.sample_path, 30)
        yield web, processes.log("traefik")
    finally:
        processes.stop()


def test_answers_the_services_log_leave_no_traefik_line(traefik: tuple[str, Path]) -> None:
    web, log = traefik
    assert [status_of(web + SERVED.sample_path) for _ in range(20)] == [200] * 20
    # Positive control: a line Traefik must write, written after the 200s by the same writer.
    assert status_of(web + DOWN.sample_path) in (502, 503)
    deadline = time.monotonic() + 20
    while not any(line["RequestPath"] == DOWN.sample_path for line in access_lines(log)):
        assert time.monotonic() < deadline, "no access-log line for the backend that is down"
        time.sleep(0.1)
    logged = access_lines(log)
    assert [line for line in logged if line["RequestPath"] == SERVED.sample_path] == []
    (down,) = [line for line in logged if line["RequestPath"] == DOWN.sample_path]
    assert down["DownstreamStatus"] in (502, 503)
    assert down["ServiceName"] == f"{DOWN.name}@file"
    assert isinstance(down["Duration"], int)
