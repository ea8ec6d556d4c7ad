//! The request mix: which function to call, with which arguments, and what the API must answer.
//!
//! The functions, their parameters and their limits all come from the platform's list
//! ([`mathapi_functions::entries`]): a function added there is called here without a change.
//!
//! The mix is a seeded, infinite iterator, so a run can be replayed exactly (`--seed`) and tests
//! can recompute what a run sent.

use std::fmt;

use mathapi_function::{Entry, Limits};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// What kind of request this is: valid, or which way it is deliberately wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Arguments within the limits and computable: expect 200.
    Valid,
    /// `abc`, `1.5`, `12a` in one parameter: expect 400.
    NotAnInteger,
    /// `-3` in one parameter: expect 400.
    Negative,
    /// Above the service's limit in one parameter or in every one, e.g. fibonacci `401`,
    /// ackermann `4/4`: expect 400.
    OutOfRange,
    /// More digits than a 64-bit integer holds, in one parameter: expect 400.
    TooLargeToParse,
    /// The last path segment left out, the earlier ones kept, e.g. `/ackermann/3/`: the
    /// services answer 400 (`missing_argument`) with a usage hint rather than a bare 404.
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

/// One request to send, with the answer it must get.
#[derive(Clone)]
pub struct PlannedRequest {
    /// The function called; its name is the path's first segment.
    pub function: &'static Entry,
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

/// Functions are told apart by name: the list holds each name once.
impl PartialEq for PlannedRequest {
    fn eq(&self, other: &Self) -> bool {
        self.function.name() == other.function.name()
            && self.class == other.class
            && self.method == other.method
            && self.path == other.path
    }
}

impl Eq for PlannedRequest {}

impl fmt::Debug for PlannedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedRequest")
            .field("function", &self.function.name())
            .field("class", &self.class)
            .field("method", &self.method)
            .field("path", &self.path)
            .finish()
    }
}

/// Where a function comes in displays: its position in the platform's list (functions not
/// in it after those, by name).
pub(crate) fn display_order(name: &str) -> (usize, &str) {
    let position = mathapi_functions::entries()
        .iter()
        .position(|entry| entry.name() == name)
        .unwrap_or(usize::MAX);
    (position, name)
}

/// A function the mix calls and the largest value each of its parameters may take.
#[derive(Debug, Clone)]
struct Target {
    entry: &'static Entry,
    maxima: Vec<u64>,
}

/// How many times the parameters before the last are drawn again, at most, when no value of
/// the last is computable with them.
const MAX_REDRAWS: usize = 10_000;

/// Seeded generator of [`PlannedRequest`]s: a share `error_share` of them invalid, the
/// invalid ones spread evenly over [`Class::INVALID`], functions drawn uniformly.
#[derive(Debug, Clone)]
pub struct Mix {
    rng: StdRng,
    targets: Vec<Target>,
    error_share: f64,
}

impl Mix {
    /// A mix over `functions` (in any order, duplicates ignored; none means every function of
    /// the list), valid arguments within `limits`.
    ///
    /// # Panics
    /// If `error_share` is not within 0.0..=1.0, or a function has no parameter.
    pub fn new<C>(
        seed: u64,
        functions: impl IntoIterator<Item = &'static Entry>,
        limits: &Limits<C>,
        error_share: f64,
    ) -> Self {
        let mut functions: Vec<&'static Entry> = functions.into_iter().collect();
        if functions.is_empty() {
            functions = mathapi_functions::entries().iter().collect();
        }
        let targets = functions
            .into_iter()
            .map(|entry| Target {
                entry,
                maxima: limits.maxima(entry),
            })
            .collect();
        Mix::over(seed, targets, error_share)
    }

    fn over(seed: u64, mut targets: Vec<Target>, error_share: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&error_share),
            "error share {error_share} is not within 0..=1"
        );
        // One order whatever the caller's, so that a seed means one plan.
        targets.sort_by(|a, b| display_order(a.entry.name()).cmp(&display_order(b.entry.name())));
        targets.dedup_by(|a, b| a.entry.name() == b.entry.name());
        for target in &targets {
            assert!(
                !target.maxima.is_empty(),
                "{} has no parameter to make valid or invalid",
                target.entry.name()
            );
        }
        Mix {
            rng: StdRng::seed_from_u64(seed),
            targets,
            error_share,
        }
    }

    /// The next request of the plan.
    ///
    /// # Panics
    /// If the function's limits leave no computable arguments (none were found in
    /// 10 000 draws).
    pub fn next_request(&mut self) -> PlannedRequest {
        let target = &self.targets[self.rng.random_range(0..self.targets.len())];
        let class = if self.rng.random_bool(self.error_share) {
            Class::INVALID[self.rng.random_range(0..Class::INVALID.len())]
        } else {
            Class::Valid
        };
        build(&mut self.rng, target, class)
    }
}

