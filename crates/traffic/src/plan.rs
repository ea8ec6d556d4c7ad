//! The request mix: which function to call, with which arguments, and what the API must answer.
//!
//! The mix is a seeded, infinite iterator, so a run can be replayed exactly (`--seed`) and tests
//! can recompute what a run sent.

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// One of the three math functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    Fibonacci,
    Factorial,
    Ackermann,
}

impl Function {
    /// Every function, in display order.
    pub const ALL: [Function; 3] = [
        Function::Fibonacci,
        Function::Factorial,
        Function::Ackermann,
    ];

    /// The name used in paths, metrics and reports.
    pub fn name(self) -> &'static str {
        match self {
            Function::Fibonacci => "fibonacci",
            Function::Factorial => "factorial",
            Function::Ackermann => "ackermann",
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of request this is: valid, or which way it is deliberately wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Arguments within the limits: expect 200.
    Valid,
    /// `abc`, `1.5`, `12a`: expect 400.
    NotAnInteger,
    /// `-3`: expect 400.
    Negative,
    /// Above the service's limit, e.g. fibonacci `401`, ackermann `4/4`: expect 400.
    OutOfRange,
    /// More digits than a 64-bit integer holds: expect 400.
    TooLargeToParse,
    /// A path segment left out, e.g. `/ackermann/3/`: the services answer 400
    /// (`missing_argument`) with a usage hint rather than a bare 404.
    MissingSegment,
    /// An extra path segment, e.g. `/fibonacci/10/extra/`: expect 404.
    UnknownPath,
    /// `POST` on a `GET` route: expect 405.
    WrongMethod,
}

impl Class {
    /// The invalid classes, each drawn equally often.
    pub const INVALID: [Class; 7] = [
        Class::NotAnInteger,
        Class::Negative,
        Class::OutOfRange,
        Class::TooLargeToParse,
        Class::MissingSegment,
        Class::UnknownPath,
        Class::WrongMethod,
    ];

    /// The status code the API must answer with.
    pub fn expected_status(self) -> u16 {
        match self {
            Class::Valid => 200,
            Class::NotAnInteger
            | Class::Negative
            | Class::OutOfRange
            | Class::TooLargeToParse
            | Class::MissingSegment => 400,
            Class::UnknownPath => 404,
            Class::WrongMethod => 405,
        }
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Class::Valid => "valid",
            Class::NotAnInteger => "not_an_integer",
            Class::Negative => "negative",
            Class::OutOfRange => "out_of_range",
            Class::TooLargeToParse => "too_large_to_parse",
            Class::MissingSegment => "missing_segment",
            Class::UnknownPath => "unknown_path",
            Class::WrongMethod => "wrong_method",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// HTTP method of a planned request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
        })
    }
}

/// The argument limits valid requests stay within (the services' defaults unless changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub fibonacci_max_n: u64,
    pub factorial_max_n: u64,
    pub ackermann_max_m: u64,
    pub ackermann_max_n: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fibonacci_max_n: 400,
            factorial_max_n: 400,
            ackermann_max_m: 3,
            ackermann_max_n: 4,
        }
    }
}

/// One request to send, with the answer it must get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    pub function: Function,
    pub class: Class,
    pub method: Method,
    /// Absolute path below the base URL, e.g. `/ackermann/2/3/`.
    pub path: String,
}

impl PlannedRequest {
    /// The status code the API must answer with.
    pub fn expected_status(&self) -> u16 {
        self.class.expected_status()
    }
}

/// Seeded generator of [`PlannedRequest`]s: a share `error_share` of them invalid, the
/// invalid ones spread evenly over [`Class::INVALID`], functions drawn uniformly.
#[derive(Debug, Clone)]
pub struct Mix {
    rng: StdRng,
    functions: Vec<Function>,
    limits: Limits,
    error_share: f64,
}

