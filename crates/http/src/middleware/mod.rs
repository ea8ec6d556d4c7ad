//! The middleware every request passes through, one layer per job. From the outside in:
//!
//! | layer | what it does |
//! |---|---|
//! | [`RequestId`] | gives the request its id (the client's `X-Request-Id` when it is safe, a new one otherwise) and echoes it on the answer |
//! | [`RecordRequest`] | counts the request in the HTTP metrics, traces it when traces are on, and writes its one `request completed` line |
//! | [`Conformance`] | refuses a request with a missing or repeated `Host` (`400`) before anything else looks at it |
//! | [`InjectFaults`] | delays or fails requests to a function with a fault (only when the process has a fault file) |
//! | [`CachedAnswer`] | answers a `GET` of a math result from the render cache, and keeps fresh ones: immutable, `ETag`, `304` |
//! | [`CollectRecord`] | gathers what the handler noted for the log line, and names the route that answered |
//! | [`RequestSpan`] | runs the handler in the request's span, so its lines carry the request id |
//! | [`AllowedMethods`] | answers a plain `OPTIONS` (`204` with `Allow`), and adds `Allow` to every `405` |
//! | [`Problems`] | turns every error and panic into a problem document |
//! | [`NormalizePath`] | `/fibonacci/10/` and `/fibonacci/10` are one route |
//!
//! Faults are injected before the cache is consulted, so cached answers slow down and fail
//! too; a refused `Host` is neither faulted nor cached. The layers inside [`CachedAnswer`]
//! run only when the answer is computed.
//!
//! Every layer is generic over what it wraps, so the whole stack is one type and one boxed
//! future per request. What the layers share about a request travels two ways without
//! allocating: inwards in the request's scope ([`Incoming`]: its id, its path as received,
//! its server span), and outwards with the answer ([`Answered`]: what the log line and the
//! metrics say about it). The modules:
//!
//! - `incoming`: the request's scope and [`RequestId`];
//! - `record`: [`RecordRequest`] and the log line;
//! - `conformance`: `Host` rules, `Allow` on 405, `OPTIONS`;
//! - `faults`: [`InjectFaults`];
//! - `caching`: [`CachedAnswer`];
//! - `handler`: [`CollectRecord`] and [`RequestSpan`];
//! - `errors`: [`Problems`];
//! - `trailing_slash`: [`NormalizePath`];
//! - `routes`: published route templates, for the `http_route` label and log field.

mod caching;
mod conformance;
mod errors;
mod faults;
mod handler;
mod incoming;
mod record;
mod routes;
mod trailing_slash;

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route};

use crate::app::AppContext;
use crate::request_log::RequestRecord;
use caching::CachedAnswer;
use conformance::{AllowedMethods, Conformance};
use errors::Problems;
use faults::InjectFaults;
use handler::{CollectRecord, RequestSpan};
use incoming::{Incoming, RequestId};
use record::RecordRequest;
use trailing_slash::NormalizePath;

pub use routes::RouteTemplates;

/// `route` inside every layer of the middleware, naming routes by their published `routes`.
pub(crate) fn around(
    route: Route,
    routes: RouteTemplates,
    context: &AppContext,
) -> BoxEndpoint<'static, Response> {
    let routes = Arc::new(routes);
    let answering = route
        .with(NormalizePath)
        .with(Problems)
        .with(AllowedMethods::new(&routes))
        .with(RequestSpan)
        .with(CollectRecord::new(&routes))
        .with(CachedAnswer::new(&context.cache));
    match &context.faults {
        Some(switch) => observed(answering.with(InjectFaults::new(switch, &routes)), context),
        None => observed(answering, context),
    }
}

/// The layers outside the fault injection.
fn observed<E>(answering: E, context: &AppContext) -> BoxEndpoint<'static, Response>
where
    E: Endpoint<Output = Answered> + 'static,
{
    answering
        .with(Conformance)
        .with(RecordRequest::new(&context.metrics))
        .with(RequestId)
        .boxed()
}

/// An endpoint inside one layer: the layer's settings, and what it wraps.
pub(crate) struct Wrapped<L, E> {
    layer: L,
    inner: E,
}

/// An answer on its way out, with what the request's log line and metrics say about it.
pub(crate) struct Answered {
    pub response: Response,
    /// What the handler and the layers noted for the log line.
    pub record: RequestRecord,
    /// The published template of the route that answered; `None` when none did.
    pub route: Option<Arc<str>>,
}

impl Answered {
    /// An answer with nothing noted about it and no route.
    fn plain(response: Response) -> Self {
        Answered {
            response,
            record: RequestRecord::default(),
            route: None,
        }
    }
}

impl IntoResponse for Answered {
    fn into_response(self) -> Response {
        self.response
    }
}
