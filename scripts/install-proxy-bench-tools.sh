#!/usr/bin/env bash
# What the Traefik measurements need (`make capacity`, `make bench-proxy`): the stack tools'
# Traefik (scripts/install-stack-tools.sh) and wrk (Debian), each installed only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_STACK_TOOLS:-${HOME}/.local/share/mathapi-stack-tools}"
[[ -x "${tools_dir}/venv/bin/traefik" ]] || scripts/install-stack-tools.sh
command -v wrk > /dev/null 2>&1 || {
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends wrk
}
