#!/usr/bin/env bash
# `make lint`: every check of the code's form, all run even when one fails, the failed ones
# named at the end:
#   rustfmt        the workspace and the fuzz targets (fuzz/, a cargo project of its own)
#   clippy         every target of the workspace, warnings as errors
#   rustdoc        the workspace's documentation, warnings as errors (every crate, not just
#                  up to the first that fails)
#   ruff           the Python (scripts/, tests/stack/): lint rules and format (ruff.toml)
# `scripts/lint.sh fmt` (`make fmt`) rewrites instead: rustfmt on both, then ruff format.
#
# Installs what is missing (ruff at the version in requirements-lint.txt, rustfmt, clippy)
# with scripts/install-lint-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_dir="${MATHAPI_LINT_TOOLS:-${HOME}/.local/share/mathapi-lint-tools}"
ruff="${tools_dir}/venv/bin/ruff"
ruff_pin=$(grep -E '^ruff==' requirements-lint.txt)

if [[ "$("${ruff}" --version 2> /dev/null)" != "ruff ${ruff_pin#ruff==}" ]] \
  || ! cargo fmt --version > /dev/null 2>&1 || ! cargo clippy --version > /dev/null 2>&1; then
  echo "make ${1:-lint}: installing its tools (${ruff_pin}, rustfmt, clippy: scripts/install-lint-tools.sh)" >&2
  scripts/install-lint-tools.sh
fi

if [[ "${1:-}" == fmt ]]; then
  cargo fmt --all
  cargo fmt --manifest-path fuzz/Cargo.toml
  "${ruff}" format .
  exit 0
fi

failed=()
step() { # name command...: runs the command, noting the name when it fails
  local name=$1
  shift
  echo "== lint: ${name}"
  "$@" || failed+=("${name}")
}
step "rustfmt (workspace)" cargo fmt --all -- --check
step "rustfmt (fuzz/)" cargo fmt --manifest-path fuzz/Cargo.toml -- --check
step "clippy" cargo clippy --workspace --all-targets -- -D warnings
step "rustdoc" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --keep-going
step "ruff check" "${ruff}" check .
step "ruff format" "${ruff}" format --check .

if ((${#failed[@]})); then
  echo "make lint: ${#failed[@]} failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "make lint: all checks passed"
