//! The platform's functions: the one list every server, the command line, the traffic
//! generator and (through `configs/functions.json`) the stack derive theirs from.
//!
//! A new function is one more line in the `functions!` invocation below, after its crate
//! (see docs/adding-a-function.md). The macro gives:
//!
//! | item | what it is |
//! |---|---|
//! | [`All`] | the list as a [`Catalog`]: its entries, and as `Limits<All>` every limit flag |
//! | [`Apis`], [`apis`] | every function's API, as one poem-openapi API (a tuple) |
//! | [`for_each`] | calls a [`Visitor`] with each function's type, in order |

pub use mathapi_function::{Catalog, Entry, Function, FunctionApi, Limits};
use mathapi_telemetry::Metrics;

/// Is called with each function's type by [`for_each`].
pub trait Visitor {
    /// Visits the function `F`.
    fn visit<F: Function>(&mut self);
}

macro_rules! functions {
    ($($function:ty),+ $(,)?) => {
        /// Every function of the platform, in display order.
        pub struct All;

        impl Catalog for All {
            const ENTRIES: &'static [Entry] = &[$(Entry::of::<$function>()),+];
        }

        /// Every function's API, as one poem-openapi API.
        pub type Apis = ($(FunctionApi<$function>,)+);

        /// Every function's API with its configured limits.
        pub fn apis<C>(limits: &Limits<C>, metrics: &Metrics) -> Apis {
            ($(FunctionApi::<$function>::new(limits, metrics),)+)
        }

        /// Calls `visitor` with each function's type, in display order.
        pub fn for_each(visitor: &mut impl Visitor) {
            $(visitor.visit::<$function>();)+
        }
    };
}

functions! {
    mathapi_fibonacci::Fibonacci,
    mathapi_factorial::Factorial,
    mathapi_ackermann::Ackermann,
}

/// The entries of [`All`].
pub fn entries() -> &'static [Entry] {
    All::ENTRIES
}

/// The entry named `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    entries().iter().find(|entry| entry.name() == name)
}
