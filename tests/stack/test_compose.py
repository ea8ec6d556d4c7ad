"""The compose stack's settings (public URL, admin password beyond loopback, Redis password,
CPU limits, start periods, admin paths behind basic auth), checked on the files as Docker
Compose, Traefik and scripts/demo.sh read them (no Docker engine needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

import stack_dashboards
import stack_k8s
import stack_wiring
from conftest import ROOT, tool
from stack_model import (
    ADMIN_PREFIXES,
    BACKEND_NAMES,
    BACKENDS,
    EDGE_MIDDLEWARES,
    GENERATED_MARK,
    SEQUENCE,
)

pytestmark = pytest.mark.static


def demo_settings(**env: str) -> subprocess.CompletedProcess:
    """scripts/demo.sh's settings step only (DEMO_CHECK_ONLY=1: no Docker)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MATHAPI_")}
    return subprocess.run(
        [str(ROOT / "scripts/demo.sh")],
        capture_output=True,
        text=True,
        env={**clean, "DEMO_CHECK_ONLY": "1", **env},
        timeout=30,
    )


@pytest.mark.parametrize("given", ["http://h:8000/", "http://h:8000//", "http://h:8000"])
def test_public_url_loses_its_trailing_slashes(given: str) -> None:
    out = demo_settings(MATHAPI_PUBLIC_URL=given)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "http://h:8000"


def test_beyond_loopback_needs_an_admin_password() -> None:
    refused = demo_settings(MATHAPI_BIND_ADDRESS="0.0.0.0")
    assert refused.returncode != 0
    assert "MATHAPI_ADMIN_PASSWORD" in refused.stderr
    assert (
        demo_settings(MATHAPI_BIND_ADDRESS="0.0.0.0", MATHAPI_ADMIN_PASSWORD="s3cret").returncode
        == 0
    )
    assert demo_settings(MATHAPI_BIND_ADDRESS="127.0.0.1").returncode == 0


def compose_model(**env: str) -> dict:
    """docker-compose.yml as the real Compose binary interpolates it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MATHAPI_")}
    out = subprocess.run(
        [
            tool("docker-compose"),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=True,
    )
    return json.loads(out.stdout)


def test_redis_password_reaches_redis_and_the_sequence_backend() -> None:
    for env, password in (({}, "mathapi-local"), ({"MATHAPI_REDIS_PASSWORD": "p4ss"}, "p4ss")):
        services = compose_model(**env)["services"]
        command = services["redis"]["command"]
        assert command[command.index("--requirepass") + 1] == password
        assert services["redis"]["environment"]["REDISCLI_AUTH"] == password
        url = services[SEQUENCE.name]["environment"]["MATHAPI_REDIS_URL"]
        assert url == f"redis://:{password}@redis:6379"
        assert command[command.index("--appendfsync") + 1] == "always"


def test_dashboard_port_stays_on_loopback() -> None:
    ports = compose_model(MATHAPI_BIND_ADDRESS="0.0.0.0")["services"]["traefik"]["ports"]
    by_target = {p["target"]: p.get("host_ip") for p in ports}
    assert by_target == {8000: "0.0.0.0", 8080: "127.0.0.1"}


def test_one_cpu_host_can_start_every_container() -> None:
    for name, service in compose_model()["services"].items():
        cpus = service.get("deploy", {}).get("resources", {}).get("limits", {}).get("cpus")
        assert cpus is None or float(cpus) <= 1, name


def test_grafana_has_time_for_its_migrations() -> None:
    period = compose_model()["services"]["grafana"]["healthcheck"]["start_period"]
    # Compose writes Go durations: "3m0s".
    units = {"h": 3600, "m": 60, "s": 1}
    seconds = sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)([hms])", period))
    assert seconds >= 120, period


def test_admin_paths_behind_basic_auth() -> None:
    dynamic = yaml.safe_load((ROOT / "configs/traefik/dynamic.yml").read_text())["http"]
    auth = dynamic["middlewares"]["admin-auth"]["basicAuth"]
    assert auth["removeHeader"] is True
    assert 'env "MATHAPI_ADMIN_PASSWORD"' in auth["users"][0]
    for prefix in ADMIN_PREFIXES:
        assert dynamic["routers"][prefix.strip("/")]["middlewares"] == ["admin-auth"]
    for b in BACKENDS:
        # The APIs stay anonymous: only the per-client limits stand in front of them.
        assert dynamic["routers"][b.name]["middlewares"] == list(EDGE_MIDDLEWARES)
    env = compose_model(MATHAPI_ADMIN_PASSWORD="x")["services"]["traefik"]["environment"]
    assert env["MATHAPI_ADMIN_PASSWORD"] == "x"


@pytest.mark.parametrize(
    "generator",
    [stack_wiring, stack_dashboards, stack_k8s],
    ids=["compose-traefik-prometheus", "dashboards", "kubernetes"],
)
def test_generated_files_are_current_and_marked(generator) -> None:  # noqa: ANN001
    out = subprocess.run(
        [sys.executable, generator.__file__, "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    script = f"scripts/{os.path.basename(generator.__file__)}"
    for path, text in generator.render().items():
        assert GENERATED_MARK.format(script=script) in text, path


def test_capacity_table_is_computed_from_the_measured_inputs() -> None:
    # docs/scaling.md's table is arithmetic on docs/scaling-inputs.json, never edited by hand.
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/stack_capacity.py"), "table", "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def model_cli(*argv: str) -> list[str]:
    """The lines scripts/stack_model.py prints, as the shell scripts read them."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/stack_model.py"), *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


