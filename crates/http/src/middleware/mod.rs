//! The middleware every request passes through, one layer per job. From the outside in:
//!
//! | layer | what it does |
//! |---|---|
//! | [`RequestId`] | gives the request its id (the client's `X-Request-Id` when it is safe, a new one otherwise) and echoes it on the answer |
//! | [`RecordRequest`] | counts the request in the HTTP metrics, traces it when traces are on, and writes its one `request completed` line |
//! | [`Conformance`] | refuses a request with a missing or repeated `Host` (`400`) before anything else looks at it |
//! | [`InjectFaults`] | delays or fails requests to a function with a fault (only when the process has a fault file) |
//! | [`HeadAsGet`] | serves a `HEAD` as the path's `GET` without the body, so it gets the same headers |
//! | [`CachedAnswer`] | answers a `GET` of a math result from the render cache, and keeps fresh ones: immutable, `ETag`, `304` |
//! | [`CollectRecord`] | gathers what the handler noted for the log line, and names the route that answered |
//! | [`RequestSpan`] | runs the handler in the request's span, so its lines carry the request id |
//! | [`AllowedMethods`] | refuses a method the path does not take (`405`), answers a plain `OPTIONS` (`204`), with `Allow` from the one list of the path's methods |
//! | [`Problems`] | turns every error and panic into a problem document |
//! | [`NormalizePath`] | `/fibonacci/10/` and `/fibonacci/10` are one route |
//!
//! Faults are injected before the cache is consulted, so cached answers slow down and fail
//! too; a refused `Host` is neither faulted nor cached. The layers inside [`CachedAnswer`]
//! run only when the answer is computed.
//!
//! Every layer is generic over what it wraps, so the whole stack is one type and one boxed
//! future per request. A layer does what it does to a request as it starts, starts the
//! layer inside at once, and returns that layer's future combined with what it does to the
//! answer (`map`, `then`, `Either`): an `async fn` per layer would keep another copy of the
//! request, and of the future inside it, in that one future, which is copied whole into its
//! box (a test checks its size). What the layers share about a request travels two ways
//! without allocating: inwards in the request's scope ([`Incoming`]: its id, its path as
//! received, its server span), and outwards with the answer ([`Answered`]: what the log line
//! and the metrics say about it). The modules:
//!
//! - `incoming`: the request's scope and [`RequestId`];
//! - `record`: [`RecordRequest`] and the log line;
//! - `conformance`: `Host` rules, `Allow` on 405, `OPTIONS`;
//! - `faults`: [`InjectFaults`];
//! - `head`: [`HeadAsGet`];
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
mod head;
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
use head::HeadAsGet;
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
    let answering = answering(route, &routes, context);
    match &context.faults {
        Some(switch) => observed(
            answering.with(InjectFaults::new(switch, &routes)),
            &routes,
            context,
        )
        .boxed(),
        None => observed(answering, &routes, context).boxed(),
    }
}

/// The layers inside the fault injection.
fn answering(
    route: Route,
    routes: &Arc<RouteTemplates>,
    context: &AppContext,
) -> impl Endpoint<Output = Answered> + 'static {
    route
        .with(NormalizePath)
        .with(Problems)
        .with(AllowedMethods::new(routes))
        .with(RequestSpan)
        .with(CollectRecord::new(routes))
        .with(CachedAnswer::new(&context.cache))
        .with(HeadAsGet::new(routes))
}

/// The layers outside the fault injection.
fn observed<E>(
    answering: E,
    routes: &Arc<RouteTemplates>,
    context: &AppContext,
) -> impl Endpoint<Output = Response> + 'static
where
    E: Endpoint<Output = Answered> + 'static,
{
    answering
        .with(Conformance)
        .with(RecordRequest::new(&context.metrics, routes))
        .with(RequestId)
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

#[cfg(test)]
mod tests {
    use super::*;
    use mathapi_telemetry::Metrics;
    use poem::{get, handler};

    #[handler]
    fn hello() -> &'static str {
        "hello"
    }

    /// The whole stack is one future per request, copied once into its box: each layer must
    /// add only its own few fields, never another copy of the request or of what it wraps.
    #[test]
    fn the_layers_add_little_to_the_future_of_the_routes() {
        let metrics = Metrics::new("test").unwrap();
        let context = AppContext::new(&metrics, crate::RenderCache::new(0, &metrics));
        let routes = Arc::new(RouteTemplates::default());
        let request = || poem::Request::builder().uri_str("/hello").finish();
        let route = Route::new().at("/hello", get(hello));
        let bare = std::mem::size_of_val(&route.call(request()));
        let route = Route::new().at("/hello", get(hello));
        let stack = observed(answering(route, &routes, &context), &routes, &context);
        let layered = std::mem::size_of_val(&stack.call(request()));
        assert!(
            layered <= bare + 1024,
            "the routes' future is {bare} bytes, with the layers {layered}"
        );
    }
}
