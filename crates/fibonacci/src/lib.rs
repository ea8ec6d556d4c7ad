//! The Fibonacci numbers: `GET /fibonacci/{n}/` answers F(n), exactly. (The fibonacci
//! service also serves the shared sequence, `mathapi-sequence-api`.)

use mathapi_function::{Description, Example, Function, FunctionApi, Page, Param};
use mathapi_http::Cost;

/// The largest `n` any configuration may allow: F(100 000) has 20 899 digits and is
/// computed and rendered in about a millisecond.
pub const HARD_MAX_N: u64 = 100_000;
/// The largest n computed inline on the async worker: F(5 000) has 1 045 digits and takes
/// tens of microseconds, about what handing it to the blocking pool costs (see
/// docs/reliability.md). Larger ones go through the compute limit.
const CHEAP_MAX_N: u64 = 5_000;

/// The Fibonacci function.
pub struct Fibonacci;

/// Its API.
pub type FibonacciApi = FunctionApi<Fibonacci>;

impl Function for Fibonacci {
    const DESCRIPTION: &'static Description = &Description {
        name: "fibonacci",
        title: "Fibonacci API",
        document: "Exact Fibonacci numbers: `GET /fibonacci/{n}/` answers F(n) as a decimal string. \
                   The sequence stepper (`/fibonacci/current`, `next`, `previous`, `reset`) walks one shared, durable \
                   sequence. Errors are RFC 9457 problem documents (`application/problem+json`).",
        summary: "The n-th Fibonacci number",
        details: "F(0) = 0, F(1) = 1, F(n) = F(n-1) + F(n-2), computed exactly.",
        tag: ("Fibonacci", "Fibonacci numbers."),
        result_schema: ("FibonacciResult", "A Fibonacci number."),
        result_description: "F(n), exact, as a decimal string (it does not fit in a JSON number for n > 78).",
        params: &[Param {
            name: "n",
            description: "The argument.",
            default_max: 400,
            hard_max: HARD_MAX_N,
            flag: "fibonacci-max-n",
            env: "MATHAPI_FIBONACCI_MAX_N",
        }],
        example: Example {
            args: &[10],
            result: "55",
        },
        default_port: 8001,
        page: Page {
            heading: "Fibonacci",
            formula: "F(n)",
            hint: "F(0) = 0, F(1) = 1, F(n) = F(n−1) + F(n−2)",
            initial: &[100],
        },
    };

    fn compute(args: &[u64]) -> Result<String, String> {
        Ok(mathapi_math::fibonacci(args[0]).to_string())
    }

    fn cost(args: &[u64]) -> Cost {
        Cost::by_size(args[0], CHEAP_MAX_N)
    }
}
