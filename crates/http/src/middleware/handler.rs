//! Around the handler of a computed answer: the span it runs in, and the record of what it
//! noted for the log line.

use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::Either;
use mathapi_telemetry::{fields, traces};
use opentelemetry::context::FutureExt as _;
use poem::{Endpoint, Middleware, PathPattern, Request, Response};
use tracing::{Instrument, Span};

use super::routes::RouteTemplates;
use super::{Answered, Incoming, Wrapped};
use crate::request_log::RequestRecord;

/// Gathers what the handler noted for the request's log line (`request_log`: its function,
/// arguments, computation, problem), and names the route that answered by its published
/// template.
pub(crate) struct CollectRecord {
    routes: Arc<RouteTemplates>,
}

impl CollectRecord {
    pub(crate) fn new(routes: &Arc<RouteTemplates>) -> Self {
        CollectRecord {
            routes: routes.clone(),
        }
    }
}

impl<E: Endpoint<Output = Response>> Middleware<E> for CollectRecord {
    type Output = Wrapped<CollectRecord, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: CollectRecord::new(&self.routes),
            inner,
        }
    }
}

impl<E: Endpoint<Output = Response>> Endpoint for Wrapped<CollectRecord, E> {
    type Output = Answered;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Answered>> + Send {
        let routes = &self.layer.routes;
        RequestRecord::collect(self.inner.call(req)).map(move |(result, record)| {
            let response = result?;
            let route = response
                .data::<PathPattern>()
                .and_then(|pattern| routes.template(&pattern.0))
                .or_else(|| refused_method_route(&response, routes));
            Ok(Answered {
                response,
                record,
                route,
            })
        })
    }
}

/// The published route of a `405` no handler answered (the method was refused before
/// routing): the path matched that route, only its method did not.
fn refused_method_route(response: &Response, routes: &RouteTemplates) -> Option<Arc<str>> {
    if response.status() != poem::http::StatusCode::METHOD_NOT_ALLOWED {
        return None;
    }
    Incoming::with(|incoming| routes.published(&incoming.path))
}

/// Runs the handler in the request's span: with the trace's ids, and its server span as the
/// current OpenTelemetry context, when the request is sampled; else a span of its own. Lines
/// logged inside it carry the request's `request_id`; at `info` the span writes no lines of
/// its own (see `mathapi_telemetry::init_logging`).
pub(crate) struct RequestSpan;

impl<E: Endpoint> Middleware<E> for RequestSpan {
    type Output = Wrapped<RequestSpan, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: RequestSpan,
            inner,
        }
    }
}

impl<E: Endpoint> Endpoint for Wrapped<RequestSpan, E> {
    type Output = E::Output;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<E::Output>> + Send {
        let (span, traced) = Incoming::with(|incoming| match incoming.server_span.take() {
            Some(traced) => (
                traces::request_span(&incoming.id, &traced.ids),
                Some(traced.context),
            ),
            None => (request_span(&incoming.id), None),
        });
        let handled = self.inner.call(req).instrument(span);
        match traced {
            Some(context) => Either::Left(handled.with_context(context)),
            None => Either::Right(handled),
        }
    }
}

fn request_span(request_id: &str) -> Span {
    tracing::info_span!(fields::REQUEST_SPAN, { fields::REQUEST_ID } = request_id)
}
