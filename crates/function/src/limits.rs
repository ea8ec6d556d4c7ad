//! The configured limits of a list of functions: one `--{name}-max-{param}` flag per
//! parameter, with its `MATHAPI_*` environment fallback, its default and its hard cap, all
//! read from the functions' descriptions.

use std::marker::PhantomData;

use clap::{Arg, ArgMatches, Command, FromArgMatches};

use crate::description::{Entry, Function};

/// A list of functions known when the program is compiled: one function ([`One`]) or the
/// platform's whole list.
pub trait Catalog: Send + Sync + 'static {
    /// The functions, in display order.
    const ENTRIES: &'static [Entry];
}

/// The catalog of a single function: what its own binary serves.
pub struct One<F>(PhantomData<fn() -> F>);

impl<F: Function> Catalog for One<F> {
    const ENTRIES: &'static [Entry] = &[Entry::of::<F>()];
}

/// The largest accepted value of every parameter of every function of a catalog.
///
/// As command-line arguments (`clap::Args`), `Limits<C>` adds the flags of `C`'s functions.
pub struct Limits<C = ()> {
    maxima: Vec<(&'static str, Vec<u64>)>,
    catalog: PhantomData<fn() -> C>,
}

impl<C> Clone for Limits<C> {
    fn clone(&self) -> Self {
        Limits {
            maxima: self.maxima.clone(),
            catalog: PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for Limits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.maxima.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<C> Limits<C> {
    /// The configured maxima of `function`'s parameters, in path order; its defaults when
    /// the catalog does not hold it.
    pub fn maxima(&self, function: &Entry) -> Vec<u64> {
        self.maxima
            .iter()
            .find(|(name, _)| *name == function.name())
            .map(|(_, maxima)| maxima.clone())
            .unwrap_or_else(|| {
                function
                    .description
                    .params
                    .iter()
                    .map(|p| p.default_max)
                    .collect()
            })
    }

    /// The same limits, as another catalog's type (the values are kept by name).
    pub fn erase(&self) -> Limits {
        Limits {
            maxima: self.maxima.clone(),
            catalog: PhantomData,
        }
    }
}

impl<C: Catalog> Limits<C> {
    /// Every parameter at its default maximum.
    pub fn defaults() -> Self {
        Limits {
            maxima: C::ENTRIES
                .iter()
                .map(|e| {
                    (
                        e.name(),
                        e.description.params.iter().map(|p| p.default_max).collect(),
                    )
                })
                .collect(),
            catalog: PhantomData,
        }
    }
}

impl<C: Catalog> Default for Limits<C> {
    fn default() -> Self {
        Self::defaults()
    }
}

impl<C: Catalog> FromArgMatches for Limits<C> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut limits = Self::defaults();
        limits.update_from_arg_matches(matches)?;
        Ok(limits)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for (entry, (_, maxima)) in C::ENTRIES.iter().zip(&mut self.maxima) {
            *maxima = maxima_from(entry, matches);
        }
        Ok(())
    }
}

impl<C: Catalog> clap::Args for Limits<C> {
    fn augment_args(command: Command) -> Command {
        C::ENTRIES.iter().fold(command, add_limit_args)
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

/// Adds `entry`'s limit flags to `command`.
pub(crate) fn add_limit_args(command: Command, entry: &Entry) -> Command {
    entry
        .description
        .params
        .iter()
        .fold(command, |command, param| {
            command.arg(
                Arg::new(param.flag)
                    .long(param.flag)
                    .env(param.env)
                    .value_name(param.name.to_uppercase())
                    .help(format!(
                        "Largest {} that {} accepts (at most {}).",
                        param.name,
                        entry.name(),
                        param.hard_max
                    ))
                    .default_value(param.default_max.to_string())
                    .value_parser(clap::value_parser!(u64).range(0..=param.hard_max)),
            )
        })
}

/// The maxima of `entry`'s parameters that `matches` holds (their defaults where absent).
pub(crate) fn maxima_from(entry: &Entry, matches: &ArgMatches) -> Vec<u64> {
    entry
        .description
        .params
        .iter()
        .map(|param| {
            matches
                .try_get_one::<u64>(param.flag)
                .ok()
                .flatten()
                .copied()
                .unwrap_or(param.default_max)
        })
        .collect()
}