def test_shell_scripts_get_the_functions_from_the_model() -> None:
    assert model_cli("names") == list(BACKEND_NAMES)
    assert model_cli("binaries") == [b.binary for b in BACKENDS]
    assert model_cli("ports") == [f"{b.name} {b.port}" for b in BACKENDS]
    assert model_cli("backends") == [
        f"{b.name} {b.binary} {b.port} {b.sample_path}" for b in BACKENDS
    ]
    assert model_cli("sequence") == [SEQUENCE.name]
    for b, line in zip(BACKENDS, model_cli("caps"), strict=True):
        assert line.split()[:2] == [b.name, b.binary]
        assert line.split()[2:] == [w for p in b.params for w in (p.flag, str(p.hard_max))]


def test_no_script_lists_the_functions_by_hand() -> None:
    # Builds and loops read scripts/stack_model.py: no `--bin <function>` or `-p mathapi-<name>`,
    # no two function names in a row (`for s in fibonacci factorial ...`). Paths such as
    # /fibonacci/400/ (a benchmark's chosen request) are not lists.
    names = "|".join(map(re.escape, BACKEND_NAMES))
    bare = rf"(?<![\w/.-])({names})(?![\w/.-])"
    listed = re.compile(rf"{bare}[ \t]+{bare}")
    built = re.compile(
        rf"--bin[ =]({'|'.join(re.escape(b.binary) for b in BACKENDS)})\b"
        rf"|-p mathapi-({names})\b"
    )
    files = [
        *ROOT.glob("scripts/*.sh"),
        *ROOT.glob("scripts/schemathesis*.toml"),
        ROOT / "Makefile",
        ROOT / "Dockerfile",
        ROOT / "docker-compose.yml",
        ROOT / ".ci/run",
        *(ROOT / ".github").rglob("*.yml"),
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if listed.search(line) or built.search(line)
    ]
    assert found == []


def kibana_health_filter() -> str:
    """The grep command of Kibana's health check (the part after curl's pipe)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    test = compose["services"]["kibana"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    curl, _, grep = test[1].partition("|")
    assert "/kibana/api/status" in curl and "-f" in curl
    return grep.strip()


@pytest.mark.parametrize(
    ("overall", "healthy"),
    [("available", True), ("degraded", False), ("unavailable", False), ("critical", False)],
)
def test_kibana_health_reads_the_overall_status(overall: str, healthy: bool) -> None:
    # A status body as Kibana 9.1 writes it (one JSON line): the overall level with its
    # summary, then core services and plugins that are available whatever the whole is.
    body = json.dumps(
        {
            "name": "kibana",
            "status": {
                "overall": {"level": overall, "summary": "x"},
                "core": {"elasticsearch": {"level": "available", "summary": "ok"}},
                "plugins": {"data": {"level": "available", "summary": "ok"}},
            },
        },
        separators=(",", ":"),
    )
    out = subprocess.run(["sh", "-c", kibana_health_filter()], input=body, text=True)
    assert (out.returncode == 0) is healthy, overall
