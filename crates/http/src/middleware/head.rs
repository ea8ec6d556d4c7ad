//! `HEAD` is `GET` without the body (RFC 9110 §9.3.2): the same headers, `ETag`,
//! `Cache-Control` and `Content-Length` included, and `304` to a client that holds the
//! answer.

use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::Either;
use poem::http::header::CONTENT_LENGTH;
use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Endpoint, Middleware, Request, Response};

use super::routes::RouteTemplates;
use super::{Answered, Incoming, Wrapped};

/// Serves a `HEAD` as the `GET` of the path, wherever `HEAD` is allowed, and drops the body
/// on the way out, keeping its length. A `HEAD` the path refuses passes on as it is (the
/// routes' list refuses it).
pub(crate) struct HeadAsGet {
    routes: Arc<RouteTemplates>,
}

impl HeadAsGet {
    pub(crate) fn new(routes: &Arc<RouteTemplates>) -> Self {
        HeadAsGet {
            routes: routes.clone(),
        }
    }
}

impl<E: Endpoint<Output = Answered>> Middleware<E> for HeadAsGet {
    type Output = Wrapped<HeadAsGet, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: HeadAsGet::new(&self.routes),
            inner,
        }
    }
}

impl<E: Endpoint<Output = Answered>> Endpoint for Wrapped<HeadAsGet, E> {
    type Output = Answered;

    fn call(&self, mut req: Request) -> impl Future<Output = poem::Result<Answered>> + Send {
        let served_as_get = req.method() == Method::HEAD
            && Incoming::with(|incoming| self.layer.routes.permits(&incoming.path, "HEAD"))
                != Some(false);
        if !served_as_get {
            return Either::Left(self.inner.call(req));
        }
        req.set_method(Method::GET);
        Either::Right(self.inner.call(req).then(|result| async move {
            let mut answered = result?;
            answered.response = without_body(answered.response).await;
            Ok(answered)
        }))
    }
}

/// `response` without its body, with the body's length as `Content-Length` where an answer
/// has one.
async fn without_body(mut response: Response) -> Response {
    let body = response.take_body();
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED || status == StatusCode::NO_CONTENT {
        return response;
    }
    if let Ok(bytes) = body.into_bytes().await {
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    }
    response
}