impl Mix {
    /// A mix over `functions` (duplicates ignored; empty means all three).
    ///
    /// # Panics
    /// If `error_share` is not within 0.0..=1.0.
    pub fn new(seed: u64, functions: &[Function], limits: Limits, error_share: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&error_share),
            "error share {error_share} is not within 0..=1"
        );
        let mut functions = functions.to_vec();
        functions.sort();
        functions.dedup();
        if functions.is_empty() {
            functions = Function::ALL.to_vec();
        }
        Mix {
            rng: StdRng::seed_from_u64(seed),
            functions,
            limits,
            error_share,
        }
    }

    /// The next request of the plan.
    pub fn next_request(&mut self) -> PlannedRequest {
        let function = self.functions[self.rng.random_range(0..self.functions.len())];
        let class = if self.rng.random_bool(self.error_share) {
            Class::INVALID[self.rng.random_range(0..Class::INVALID.len())]
        } else {
            Class::Valid
        };
        self.build(function, class)
    }

    fn build(&mut self, function: Function, class: Class) -> PlannedRequest {
        let name = function.name();
        let valid = self.valid_args(function);
        let (method, path) = match class {
            Class::Valid => (Method::Get, format!("/{name}/{valid}/")),
            Class::WrongMethod => (Method::Post, format!("/{name}/{valid}/")),
            Class::UnknownPath => (Method::Get, format!("/{name}/{valid}/extra/")),
            Class::MissingSegment => {
                let path = match function {
                    // Keep the first of the two arguments, drop the second.
                    Function::Ackermann => {
                        format!("/{name}/{}/", valid.split('/').next().unwrap_or("0"))
                    }
                    _ => format!("/{name}/"),
                };
                (Method::Get, path)
            }
            Class::NotAnInteger | Class::Negative | Class::OutOfRange | Class::TooLargeToParse => {
                let args = match function {
                    Function::Ackermann => self.bad_ackermann_args(class),
                    Function::Fibonacci => self.bad_arg(class, self.limits.fibonacci_max_n),
                    Function::Factorial => self.bad_arg(class, self.limits.factorial_max_n),
                };
                (Method::Get, format!("/{name}/{args}/"))
            }
        };
        PlannedRequest {
            function,
            class,
            method,
            path,
        }
    }

    /// Valid arguments as path segments: `n` or `m/n`.
    fn valid_args(&mut self, function: Function) -> String {
        match function {
            Function::Fibonacci => self
                .rng
                .random_range(0..=self.limits.fibonacci_max_n)
                .to_string(),
            Function::Factorial => self
                .rng
                .random_range(0..=self.limits.factorial_max_n)
                .to_string(),
            Function::Ackermann => {
                let m = self.rng.random_range(0..=self.limits.ackermann_max_m);
                let n_max = computable_n_max(m).map_or(self.limits.ackermann_max_n, |cap| {
                    cap.min(self.limits.ackermann_max_n)
                });
                let n = self.rng.random_range(0..=n_max);
                format!("{m}/{n}")
            }
        }
    }

    /// One invalid argument of `class` for a limit of `max`.
    fn bad_arg(&mut self, class: Class, max: u64) -> String {
        match class {
            Class::NotAnInteger => ["abc", "1.5", "12a"][self.rng.random_range(0..3)].to_string(),
            Class::Negative => format!("-{}", self.rng.random_range(1..=100u32)),
            Class::OutOfRange => match max.checked_add(1) {
                // Half the time the first value past the limit, the boundary that matters most.
                Some(first) if self.rng.random_bool(0.5) => first.to_string(),
                Some(first) => self
                    .rng
                    .random_range(first..=first.saturating_add(99))
                    .to_string(),
                // Nothing is out of range below u64::MAX: too large to parse is the next best.
                None => self.bad_arg(Class::TooLargeToParse, max),
            },
            Class::TooLargeToParse => {
                // 21 or more digits with a non-zero lead: always above u64::MAX (20 digits).
                let digits = self.rng.random_range(21..=30);
                let mut s = self.rng.random_range(1..=9u8).to_string();
                for _ in 1..digits {
                    s.push(char::from(b'0' + self.rng.random_range(0..=9u8)));
                }
                s
            }
            _ => unreachable!("{class} is not an argument class"),
        }
    }

    /// Ackermann arguments with one of `m`, `n` invalid (out of range may hit both).
    fn bad_ackermann_args(&mut self, class: Class) -> String {
        let Limits {
            ackermann_max_m: max_m,
            ackermann_max_n: max_n,
            ..
        } = self.limits;
        let m_ok = self.rng.random_range(0..=max_m).to_string();
        let n_ok = self.rng.random_range(0..=max_n).to_string();
        let choices = if class == Class::OutOfRange { 3 } else { 2 };
        match self.rng.random_range(0..choices) {
            0 => format!("{}/{n_ok}", self.bad_arg(class, max_m)),
            1 => format!("{m_ok}/{}", self.bad_arg(class, max_n)),
            _ => format!(
                "{}/{}",
                self.bad_arg(class, max_m),
                self.bad_arg(class, max_n)
            ),
        }
    }
}

