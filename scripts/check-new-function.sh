#!/usr/bin/env bash
# Adds a toy function, `square` (`GET /square/{n}/`, port 8099), to a scratch copy of the
# repository by exactly the steps of docs/adding-a-function.md, regenerates, and checks that
# the new function is served by its own binary and by the all-in-one, and appears in the
# combined document, the command line, CORS, the front page, the traffic generator, a fault
# file, and the generated stack (compose, Traefik, Prometheus, Kubernetes, dashboards) with
# no other edit. It fails if any of those still needs a hand edit, or if more than the three
# documented files outside the function's crate and math module had to change.
#
# usage: scripts/check-new-function.sh   (a debug build in target/new-function; a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=$(mktemp -d)
trap 'rm -rf "${scratch}"' EXIT

echo "== a scratch copy of the work tree in ${scratch}"
tar --exclude=./target --exclude=./tests/browser/node_modules --exclude=./.git -cf - . \
  | tar -xf - -C "${scratch}"
cd "${scratch}"
git init -q && git add -A && git -c user.name=check -c user.email=check@localhost commit -qm base

echo "== step 1: the math module"
cat > crates/math/src/square.rs << 'RS'
//! n², exactly.

use num_bigint::BigUint;

/// n × n, exactly.
pub fn square(n: u64) -> BigUint {
    BigUint::from(n) * n
}
RS
sed -i 's/^mod fibonacci;$/mod fibonacci;\nmod square;/' crates/math/src/lib.rs
sed -i 's/^pub use fibonacci::{fibonacci, fibonacci_pair};$/&\npub use square::square;/' crates/math/src/lib.rs

echo "== step 2: its crate"
mkdir -p crates/square/src
cat > crates/square/Cargo.toml << 'TOML'
[package]
name = "mathapi-square"
description = "The square: GET /square/{n}/"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[lints]
workspace = true

[dependencies]
mathapi-math.workspace = true
mathapi-http.workspace = true
mathapi-function.workspace = true
mathapi-serve.workspace = true

[[bin]]
name = "square"
path = "src/main.rs"
TOML
cat > crates/square/src/lib.rs << 'RS'
//! The square: `GET /square/{n}/` answers n², exactly.

use mathapi_function::{Description, Example, Function, Page, Param};
use mathapi_http::Cost;

/// The square function.
pub struct Square;

impl Function for Square {
    const DESCRIPTION: &'static Description = &Description {
        name: "square",
        title: "Square API",
        document: "Exact squares: `GET /square/{n}/` answers n² as a decimal string.",
        summary: "The square of n",
        details: "n² = n × n, computed exactly.",
        tag: ("Square", "Squares."),
        result_schema: ("SquareResult", "A square."),
        result_description: "n², exact, as a decimal string.",
        params: &[Param {
            name: "n",
            description: "The argument.",
            default_max: 1_000_000,
            hard_max: u64::MAX,
            flag: "square-max-n",
            env: "MATHAPI_SQUARE_MAX_N",
        }],
        example: Example {
            args: &[12],
            result: "144",
        },
        default_port: 8099,
        page: Page {
            heading: "Square",
            formula: "n²",
            hint: "n² = n × n",
            initial: &[12],
        },
    };

    fn compute(args: &[u64]) -> Result<String, String> {
        Ok(mathapi_math::square(args[0]).to_string())
    }

    fn cost(_args: &[u64]) -> Cost {
        Cost::Cheap
    }
}
RS
cat > crates/square/src/main.rs << 'RS'
//! The square service.

fn main() -> std::process::ExitCode {
    mathapi_serve::function_service::<mathapi_square::Square>()
}
RS

echo "== step 3: one line in the list (and its dependency)"
sed -i 's/^    mathapi_ackermann::Ackermann,$/&\n    mathapi_square::Square,/' crates/functions/src/lib.rs
sed -i 's|^mathapi-ackermann = { path = "../ackermann" }$|&\nmathapi-square = { path = "../square" }|' \
  crates/functions/Cargo.toml

echo "== step 4: make generate"
export CARGO_TARGET_DIR="${root}/target/new-function"
make generate > generate.log 2>&1 || { cat generate.log; exit 1; }

echo "== hand-edited files outside the function's crate and math module"
hand=$(git status --porcelain --untracked-files=all \
  | awk '{print $2}' \
  | grep -v -E '^(crates/square/|crates/math/src/square\.rs$|Cargo\.lock$|generate\.log$)' \
  | while read -r file; do grep -q "GENERATED" "${file}" 2> /dev/null || echo "${file}"; done \
  | grep -v -x -F -e configs/functions.json || true)
echo "${hand}"
count=$(grep -c . <<< "${hand}" || true)
if ((count > 5)); then
  echo "check-new-function: ${count} hand-kept files name the new function (at most 5)" >&2
  exit 1
fi

echo "== build"
cargo build --quiet --workspace --bins
python3 "${root}/scripts/check_new_function.py" "${CARGO_TARGET_DIR}/debug" "${scratch}"
echo "check-new-function: square is served, listed and deployed everywhere (${count} hand-kept files)"
