//! Exact Fibonacci, factorial and Ackermann functions on arbitrary-precision integers.
//!
//! Pure functions, no I/O: the services validate and bound the arguments, this crate only
//! computes. Every function runs in time polynomial in the size of its result, so raising
//! a service's limits never turns one request into an unbounded amount of work.

mod ackermann;
mod factorial;
mod fibonacci;

pub use ackermann::{AckermannError, ackermann, max_computable_n};
pub use factorial::factorial;
pub use fibonacci::{fibonacci, fibonacci_pair};
pub use num_bigint::BigUint;
