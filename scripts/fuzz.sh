#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 20; `make fuzz` runs longer).
#
# cargo-fuzz needs nightly-only compiler flags; no nightly toolchain is installed here, so the
# stable compiler is told to accept them (RUSTC_BOOTSTRAP=1, for this build only: the fuzz
# workspace has its own target directory). `--sanitizer none`: AddressSanitizer needs a
# nightly standard library, and the code under test is safe Rust, so the fuzzers check the
# targets' own assertions and panics (libFuzzer's coverage guidance still works).
# cargo-fuzz is installed from crates.io when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
targets=(parse_argument request_id state_file)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz build --sanitizer none -O
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== fuzz $target for ${seconds}s"
  # The seeds are read, never written; new inputs go to corpus/ (not committed).
  cargo fuzz run --sanitizer none -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
