#!/usr/bin/env bash
# `make check-k8s`: deploy/kubernetes verified without a cluster (tests/stack/test_kubernetes.py):
# every overlay rendered by `kubectl kustomize`, validated against the Kubernetes schemas
# (kubernetes-validate, strict) and the published CRD schemas, scanned by checkov (every skip
# justified and needed), the deployment rules, and the contract test that starts the release
# binaries with each container's command, args and env in fresh namespaces and probes them.
# Needs scripts/install-stack-tools.sh; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
python="${tools_dir}/venv/bin/python"
[[ -x "${python}" ]] || scripts/install-stack-tools.sh

# Every generated file is what its generator makes: the manifests, and the rules and dashboards
# they embed.
scripts/generate.sh --check

# The contract test runs the binaries the image ships: every function's (configs/functions.json).
mapfile -t binaries < <(python3 scripts/stack_model.py binaries)
cargo build --release --locked "${binaries[@]/#/--bin=}"
export PATH="${tools_dir}/venv/bin:${PATH}"
exec "${python}" -m pytest -p no:cacheprovider -m k8s tests/stack "$@"
