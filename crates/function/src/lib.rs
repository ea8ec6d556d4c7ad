//! A math function, described once.
//!
//! A function crate (`mathapi-fibonacci`, `mathapi-factorial`, ...) implements [`Function`]:
//! a static [`Description`] (name, parameters with their limits and flags, texts, example,
//! default port) and three pure rules (compute, cost, computability). Everything a server, the
//! command line, the front page or the stack needs about a function is derived from that:
//!
//! | module | what it derives |
//! |---|---|
//! | `description` | the description itself ([`Description`], [`Param`], [`Function`]) and its type-erased handle ([`Entry`]) |
//! | `limits` | the `--{name}-max-{param}` flags with `MATHAPI_*` fallbacks ([`Limits`], [`Catalog`]) |
//! | `api` | the poem-openapi API `GET /{name}/{p1}/.../` with its document ([`FunctionApi`]) |
//! | `answer` | one answer computed in-process, as the command line prints it ([`Answer`]) |
//! | `command` | the function's subcommand of the command line ([`subcommand`], [`run_subcommand`]) |
//! | `catalog` | the JSON form of a list of functions (`mathapi functions --json`) ([`catalog_json`]) |

mod answer;
mod api;
mod catalog;
mod command;
mod description;
mod limits;

pub use answer::Answer;
pub use api::FunctionApi;
pub use catalog::catalog_json;
pub use command::{run_subcommand, subcommand};
pub use description::{Description, Entry, Example, Function, Page, Param};
pub use limits::{Catalog, Limits, One};
