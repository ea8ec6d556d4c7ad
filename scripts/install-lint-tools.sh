#!/usr/bin/env bash
# Installs what `make lint` needs beyond cargo: the rustfmt and clippy components, and ruff
# at the version pinned in requirements-lint.txt, in a virtualenv outside the work tree
# ($MATHAPI_LINT_TOOLS, default ~/.local/share/mathapi-lint-tools) where scripts/lint.sh
# looks for it. Re-running is cheap: a ruff at the pinned version is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_LINT_TOOLS:-${HOME}/.local/share/mathapi-lint-tools}"
venv="${tools_dir}/venv"
ruff_pin=$(grep -E '^ruff==' requirements-lint.txt)

if ! cargo fmt --version > /dev/null 2>&1 || ! cargo clippy --version > /dev/null 2>&1; then
  echo "install-lint-tools: rustup component add rustfmt clippy"
  rustup component add rustfmt clippy
fi

if [[ "$("${venv}/bin/ruff" --version 2> /dev/null)" != "ruff ${ruff_pin#ruff==}" ]]; then
  if ! python3 -c 'import venv, ensurepip' > /dev/null 2>&1; then
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    echo "install-lint-tools: apt-get install python3-venv"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-venv
  fi
  [[ -x "${venv}/bin/python" ]] || { mkdir -p "${tools_dir}" && python3 -m venv "${venv}"; }
  echo "install-lint-tools: pip install ${ruff_pin}"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-lint.txt
fi