impl Iterator for Mix {
    type Item = PlannedRequest;

    fn next(&mut self) -> Option<PlannedRequest> {
        Some(self.next_request())
    }
}

fn build(rng: &mut StdRng, target: &Target, class: Class) -> PlannedRequest {
    let segments: Vec<String> = match class {
        Class::NotAnInteger | Class::Negative | Class::OutOfRange | Class::TooLargeToParse => {
            bad_args(rng, target, class)
        }
        _ => {
            let mut segments: Vec<String> =
                valid_args(rng, target).iter().map(u64::to_string).collect();
            match class {
                Class::MissingSegment => {
                    segments.pop();
                }
                Class::UnknownPath => segments.push("extra".to_string()),
                _ => {}
            }
            segments
        }
    };
    let method = if class == Class::WrongMethod {
        Method::Post
    } else {
        Method::Get
    };
    let mut path = format!("/{}/", target.entry.name());
    for segment in &segments {
        path.push_str(segment);
        path.push('/');
    }
    PlannedRequest {
        function: target.entry,
        class,
        method,
        path,
    }
}

/// Valid arguments: each parameter within its maximum, the last one also within what the
/// function computes given the others (the parameters before it drawn again when it computes
/// none).
fn valid_args(rng: &mut StdRng, target: &Target) -> Vec<u64> {
    let (last_max, prefix_maxima) = target
        .maxima
        .split_last()
        .expect("every target has a parameter");
    for _ in 0..MAX_REDRAWS {
        let mut args: Vec<u64> = prefix_maxima
            .iter()
            .map(|max| rng.random_range(0..=*max))
            .collect();
        if let Some(cap) = (target.entry.max_computable_last)(&args) {
            args.push(rng.random_range(0..=cap.min(*last_max)));
            return args;
        }
    }
    panic!(
        "no computable arguments of {} found within its limits {:?}",
        target.entry.name(),
        target.maxima
    )
}

/// Arguments with a value of `class` in one randomly chosen parameter (for out of range,
/// sometimes in every parameter), the others within their maxima.
fn bad_args(rng: &mut StdRng, target: &Target, class: Class) -> Vec<String> {
    let mut args: Vec<String> = target
        .maxima
        .iter()
        .map(|max| rng.random_range(0..=*max).to_string())
        .collect();
    let count = args.len();
    let several = class == Class::OutOfRange && count > 1;
    let choice = rng.random_range(0..count + usize::from(several));
    if choice < count {
        args[choice] = bad_arg(rng, class, target.maxima[choice]);
    } else {
        for (arg, max) in args.iter_mut().zip(&target.maxima) {
            *arg = bad_arg(rng, class, *max);
        }
    }
    args
}

