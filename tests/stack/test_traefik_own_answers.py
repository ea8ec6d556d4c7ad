"""The answers Traefik makes itself, with the repository's configuration, natively: Traefik
writes no access log (every request a service answers has the service's own line), and what
the services cannot see is counted in Traefik's metrics instead: a backend that is down gives
502/503 in its service's series, and the edge limits' 429s are in the entrypoint's series
(read by the recording rule traefik:edge_refusals:rate1m), each request exactly once."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, tool
from stack_live import LivePorts, Processes, wait_http, write_live_configs
from stack_model import BACKENDS

pytestmark = pytest.mark.live

RELEASE = ROOT / "target" / "release"
SERVED, DOWN = BACKENDS[0], BACKENDS[1]
# The test's copy of the rate limit: a burst of BURST requests per client and router, then one
# more a minute, so that the requests past the burst are refused whatever the machine's speed.
BURST = 20
SAMPLE = re.compile(r"^(\w+)\{(.*)\} (\S+)$")


@dataclass
class Traefik:
    web: str
    metrics: str
    log: Path


def status_of(url: str) -> int:
    """The status of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def counter(traefik: Traefik, name: str, **labels: str) -> float:
    """The sum of `name`'s samples on Traefik's /metrics whose labels include `labels`."""
    with urllib.request.urlopen(traefik.metrics, timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if not match or match[1] != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match[2]))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(match[3])
    return total


def with_small_burst(dynamic: Path) -> None:
    """Rewrites the copy's rate limit to BURST requests, then one a minute."""
    config = yaml.safe_load(dynamic.read_text())
    for middleware in config["http"]["middlewares"].values():
        if "rateLimit" in middleware:
            middleware["rateLimit"].update(average=1, period="1m", burst=BURST)
    dynamic.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def traefik(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traefik]:
    """Traefik with the repository's configuration (a smaller rate-limit burst); SERVED's
    service runs, DOWN's does not."""
    assert (RELEASE / SERVED.binary).exists(), "cargo build --release --bins first"
    work = tmp_path_factory.mktemp("own-answers")
    ports = LivePorts.allocate()
    write_live_configs(work, ports)
    with_small_burst(work / "dynamic.yml")
    processes = Processes(work)
    try:
        argv = [str(RELEASE / SERVED.binary), "--host", "127.0.0.1"]
        argv += ["--port", str(ports.backends[SERVED.name])]
        if SERVED.stepper:
            argv += ["--sequence-data-dir", str(work / "data")]
        processes.start("service", argv)
        processes.start("traefik", [tool("traefik"), f"--configFile={work / 'traefik.yml'}"])
        # Ready without spending a token of the rate limit: the service answers directly, and
        # Traefik's API lists the router once its dynamic configuration is loaded.
        wait_http(f"http://127.0.0.1:{ports.backends[SERVED.name]}{SERVED.sample_path}", 30)
        wait_http(f"http://127.0.0.1:{ports.traefik_api}/api/http/routers/{SERVED.name}@file", 30)
        yield Traefik(
            web=f"http://127.0.0.1:{ports.traefik_web}",
            metrics=f"http://127.0.0.1:{ports.traefik_metrics}/metrics",
            log=processes.log("traefik"),
        )
    finally:
        processes.stop()


def test_the_edge_limits_refusals_are_counted_at_the_entrypoint(traefik: Traefik) -> None:
    before = counter(traefik, "traefik_entrypoint_requests_total", entrypoint="web", code="429")
    statuses = [status_of(traefik.web + SERVED.sample_path) for _ in range(BURST + 15)]
    refused = statuses.count(429)
    # The burst passes, the rest is refused (Traefik's health checks do not go through the
    # routers, so they take no token).
    assert statuses.count(200) == BURST and refused == 15, statuses
    after = counter(traefik, "traefik_entrypoint_requests_total", entrypoint="web", code="429")
    assert after - before == refused
    # The services never saw them: Traefik's service series has only the answered ones.
    served = counter(
        traefik, "traefik_service_requests_total", service=f"{SERVED.name}@file", code="200"
    )
    assert served == BURST


def test_a_backend_that_is_down_is_counted_in_its_service(traefik: Traefik) -> None:
    status = status_of(traefik.web + DOWN.sample_path)
    assert status in (502, 503)
    service = f"{DOWN.name}@file"
    counted = counter(traefik, "traefik_service_requests_total", service=service, code=str(status))
    assert counted == 1


def test_traefik_writes_no_access_log(traefik: Traefik) -> None:
    # After the answered, refused and failed requests of the tests above (module order).
    lines = traefik.log.read_text().splitlines()
    assert lines, "Traefik wrote no log at all: its own lines should be there"
    assert [line for line in lines if '"RequestPath"' in line] == []
