//! Traffic generator for the math APIs: a seeded mix of valid and deliberately invalid
//! requests to every function of the platform's list (`mathapi-functions`: `fibonacci`,
//! `factorial`, `ackermann`, ...), sent at a steady rate with bounded concurrency, checked
//! against the status each one should get, and summarised at the end. The functions, their
//! parameters, the limit flags and what is computable all come from the list.
//!
//! [`plan`] decides what to send, [`runner`] sends it, [`summary`] counts what came back and
//! [`cli`] wires them to the command line.

pub mod cli;
pub mod plan;
pub mod runner;
pub mod summary;
