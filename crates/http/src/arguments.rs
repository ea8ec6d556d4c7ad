//! Turning raw path segments into validated arguments: integers in a configured range, or
//! an [`ArgumentError`] that says exactly what was wrong.

use poem::http::StatusCode;

use crate::problem::Problem;

/// Why an argument was refused. Each variant maps to one `reason` (metrics, logs and the
/// problem document) in [`ArgumentError::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgumentError {
    /// Not a decimal integer (`abc`, `1.5`, `+1`).
    #[error("{name} must be an integer from 0 to {max}, got {value:?}")]
    NotAnInteger {
        name: &'static str,
        value: String,
        max: u64,
    },
    /// A negative integer.
    #[error("{name} must be an integer from 0 to {max}, got the negative number {value}")]
    Negative {
        name: &'static str,
        value: String,
        max: u64,
    },
    /// An integer above the configured maximum.
    #[error("{name} must be an integer from 0 to {max}, got {value}")]
    OutOfRange {
        name: &'static str,
        value: u64,
        max: u64,
    },
    /// An integer too large for 64 bits.
    #[error("{name} must be an integer from 0 to {max}, got {value}, which is too large to parse")]
    TooLargeToParse {
        name: &'static str,
        value: String,
        max: u64,
    },
    /// The path lacks the argument.
    #[error("the argument {name} is missing: use {usage}")]
    Missing {
        name: &'static str,
        usage: &'static str,
    },
    /// Valid arguments whose result is too large to compute (A(4, 3) …).
    #[error("{0}")]
    NotComputable(String),
}

/// Raw values are echoed back in errors only this far, so a huge path cannot make a huge
/// problem document or log line.
pub(crate) const ECHO_LIMIT: usize = 40;

/// `raw`, cut to [`ECHO_LIMIT`] characters.
pub(crate) fn echo(raw: &str) -> String {
    match raw.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

impl ArgumentError {
    /// The machine-readable reason: the `reason` label and problem member.
    pub fn reason(&self) -> &'static str {
        match self {
            ArgumentError::NotAnInteger { .. } => "not_an_integer",
            ArgumentError::Negative { .. } => "negative",
            ArgumentError::OutOfRange { .. } => "out_of_range",
            ArgumentError::TooLargeToParse { .. } => "too_large_to_parse",
            ArgumentError::Missing { .. } => "missing_argument",
            ArgumentError::NotComputable(_) => "not_computable",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ArgumentError::NotAnInteger { .. } => "Argument is not an integer",
            ArgumentError::Negative { .. } => "Argument is negative",
            ArgumentError::OutOfRange { .. } | ArgumentError::TooLargeToParse { .. } => {
                "Argument out of range"
            }
            ArgumentError::Missing { .. } => "Argument missing",
            ArgumentError::NotComputable(_) => "Result too large to compute",
        }
    }

    /// The problem document for this error (status 400).
    pub fn problem(&self) -> Problem {
        Problem::typed(
            StatusCode::BAD_REQUEST,
            self.reason(),
            self.title(),
            self.to_string(),
        )
    }
}

/// Parses a path segment as an integer in `0..=max`.
pub fn parse_argument(name: &'static str, raw: &str, max: u64) -> Result<u64, ArgumentError> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(magnitude) = raw.strip_prefix('-').filter(|m| digits(m)) {
        // "-0" is still zero, which is allowed.
        if magnitude.bytes().all(|b| b == b'0') {
            return Ok(0);
        }
        return Err(ArgumentError::Negative {
            name,
            value: echo(raw),
            max,
        });
    }
    if !digits(raw) {
        return Err(ArgumentError::NotAnInteger {
            name,
            value: echo(raw),
            max,
        });
    }
    let value: u64 = raw.parse().map_err(|_| ArgumentError::TooLargeToParse {
        name,
        value: echo(raw),
        max,
    })?;
    if value > max {
        return Err(ArgumentError::OutOfRange { name, value, max });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_integers_in_range() {
        assert_eq!(parse_argument("n", "0", 400), Ok(0));
        assert_eq!(parse_argument("n", "400", 400), Ok(400));
        assert_eq!(parse_argument("n", "007", 400), Ok(7));
        assert_eq!(parse_argument("n", "-0", 400), Ok(0));
    }

    #[test]
    fn classifies_every_bad_input() {
        let reason = |raw: &str| parse_argument("n", raw, 400).unwrap_err().reason();
        assert_eq!(reason("401"), "out_of_range");
        assert_eq!(reason("18446744073709551615"), "out_of_range");
        assert_eq!(reason("18446744073709551616"), "too_large_to_parse");
        assert_eq!(reason("99999999999999999999999"), "too_large_to_parse");
        assert_eq!(reason("-1"), "negative");
        assert_eq!(reason("-99999999999999999999999"), "negative");
        for raw in [
            "abc", "1.5", "1e3", "", " 1", "+1", "0x10", "-", "--1", "١٢",
        ] {
            assert_eq!(reason(raw), "not_an_integer", "{raw:?}");
        }
    }

    #[test]
    fn details_say_what_is_allowed() {
        let err = parse_argument("m", "9", 3).unwrap_err();
        assert_eq!(err.to_string(), "m must be an integer from 0 to 3, got 9");
        let problem = err.problem();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.problem_type, "urn:mathapi:problem:out-of-range");
    }

    #[test]
    fn long_inputs_are_not_echoed_whole() {
        let raw = "x".repeat(10_000);
        let detail = parse_argument("n", &raw, 400).unwrap_err().to_string();
        assert!(detail.len() < 120, "{detail}");
    }
}
