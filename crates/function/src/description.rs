//! The description of a function: everything about it that is not code, and the three rules
//! that are.

use mathapi_http::{ArgumentError, Cost};

/// One path parameter: `GET /{name}/{param}/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name in paths, documents and messages, e.g. `n`.
    pub name: &'static str,
    /// What it is, for the result document's schema (e.g. "The first argument.").
    pub description: &'static str,
    /// The largest value accepted unless configured otherwise.
    pub default_max: u64,
    /// The largest value any configuration may accept.
    pub hard_max: u64,
    /// The flag that sets the limit, without dashes: `ackermann-max-m`.
    pub flag: &'static str,
    /// The environment variable the flag falls back to: `MATHAPI_ACKERMANN_MAX_M`.
    pub env: &'static str,
}

/// An example answer: the arguments and the decimal result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    /// One value per parameter.
    pub args: &'static [u64],
    /// The exact result.
    pub result: &'static str,
}

/// How the front page shows the function's calculator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The card's heading, e.g. `Ackermann`.
    pub heading: &'static str,
    /// The formula beside it, e.g. `A(m, n)`.
    pub formula: &'static str,
    /// A one-line hint under the inputs.
    pub hint: &'static str,
    /// The values the inputs start with, one per parameter.
    pub initial: &'static [u64],
}

/// Everything about a function that is not code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Description {
    /// Its name: the first path segment, binary name, metric and log label.
    pub name: &'static str,
    /// Title of its own OpenAPI document, e.g. `Ackermann API`.
    pub title: &'static str,
    /// What its own OpenAPI document says it is (Markdown).
    pub document: &'static str,
    /// The operation's summary, also the command line's help for its subcommand.
    pub summary: &'static str,
    /// The operation's description (Markdown).
    pub details: &'static str,
    /// The OpenAPI tag: name and description.
    pub tag: (&'static str, &'static str),
    /// The result document's schema: its name and description, and the `result` field's.
    pub result_schema: (&'static str, &'static str),
    /// What the `result` field holds.
    pub result_description: &'static str,
    /// The path parameters, in path order.
    pub params: &'static [Param],
    /// The documented example.
    pub example: Example,
    /// The port its own binary listens on by default.
    pub default_port: u16,
    /// Its calculator on the front page.
    pub page: Page,
}

impl Description {
    /// The route template, e.g. `/ackermann/{m}/{n}/`.
    pub fn route(&self) -> String {
        let mut route = format!("/{}/", self.name);
        for param in self.params {
            route.push_str(&format!("{{{}}}/", param.name));
        }
        route
    }
}

/// A function: its description and its rules. Implemented by a unit type in the function's
/// crate; the generic API ([`crate::FunctionApi`]) and the rest are derived from it.
pub trait Function: Send + Sync + 'static {
    /// The description.
    const DESCRIPTION: &'static Description;

    /// The exact result as a decimal string, or why it cannot be given (the result is too
    /// large for any computer; answered `400 not_computable`). `args` holds one value per
    /// parameter, each within its configured limit.
    fn compute(args: &[u64]) -> Result<String, String>;

    /// Where the computation runs: inline on the async worker when it takes about as long
    /// as handing it over, else under the compute limit.
    fn cost(args: &[u64]) -> Cost;

    /// The largest value of the last parameter for which the result is computable, given
    /// the values of the others (`prefix`); `None` when none is. Most functions compute every
    /// value within their limits.
    fn max_computable_last(prefix: &[u64]) -> Option<u64> {
        let _ = prefix;
        Some(u64::MAX)
    }
}

/// A function without its type: what lists of functions hold.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The description.
    pub description: &'static Description,
    /// [`Function::compute`].
    pub compute: fn(&[u64]) -> Result<String, String>,
    /// [`Function::cost`].
    pub cost: fn(&[u64]) -> Cost,
    /// [`Function::max_computable_last`].
    pub max_computable_last: fn(&[u64]) -> Option<u64>,
}

impl Entry {
    /// The entry of `F`.
    pub const fn of<F: Function>() -> Entry {
        Entry {
            description: F::DESCRIPTION,
            compute: F::compute,
            cost: F::cost,
            max_computable_last: F::max_computable_last,
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        self.description.name
    }

    /// The result of arguments within their limits, or the refusal the API and the command
    /// line give when it is too large to compute (`400 not_computable`).
    pub fn result(&self, args: &[u64]) -> Result<String, ArgumentError> {
        (self.compute)(args).map_err(ArgumentError::NotComputable)
    }

    /// True when the result of `args` (each within its limit) is computable.
    pub fn computable(&self, args: &[u64]) -> bool {
        let Some((last, prefix)) = args.split_last() else {
            return true;
        };
        (self.max_computable_last)(prefix).is_some_and(|max| *last <= max)
    }
}
