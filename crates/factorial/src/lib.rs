//! The factorial: `GET /factorial/{n}/` answers n!, exactly.

use mathapi_function::{Description, Example, Function, FunctionApi, Page, Param};
use mathapi_http::Cost;

/// The largest `n` any configuration may allow: 10 000! has 35 660 digits and is
/// computed and rendered in a few milliseconds.
pub const HARD_MAX_N: u64 = 10_000;
/// The largest n computed inline on the async worker: 450! has 1 001 digits and takes tens
/// of microseconds, about what handing it to the blocking pool costs (see
/// docs/reliability.md). Larger ones go through the compute limit.
const CHEAP_MAX_N: u64 = 450;

/// The factorial function.
pub struct Factorial;

/// Its API.
pub type FactorialApi = FunctionApi<Factorial>;

impl Function for Factorial {
    const DESCRIPTION: &'static Description = &Description {
        name: "factorial",
        title: "Factorial API",
        document: "Exact factorials: `GET /factorial/{n}/` answers n! as a decimal string. \
                   Errors are RFC 9457 problem documents (`application/problem+json`).",
        summary: "The factorial of n",
        details: "n! = 1 × 2 × … × n, with 0! = 1, computed exactly.",
        tag: ("Factorial", "Factorials."),
        result_schema: ("FactorialResult", "A factorial."),
        result_description: "n!, exact, as a decimal string (it does not fit in a JSON number for n > 18).",
        params: &[Param {
            name: "n",
            description: "The argument.",
            default_max: 400,
            hard_max: HARD_MAX_N,
            flag: "factorial-max-n",
            env: "MATHAPI_FACTORIAL_MAX_N",
        }],
        example: Example {
            args: &[5],
            result: "120",
        },
        default_port: 8002,
        page: Page {
            heading: "Factorial",
            formula: "n!",
            hint: "n! = 1 × 2 × … × n, and 0! = 1",
            initial: &[50],
        },
    };

    fn compute(args: &[u64]) -> Result<String, String> {
        Ok(mathapi_math::factorial(args[0]).to_string())
    }

    fn cost(args: &[u64]) -> Cost {
        Cost::by_size(args[0], CHEAP_MAX_N)
    }
}
