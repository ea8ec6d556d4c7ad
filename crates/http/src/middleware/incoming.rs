//! The request's id, and what the layers inside need to know of the request as it arrived.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use futures_util::{FutureExt, future};
use mathapi_telemetry::traces::HandlerSpans;
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::Wrapped;
use crate::request_id;

tokio::task_local! {
    static INCOMING: Incoming;
}

/// What the layers know of the request being handled, in its scope: [`RequestId`] opens it
/// around every other layer.
pub(super) struct Incoming {
    /// The client's `X-Request-Id` when it is kept, a new one otherwise.
    pub id: String,
    /// The path as received, before normalization: logged, named in problem documents, and
    /// (normalized) the render cache's key. Shared, so a layer can keep it across an `await`
    /// without copying it.
    pub path: Arc<str>,
    /// The spans of a sampled request: its server span is started by `RecordRequest` before
    /// the cache is consulted (hits are traced too); `RequestSpan` takes these to run the
    /// handler in.
    pub server_span: Cell<Option<HandlerSpans>>,
}

impl Incoming {
    /// Runs `f` on the request being handled.
    ///
    /// # Panics
    ///
    /// Outside [`RequestId`]: every layer runs inside it.
    pub(super) fn with<R>(f: impl FnOnce(&Incoming) -> R) -> R {
        INCOMING.with(f)
    }

    /// The path as received.
    pub(super) fn path() -> Arc<str> {
        Self::with(|incoming| incoming.path.clone())
    }
}

/// Gives every request its id (see [`request_id::of_request`]), keeps it in scope with the
/// path as received for the layers inside, and echoes it on the answer (`X-Request-Id`).
pub(crate) struct RequestId;

impl<E: Endpoint> Middleware<E> for RequestId {
    type Output = Wrapped<RequestId, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: RequestId,
            inner,
        }
    }
}

impl<E: Endpoint> Endpoint for Wrapped<RequestId, E> {
    type Output = Response;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let incoming = Incoming {
            id: request_id::of_request(&req),
            path: Arc::from(req.uri().path()),
            server_span: Cell::new(None),
        };
        // The layers inside start in the scope, where they find what they read as they start.
        let answered = future::lazy(move |_| self.inner.call(req))
            .flatten()
            .map(|result| {
                let mut response = match result {
                    Ok(output) => output.into_response(),
                    Err(error) => error.into_response(),
                };
                Incoming::with(|incoming| set_request_id(&mut response, &incoming.id));
                Ok(response)
            });
        INCOMING.scope(incoming, answered)
    }
}

fn set_request_id(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(request_id::HEADER, value);
    }
}
