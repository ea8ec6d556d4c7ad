//! [`WithSequence`]: a service's API and the sequence's routes, served as one API; and
//! [`WithSequenceArgs`], the command line of such a service.

use std::collections::HashMap;
use std::sync::Arc;

use mathapi_http::{HeaderRule, MathApi, ParamBound, Readiness, ResponseExample};
use mathapi_sequence::{OpenError, SyncHook};
use mathapi_telemetry::Metrics;
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, Registry};

use crate::{Sequence, SequenceApi, SequenceArgs};

/// `api` with the sequence's routes next to it: one API, published and checked as `api`
/// is ([`MathApi`]: its name, title, description, port and bounds), plus the sequence's
/// examples and header rules. Its readiness is `api`'s alone: the sequence's storage
/// serves only the sequence's routes, so it never takes the others out of service.
///
/// The routes and documents are those of the tuple `(A, SequenceApi)`; the wrapper exists
/// because a foreign trait ([`MathApi`]) cannot be implemented on a tuple.
#[derive(Clone)]
pub struct WithSequence<A> {
    apis: (A, SequenceApi),
}

impl<A> WithSequence<A> {
    /// `api` and `sequence`, as one API.
    pub fn new(api: A, sequence: SequenceApi) -> Self {
        WithSequence {
            apis: (api, sequence),
        }
    }

    /// `api` with a sequence opened from `args`; must run inside the Tokio runtime.
    pub fn open(api: A, args: &SequenceArgs, metrics: &Metrics) -> Result<Self, OpenError> {
        Self::open_with_sync_hook(api, args, metrics, None)
    }

    /// [`WithSequence::open`], with a hook the embedded store calls before each
    /// `fdatasync` (tests use it to stall the disk for real).
    pub fn open_with_sync_hook(
        api: A,
        args: &SequenceArgs,
        metrics: &Metrics,
        before_sync: Option<SyncHook>,
    ) -> Result<Self, OpenError> {
        let sequence = Sequence::open_with_sync_hook(args, metrics, before_sync)?;
        Ok(Self::new(api, SequenceApi::new(sequence)))
    }

    /// The API the sequence was added to.
    pub fn api(&self) -> &A {
        &self.apis.0
    }

    /// The sequence's routes.
    pub fn sequence(&self) -> &SequenceApi {
        &self.apis.1
    }
}

impl<A: OpenApi> OpenApi for WithSequence<A> {
    fn meta() -> Vec<MetaApi> {
        <(A, SequenceApi)>::meta()
    }

    fn register(registry: &mut Registry) {
        <(A, SequenceApi)>::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.apis.add_routes(route_table);
    }
}

impl<A: MathApi> MathApi for WithSequence<A> {
    const NAME: &'static str = A::NAME;
    const TITLE: &'static str = A::TITLE;
    const DESCRIPTION: &'static str = A::DESCRIPTION;
    const DEFAULT_PORT: u16 = A::DEFAULT_PORT;

    fn bounds(&self) -> Vec<ParamBound> {
        self.api().bounds()
    }

    fn examples(&self) -> Vec<ResponseExample> {
        [self.api().examples(), self.sequence().examples()].concat()
    }

    fn header_rules(&self) -> Vec<HeaderRule> {
        [self.api().header_rules(), self.sequence().header_rules()].concat()
    }

    fn withdrawn(&self) -> Vec<mathapi_http::Withdrawn> {
        [self.api().withdrawn(), self.sequence().withdrawn()].concat()
    }

    fn readiness(&self) -> Vec<Arc<dyn Readiness>> {
        self.api().readiness()
    }
}

/// The command line of a service with the sequence: its own flags (`api`) and the
/// sequence's ([`SequenceArgs`]), in that order.
#[derive(Debug, Clone, clap::Args)]
pub struct WithSequenceArgs<T: clap::Args> {
    /// The service's own settings.
    #[command(flatten)]
    pub api: T,
    /// The sequence's settings.
    #[command(flatten)]
    pub sequence: SequenceArgs,
}