impl Iterator for Mix {
    type Item = PlannedRequest;

    fn next(&mut self) -> Option<PlannedRequest> {
        Some(self.next_request())
    }
}

/// The largest `n` for which A(m, n) has a finite, storable value, when `m` caps it.
///
/// Rows 0 to 3 are computable for any `n`; row 4 up to A(4, 2) (19,729 digits), row 5 only at
/// A(5, 0). The services refuse the rest with 400, so valid requests never draw them.
fn computable_n_max(m: u64) -> Option<u64> {
    match m {
        0..=3 => None,
        4 => Some(2),
        _ => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    const DRAWS: usize = 20_000;

    fn mix(seed: u64, share: f64) -> Mix {
        Mix::new(seed, &Function::ALL, Limits::default(), share)
    }

    /// The numeric path segments after the function name.
    fn args(request: &PlannedRequest) -> Vec<&str> {
        let rest = request
            .path
            .strip_prefix(&format!("/{}/", request.function))
            .expect("path starts with the function");
        rest.split('/').filter(|s| !s.is_empty()).collect()
    }

    #[test]
    fn error_share_is_respected() {
        for (seed, share) in [(1, 0.0), (2, 0.05), (3, 0.2), (4, 0.5), (5, 0.9), (6, 1.0)] {
            let invalid = mix(seed, share)
                .take(DRAWS)
                .filter(|r| r.class != Class::Valid)
                .count();
            let observed = invalid as f64 / DRAWS as f64;
            // Binomial standard deviation is at most 0.0036 here; 0.015 is over 4 of them.
            assert!(
                (observed - share).abs() < 0.015,
                "share {share}: observed {observed}"
            );
            if share == 0.0 {
                assert_eq!(invalid, 0);
            }
            if share == 1.0 {
                assert_eq!(invalid, DRAWS);
            }
        }
    }

    #[test]
    fn every_invalid_class_appears_for_every_function_evenly() {
        let mut counts: BTreeMap<(Function, Class), usize> = BTreeMap::new();
        for r in mix(11, 1.0).take(DRAWS) {
            *counts.entry((r.function, r.class)).or_default() += 1;
        }
        let expected = DRAWS as f64 / (3.0 * 7.0);
        for function in Function::ALL {
            for class in Class::INVALID {
                let n = counts.get(&(function, class)).copied().unwrap_or(0) as f64;
                assert!(
                    (n - expected).abs() < expected * 0.2,
                    "{function}/{class}: {n} draws, expected about {expected}"
                );
            }
        }
    }

    #[test]
    fn valid_arguments_stay_within_the_limits_and_cover_them() {
        let limits = Limits {
            fibonacci_max_n: 30,
            factorial_max_n: 12,
            ackermann_max_m: 2,
            ackermann_max_n: 6,
        };
        let mut seen: BTreeMap<Function, BTreeSet<Vec<u64>>> = BTreeMap::new();
        for r in Mix::new(21, &Function::ALL, limits, 0.0).take(DRAWS) {
            assert_eq!((r.class, r.method), (Class::Valid, Method::Get));
            assert!(r.path.ends_with('/'), "{}", r.path);
            let values: Vec<u64> = args(&r).iter().map(|a| a.parse().unwrap()).collect();
            match r.function {
                Function::Fibonacci => assert!(values.len() == 1 && values[0] <= 30, "{r:?}"),
                Function::Factorial => assert!(values.len() == 1 && values[0] <= 12, "{r:?}"),
                Function::Ackermann => {
                    assert!(
                        values.len() == 2 && values[0] <= 2 && values[1] <= 6,
                        "{r:?}"
                    )
                }
            }
            seen.entry(r.function).or_default().insert(values);
        }
        // Every value of the (small) ranges is drawn, including both ends.
        assert_eq!(seen[&Function::Fibonacci].len(), 31);
        assert_eq!(seen[&Function::Factorial].len(), 13);
        assert_eq!(seen[&Function::Ackermann].len(), 3 * 7);
    }

    #[test]
    fn valid_ackermann_arguments_are_computable_when_limits_allow_row_four() {
        let limits = Limits {
            ackermann_max_m: 5,
            ackermann_max_n: 10,
            ..Limits::default()
        };
        let mut rows = BTreeSet::new();
        for r in Mix::new(5, &[Function::Ackermann], limits, 0.0).take(5_000) {
            let v: Vec<u64> = args(&r).iter().map(|a| a.parse().unwrap()).collect();
            let (m, n) = (v[0], v[1]);
            assert!(m <= 3 || (m == 4 && n <= 2) || (m == 5 && n == 0), "{r:?}");
            rows.insert(m);
        }
        assert_eq!(rows, (0..=5).collect());
    }

    #[test]
    fn invalid_requests_are_invalid_in_the_way_their_class_says() {
        let limits = Limits::default();
        let max_of = |function: Function, position: usize| match (function, position) {
            (Function::Fibonacci, _) => limits.fibonacci_max_n,
            (Function::Factorial, _) => limits.factorial_max_n,
            (Function::Ackermann, 0) => limits.ackermann_max_m,
            (Function::Ackermann, _) => limits.ackermann_max_n,
        };
        let arity = |function: Function| {
            if function == Function::Ackermann {
                2
            } else {
                1
            }
        };
        for r in mix(31, 1.0).take(DRAWS) {
            let a = args(&r);
            let expected_method = if r.class == Class::WrongMethod {
                Method::Post
            } else {
                Method::Get
            };
            assert_eq!(r.method, expected_method, "{r:?}");
            match r.class {
                Class::Valid => unreachable!(),
                Class::MissingSegment => assert_eq!(a.len(), arity(r.function) - 1, "{r:?}"),
                Class::UnknownPath => {
                    assert_eq!(a.len(), arity(r.function) + 1, "{r:?}");
                    assert_eq!(a.last(), Some(&"extra"));
                }
                Class::WrongMethod => assert_eq!(a.len(), arity(r.function), "{r:?}"),
                class => {
                    assert_eq!(a.len(), arity(r.function), "{r:?}");
                    // Each argument is either valid or wrong in exactly the planned way.
                    let mut wrong = 0;
                    for (i, arg) in a.iter().enumerate() {
                        let is = match arg.parse::<u64>() {
                            Ok(v) if v <= max_of(r.function, i) => continue,
                            Ok(_) => Class::OutOfRange,
                            Err(_) if arg.starts_with('-') => Class::Negative,
                            Err(_) if arg.bytes().all(|b| b.is_ascii_digit()) => {
                                Class::TooLargeToParse
                            }
                            Err(_) => Class::NotAnInteger,
                        };
                        assert_eq!(is, class, "{r:?}");
                        wrong += 1;
                    }
                    assert!(wrong >= 1, "{r:?}");
                }
            }
        }
    }

    #[test]
    fn the_brief_examples_are_drawn() {
        let paths: BTreeSet<String> = mix(41, 1.0).take(DRAWS).map(|r| r.path).collect();
        for path in [
            "/fibonacci/abc/",
            "/factorial/1.5/",
            "/fibonacci/-3/",
            "/factorial/401/",
            "/ackermann/4/4/",
            "/ackermann/3/",
            "/fibonacci/",
        ] {
            assert!(paths.contains(path), "{path} never drawn");
        }
    }

    #[test]
    fn same_seed_same_plan_other_seed_other_plan() {
        let a: Vec<_> = mix(7, 0.3).take(500).collect();
        let b: Vec<_> = mix(7, 0.3).take(500).collect();
        let c: Vec<_> = mix(8, 0.3).take(500).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn only_the_chosen_functions_are_called() {
        let functions: BTreeSet<Function> = Mix::new(
            3,
            &[Function::Factorial, Function::Factorial],
            Limits::default(),
            0.5,
        )
        .take(1_000)
        .map(|r| r.function)
        .collect();
        assert_eq!(functions, BTreeSet::from([Function::Factorial]));

        let two: BTreeSet<Function> = Mix::new(
            3,
            &[Function::Ackermann, Function::Fibonacci],
            Limits::default(),
            0.5,
        )
        .take(1_000)
        .map(|r| r.function)
        .collect();
        assert_eq!(
            two,
            BTreeSet::from([Function::Fibonacci, Function::Ackermann])
        );
    }

    #[test]
    fn out_of_range_falls_back_when_the_limit_is_the_largest_integer() {
        let limits = Limits {
            fibonacci_max_n: u64::MAX,
            ..Limits::default()
        };
        for r in Mix::new(9, &[Function::Fibonacci], limits, 1.0)
            .take(2_000)
            .filter(|r| r.class == Class::OutOfRange)
        {
            assert!(args(&r)[0].parse::<u64>().is_err(), "{r:?}");
        }
    }
}