/// One invalid argument of `class` for a limit of `max`.
fn bad_arg(rng: &mut StdRng, class: Class, max: u64) -> String {
    match class {
        Class::NotAnInteger => ["abc", "1.5", "12a"][rng.random_range(0..3)].to_string(),
        Class::Negative => format!("-{}", rng.random_range(1..=100u32)),
        Class::OutOfRange => match max.checked_add(1) {
            // Half the time the first value past the limit, the boundary that matters most.
            Some(first) if rng.random_bool(0.5) => first.to_string(),
            Some(first) => rng
                .random_range(first..=first.saturating_add(99))
                .to_string(),
            // Nothing is out of range below u64::MAX: too large to parse is the next best.
            None => bad_arg(rng, Class::TooLargeToParse, max),
        },
        Class::TooLargeToParse => {
            // 21 or more digits with a non-zero lead: always above u64::MAX (20 digits).
            let digits = rng.random_range(21..=30);
            let mut s = rng.random_range(1..=9u8).to_string();
            for _ in 1..digits {
                s.push(char::from(b'0' + rng.random_range(0..=9u8)));
            }
            s
        }
        _ => unreachable!("{class} is not an argument class"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use clap::Parser;
    use mathapi_function::{Description, Param};
    use mathapi_functions::{All, Catalog, entries};

    use super::*;

    const DRAWS: usize = 20_000;

    /// A function of three parameters that the list does not hold: `c` is computable up to
    /// `a` when `a + b <= 3`, not at all otherwise.
    static THREE: Entry = Entry {
        description: &Description {
            name: "three",
            params: &[
                Param {
                    name: "a",
                    default_max: 4,
                    ..PARAM
                },
                Param {
                    name: "b",
                    default_max: 2,
                    ..PARAM
                },
                Param {
                    name: "c",
                    default_max: 9,
                    ..PARAM
                },
            ],
            ..DESCRIPTION
        },
        max_computable_last: |prefix| (prefix[0] + prefix[1] <= 3).then_some(prefix[0]),
        ..All::ENTRIES[0]
    };

    /// A function of one parameter that the list does not hold, computable for every value.
    static ONE: Entry = Entry {
        description: &Description {
            name: "one",
            params: &[PARAM],
            ..DESCRIPTION
        },
        max_computable_last: |_| Some(u64::MAX),
        ..All::ENTRIES[0]
    };

    /// A function of one parameter that computes no value.
    static NEVER: Entry = Entry {
        description: &Description {
            name: "never",
            params: &[PARAM],
            ..DESCRIPTION
        },
        max_computable_last: |_| None,
        ..All::ENTRIES[0]
    };

    const DESCRIPTION: Description = *All::ENTRIES[0].description;
    const PARAM: Param = All::ENTRIES[0].description.params[0];

    #[derive(Parser)]
    struct LimitFlags {
        #[command(flatten)]
        limits: Limits<All>,
    }

    /// The limits the services' flags `args` set.
    fn limits(args: &[String]) -> Limits<All> {
        LimitFlags::try_parse_from(
            std::iter::once("limits".to_string()).chain(args.iter().cloned()),
        )
        .unwrap()
        .limits
    }

    /// Every function with maxima of `max(param)` for each parameter.
    fn targets(max: impl Fn(&Param, usize) -> u64) -> Vec<Target> {
        entries()
            .iter()
            .map(|entry| {
                let params = entry.description.params;
                Target {
                    entry,
                    maxima: params.iter().map(|p| max(p, params.len())).collect(),
                }
            })
            .collect()
    }

    fn mix(seed: u64, share: f64) -> Mix {
        Mix::new(seed, entries(), &Limits::<All>::default(), share)
    }

    /// The path segments after the function name.
    fn args(request: &PlannedRequest) -> Vec<&str> {
        let rest = request
            .path
            .strip_prefix(&format!("/{}/", request.function.name()))
            .expect("path starts with the function");
        rest.split('/').filter(|s| !s.is_empty()).collect()
    }

    fn values(request: &PlannedRequest) -> Vec<u64> {
        args(request).iter().map(|a| a.parse().unwrap()).collect()
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
        let mut counts: BTreeMap<(&str, Class), usize> = BTreeMap::new();
        for r in mix(11, 1.0).take(DRAWS) {
            *counts.entry((r.function.name(), r.class)).or_default() += 1;
        }
        let expected = DRAWS as f64 / (entries().len() * Class::INVALID.len()) as f64;
        for entry in entries() {
            for class in Class::INVALID {
                let n = counts.get(&(entry.name(), class)).copied().unwrap_or(0) as f64;
                assert!(
                    (n - expected).abs() < expected * 0.2,
                    "{}/{class}: {n} draws, expected about {expected}",
                    entry.name()
                );
            }
        }
    }

    #[test]
    fn valid_arguments_stay_within_the_limits_and_cover_what_is_computable() {
        // Small ranges (about a hundred combinations per function), up to the hard maxima so
        // that the ones a function does not compute in full are among them.
        let targets = targets(|param, arity| {
            let per_param = (100f64.powf(1.0 / arity as f64) as u64).saturating_sub(1);
            param.hard_max.min(per_param)
        });
        let maxima: BTreeMap<&str, Vec<u64>> = targets
            .iter()
            .map(|t| (t.entry.name(), t.maxima.clone()))
            .collect();
        let mut seen: BTreeMap<&str, BTreeSet<Vec<u64>>> = BTreeMap::new();
        for r in Mix::over(21, targets, 0.0).take(DRAWS) {
            assert_eq!((r.class, r.method), (Class::Valid, Method::Get));
            assert!(r.path.ends_with('/'), "{}", r.path);
            let values = values(&r);
            let max = &maxima[r.function.name()];
            assert_eq!(values.len(), max.len(), "{r:?}");
            assert!(values.iter().zip(max).all(|(v, m)| v <= m), "{r:?}");
            assert!(r.function.computable(&values), "{r:?}");
            seen.entry(r.function.name()).or_default().insert(values);
        }
        // Every computable combination of the small ranges is drawn, including the ends.
        for entry in entries() {
            let all: BTreeSet<Vec<u64>> = combinations(&maxima[entry.name()])
                .into_iter()
                .filter(|args| entry.computable(args))
                .collect();
            assert!(all.len() > 1, "{}", entry.name());
            assert_eq!(seen[entry.name()], all, "{}", entry.name());
        }
    }

    /// Every argument list within `maxima`.
    fn combinations(maxima: &[u64]) -> Vec<Vec<u64>> {
        maxima.iter().fold(vec![vec![]], |lists, max| {
            lists
                .iter()
                .flat_map(|list| {
                    (0..=*max).map(move |v| {
                        let mut list = list.clone();
                        list.push(v);
                        list
                    })
                })
                .collect()
        })
    }

    #[test]
    fn valid_arguments_follow_the_configured_limits() {
        // Every limit at its hard maximum, where some functions do not compute every value.
        let flags: Vec<String> = entries()
            .iter()
            .flat_map(|e| e.description.params)
            .map(|p| format!("--{}={}", p.flag, p.hard_max))
            .collect();
        let limits = limits(&flags);
        for entry in entries() {
            let maxima = limits.maxima(entry);
            let hard: Vec<u64> = entry
                .description
                .params
                .iter()
                .map(|p| p.hard_max)
                .collect();
            assert_eq!(maxima, hard);
            for r in Mix::new(5, [entry], &limits, 0.0).take(2_000) {
                let values = values(&r);
                assert_eq!(values.len(), maxima.len(), "{r:?}");
                assert!(values.iter().zip(&maxima).all(|(v, m)| v <= m), "{r:?}");
                assert!(entry.computable(&values), "{r:?}");
            }
        }
    }

    #[test]
    fn a_function_of_three_parameters_is_called_validly_and_invalidly() {
        let maxima = vec![4, 2, 9];
        let mut prefixes = BTreeSet::new();
        for r in Mix::over(
            13,
            vec![Target {
                entry: &THREE,
                maxima: maxima.clone(),
            }],
            0.5,
        )
        .take(DRAWS)
        {
            assert_eq!(r.function.name(), "three");
            let a = args(&r);
            match r.class {
                Class::Valid => {
                    let v = values(&r);
                    assert!(v[0] + v[1] <= 3 && v[2] <= v[0], "{r:?}");
                    prefixes.insert((v[0], v[1]));
                }
                Class::MissingSegment => assert_eq!(a.len(), 2, "{r:?}"),
                Class::UnknownPath => assert_eq!(a.len(), 4, "{r:?}"),
                _ => assert_eq!(a.len(), 3, "{r:?}"),
            }
        }
        // Every prefix with a computable last value, and only those.
        let computable: BTreeSet<(u64, u64)> = (0..=4)
            .flat_map(|a| (0..=2).map(move |b| (a, b)))
            .filter(|(a, b)| a + b <= 3)
            .collect();
        assert_eq!(prefixes, computable);
    }

    #[test]
    #[should_panic(expected = "no computable arguments of never")]
    fn limits_without_computable_arguments_are_reported() {
        let target = Target {
            entry: &NEVER,
            maxima: vec![9],
        };
        valid_args(&mut StdRng::seed_from_u64(1), &target);
    }

    #[test]
    fn invalid_requests_are_invalid_in_the_way_their_class_says() {
        let limits = Limits::<All>::default();
        let mut out_of_range_everywhere = BTreeSet::new();
        for r in mix(31, 1.0).take(DRAWS) {
            let a = args(&r);
            let maxima = limits.maxima(r.function);
            let arity = maxima.len();
            let expected_method = if r.class == Class::WrongMethod {
                Method::Post
            } else {
                Method::Get
            };
            assert_eq!(r.method, expected_method, "{r:?}");
            match r.class {
                Class::Valid => unreachable!(),
                Class::MissingSegment => assert_eq!(a.len(), arity - 1, "{r:?}"),
                Class::UnknownPath => {
                    assert_eq!(a.len(), arity + 1, "{r:?}");
                    assert_eq!(a.last(), Some(&"extra"));
                }
                Class::WrongMethod => assert_eq!(a.len(), arity, "{r:?}"),
                class => {
                    assert_eq!(a.len(), arity, "{r:?}");
                    // Each argument is either valid or wrong in exactly the planned way.
                    let mut wrong = 0;
                    for (arg, max) in a.iter().zip(&maxima) {
                        let is = match arg.parse::<u64>() {
                            Ok(v) if v <= *max => continue,
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
                    if class != Class::OutOfRange {
                        assert_eq!(wrong, 1, "{r:?}");
                    } else if wrong == arity {
                        out_of_range_everywhere.insert(r.function.name());
                    }
                }
            }
        }
        // Out of range in every parameter at once is drawn too, for every function.
        let every: BTreeSet<&str> = entries().iter().map(Entry::name).collect();
        assert_eq!(out_of_range_everywhere, every);
    }

    #[test]
    fn the_typical_bad_requests_are_drawn_for_every_function_and_parameter() {
        let paths: BTreeSet<String> = mix(41, 1.0).take(3 * DRAWS).map(|r| r.path).collect();
        let limits = Limits::<All>::default();
        for entry in entries() {
            let name = entry.name();
            let maxima = limits.maxima(entry);
            let past: Vec<String> = maxima.iter().map(|m| (m + 1).to_string()).collect();
            // The earlier arguments at their maxima, the last one left out
            // (`/ackermann/3/`, `/fibonacci/`).
            let mut missing = format!("/{name}/");
            for max in &maxima[..maxima.len() - 1] {
                missing.push_str(&format!("{max}/"));
            }
            // Every argument just past its maximum (`/ackermann/4/5/`, `/fibonacci/401/`).
            let mut expected = vec![missing, format!("/{name}/{}/", past.join("/"))];
            let matches = |position: usize, bad: &str| {
                paths.iter().any(|path| {
                    path.strip_prefix(&format!("/{name}/"))
                        .and_then(|rest| rest.split('/').nth(position))
                        == Some(bad)
                })
            };
            for (position, past) in past.iter().enumerate() {
                for bad in ["abc", "1.5", "12a", "-3", past] {
                    assert!(
                        matches(position, bad),
                        "/{name}/: {bad} at {position} never drawn"
                    );
                }
            }
            expected.retain(|path| !paths.contains(path));
            assert!(expected.is_empty(), "{expected:?} never drawn");
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
    fn only_the_chosen_functions_are_called_whatever_their_order() {
        let limits = Limits::<All>::default();
        let all = entries();
        let (first, last) = (&all[0], &all[all.len() - 1]);
        assert_ne!(first.name(), last.name());

        let one: BTreeSet<&str> = Mix::new(3, [last, last], &limits, 0.5)
            .take(1_000)
            .map(|r| r.function.name())
            .collect();
        assert_eq!(one, BTreeSet::from([last.name()]));

        let two: Vec<PlannedRequest> = Mix::new(3, [last, first], &limits, 0.5)
            .take(1_000)
            .collect();
        let names: BTreeSet<&str> = two.iter().map(|r| r.function.name()).collect();
        assert_eq!(names, BTreeSet::from([first.name(), last.name()]));
        let reordered: Vec<PlannedRequest> = Mix::new(3, [first, last, first], &limits, 0.5)
            .take(1_000)
            .collect();
        assert_eq!(two, reordered);

        let none: BTreeSet<&str> = Mix::new(3, [], &limits, 0.5)
            .take(1_000)
            .map(|r| r.function.name())
            .collect();
        assert_eq!(none.len(), all.len());
    }

    #[test]
    fn functions_not_in_the_list_take_their_default_limits() {
        let limits = Limits::<All>::default();
        for r in Mix::new(4, [&THREE], &limits, 0.0).take(1_000) {
            let v = values(&r);
            assert!(v[0] <= 4 && v[1] <= 2 && v[2] <= v[0], "{r:?}");
        }
    }

    #[test]
    fn out_of_range_falls_back_when_the_limit_is_the_largest_integer() {
        let target = Target {
            entry: &ONE,
            maxima: vec![u64::MAX],
        };
        let mut out_of_range = 0;
        for r in Mix::over(9, vec![target], 1.0)
            .take(2_000)
            .filter(|r| r.class == Class::OutOfRange)
        {
            assert!(args(&r)[0].parse::<u64>().is_err(), "{r:?}");
            out_of_range += 1;
        }
        assert!(out_of_range > 0);
    }

    #[test]
    fn functions_are_displayed_in_the_order_of_the_list() {
        let names: Vec<&str> = entries().iter().map(Entry::name).collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|name| display_order(name));
        assert_eq!(names, sorted);
        assert!(display_order(names[names.len() - 1]) < display_order("three"));
    }
}
