"""Fixtures of the stack suite (`make check-stack`, `make check-k8s`).

Layout of tests/stack/:
  conftest.py          tools, rendered Kubernetes overlays
  models.py            the static models: log contract, rules, dashboards, template, pipeline
  test_static.py       linters, validators, wiring and pipeline cross-checks     (static)
  test_compose.py      compose settings, generated files                         (static)
  test_capacity.py     the capacity model's arithmetic (docs/scaling.md)           (static)
  test_otlp.py         the live check's OTLP receiver (scripts/stack_otlp.py)      (static)
  test_incident.py     make demo-incident natively: fault on, alert fires, resolves (live)
  test_live.py         one session fixture runs the stack natively; what it shows  (live)
  test_edge.py         the per-client limits: real Traefik, two clients, 429s     (live)
  test_kubernetes.py   deploy/kubernetes: render, schemas, CRDs, checkov, contract (k8s)
  k8s_contract.py      helper run inside fresh namespaces by the contract test
  validate_crds.mjs    helper: custom resources against their published schemas (node)

The list of backends, ports and paths comes from scripts/stack_model.py, shared with the
generators. The tools come from scripts/install-stack-tools.sh ($MATHAPI_STACK_TOOLS).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

# scripts/ is on the path from here on; test_kubernetes imports TOOLS from this module.
from stack_live import TOOLS, find_tool  # noqa: E402, F401

OVERLAYS = ("local", "production")
K8S_DIR = ROOT / "deploy" / "kubernetes"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "k8s: the Kubernetes checks (make check-k8s)")
    config.addinivalue_line("markers", "static: the stack's static checks (no process started)")
    config.addinivalue_line(
        "markers", "live: starts the real services, Traefik, Prometheus and an OTLP receiver"
    )


def tool(name: str) -> str:
    """Path of a tool: the stack venvs first, then PATH; skips nothing, fails loudly."""
    found = find_tool(name)
    if not found:
        pytest.fail(f"{name} not found: run scripts/install-stack-tools.sh")
    return found


def render_overlay(overlay: str) -> str:
    """`kubectl kustomize` (or kustomize) of deploy/kubernetes/overlays/OVERLAY."""
    path = K8S_DIR / "overlays" / overlay
    if shutil.which("kubectl"):
        argv = ["kubectl", "kustomize", str(path)]
    else:
        argv = [tool("kustomize"), "build", str(path)]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def rendered_text() -> dict[str, str]:
    """Each overlay rendered once per session, as YAML text."""
    return {overlay: render_overlay(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def rendered(rendered_text: dict[str, str]) -> dict[str, list[dict]]:
    """Each overlay's objects."""
    return {o: [d for d in yaml.safe_load_all(t) if d] for o, t in rendered_text.items()}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    """Each overlay name in turn."""
    return request.param


def objects_of(objects: list[dict], kind: str) -> dict[str, dict]:
    """The objects of one kind, by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}
