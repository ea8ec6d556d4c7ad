//! The Ackermann–Péter function: `GET /ackermann/{m}/{n}/` answers A(m, n), exactly.

use mathapi_function::{Description, Example, Function, FunctionApi, Page, Param};
use mathapi_http::Cost;
use mathapi_math::{ackermann, max_computable_n};

/// The largest `m` any configuration may allow. Row 4 is computable only for n ≤ 2
/// (A(4, 2) = 2^65536 − 3); larger arguments there are refused as not computable.
pub const HARD_MAX_M: u64 = 4;
/// The largest `n` any configuration may allow: A(3, 100 000) = 2^100003 − 3 has 30 104
/// digits and is rendered in about a millisecond.
pub const HARD_MAX_N: u64 = 100_000;
/// The largest n of row 3 computed inline on the async worker: A(3, 3 000) has 905 digits
/// and takes tens of microseconds, about what handing it to the blocking pool costs (see
/// docs/reliability.md).
const CHEAP_MAX_N_ROW_3: u64 = 3_000;

/// The Ackermann function.
pub struct Ackermann;

/// Its API.
pub type AckermannApi = FunctionApi<Ackermann>;

impl Function for Ackermann {
    const DESCRIPTION: &'static Description = &Description {
        name: "ackermann",
        title: "Ackermann API",
        document: "The Ackermann–Péter function: `GET /ackermann/{m}/{n}/` answers A(m, n) as a decimal string, \
                   from closed forms (no recursion). Every n up to the configured maximum is computable for m ≤ 3; \
                   A(4, n) exists only for n ≤ 2 (A(4, 2) = 2^65536 − 3), so with m = 4 a larger n answers \
                   `400 not_computable`. Errors are RFC 9457 problem documents (`application/problem+json`).",
        summary: "The Ackermann function A(m, n)",
        details: "A(0, n) = n + 1, A(m, 0) = A(m − 1, 1), A(m, n) = A(m − 1, A(m, n − 1)), computed \
                  exactly from closed forms. A(4, n) exists only for n ≤ 2 (A(4, 2) = 2^65536 − 3; \
                  A(4, 3) has about 10^19728 digits): larger n with m = 4 answer `400 not_computable`.",
        tag: ("Ackermann", "The Ackermann–Péter function."),
        result_schema: ("AckermannResult", "A value of the Ackermann function."),
        result_description: "A(m, n), exact, as a decimal string.",
        params: &[
            Param {
                name: "m",
                description: "The first argument.",
                default_max: 3,
                hard_max: HARD_MAX_M,
                flag: "ackermann-max-m",
                env: "MATHAPI_ACKERMANN_MAX_M",
            },
            Param {
                name: "n",
                description: "The second argument.",
                default_max: 4,
                hard_max: HARD_MAX_N,
                flag: "ackermann-max-n",
                env: "MATHAPI_ACKERMANN_MAX_N",
            },
        ],
        example: Example {
            args: &[2, 3],
            result: "9",
        },
        default_port: 8003,
        page: Page {
            heading: "Ackermann",
            formula: "A(m, n)",
            hint: "Grows faster than any tower of powers",
            initial: &[3, 4],
        },
    };

    fn compute(args: &[u64]) -> Result<String, String> {
        ackermann(args[0], args[1])
            .map(|value| value.to_string())
            .map_err(|e| e.to_string())
    }

    /// Rows 0–2, small row-3 values and the small row-4 values inline; the rest (A(4, 2)
    /// has 19 729 digits) under the compute limit.
    fn cost(args: &[u64]) -> Cost {
        match (args[0], args[1]) {
            (0..=2, _) | (4, 0..=1) | (5.., _) => Cost::Cheap,
            (3, n) if n <= CHEAP_MAX_N_ROW_3 => Cost::Cheap,
            _ => Cost::Heavy,
        }
    }

    fn max_computable_last(prefix: &[u64]) -> Option<u64> {
        max_computable_n(prefix[0])
    }
}
