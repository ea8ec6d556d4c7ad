//! Cacheable answers: served from the render cache, marked immutable with a strong `ETag`,
//! and `304 Not Modified` for a client that already has them (RFC 9110 §13.1.2).

use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::{self, Either};
use poem::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Endpoint, Middleware, Request, Response};

use super::{Answered, Incoming, Wrapped, trailing_slash};
use crate::render_cache::{IMMUTABLE, RenderCache, Rendered};
use crate::request_log::RequestRecord;

/// Answers a `GET` of a math result from the render cache; makes a freshly computed one
/// cacheable (kept under the request's normalized path when the cache is on, immutable, with
/// a strong `ETag`), and answers `304` to a client that already holds it.
pub(crate) struct CachedAnswer {
    cache: RenderCache,
}

impl CachedAnswer {
    pub(crate) fn new(cache: &RenderCache) -> Self {
        CachedAnswer {
            cache: cache.clone(),
        }
    }
}

impl<E: Endpoint<Output = Answered>> Middleware<E> for CachedAnswer {
    type Output = Wrapped<CachedAnswer, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: CachedAnswer::new(&self.cache),
            inner,
        }
    }
}

impl<E: Endpoint<Output = Answered>> Endpoint for Wrapped<CachedAnswer, E> {
    type Output = Answered;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Answered>> + Send {
        let cache = &self.layer.cache;
        let conditional = Conditional::of(&req);
        // The key is the normalized path: the path as received unless it needs normalizing.
        let path = Incoming::path();
        let normalized = trailing_slash::normalized(&path);
        if let Some(hit) = from_cache(cache, &conditional, normalized.as_deref().unwrap_or(&path)) {
            return Either::Left(future::ready(Ok(hit)));
        }
        Either::Right(self.inner.call(req).then(move |result| async move {
            let Answered {
                response,
                mut record,
                route,
            } = result?;
            let key = normalized.as_deref().unwrap_or(&path);
            let response = store(
                cache,
                &conditional,
                key,
                route.as_ref(),
                response,
                &mut record,
            )
            .await;
            Ok(Answered {
                response,
                record,
                route,
            })
        }))
    }
}

/// What a request's `If-None-Match` and method say about caching.
struct Conditional {
    is_get: bool,
    if_none_match: Option<HeaderValue>,
}

impl Conditional {
    fn of(req: &Request) -> Self {
        Conditional {
            is_get: req.method() == Method::GET,
            if_none_match: req.headers().get(IF_NONE_MATCH).cloned(),
        }
    }

    /// Whether the client already holds the representation tagged `etag` (weak comparison,
    /// as RFC 9110 §13.1.2 requires for `If-None-Match`).
    fn holds(&self, etag: &HeaderValue) -> bool {
        let Some(Ok(tags)) = self.if_none_match.as_ref().map(|v| v.to_str()) else {
            return false;
        };
        tags.split(',').map(str::trim).any(|tag| {
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == etag.as_bytes()
        })
    }
}

/// A cached answer to a `GET` of `path`, with the log record it replays; `None` on a miss.
fn from_cache(cache: &RenderCache, conditional: &Conditional, path: &str) -> Option<Answered> {
    if !conditional.is_get {
        return None;
    }
    let rendered = cache.get(path)?;
    cache.count(rendered.function, true);
    let record = RequestRecord {
        function: Some(rendered.function),
        arguments: rendered.arguments.clone(),
        result_digits: rendered.result_digits,
        cache: Some("hit"),
        ..RequestRecord::default()
    };
    Some(Answered {
        response: answer(&rendered, conditional),
        record,
        route: rendered.route.clone(),
    })
}

/// Makes a fresh answer cacheable when its handler computed a math result: it is kept in the
/// cache (when on), tagged and marked immutable, and becomes a `304` when the client holds it.
async fn store(
    cache: &RenderCache,
    conditional: &Conditional,
    path: &str,
    route: Option<&Arc<str>>,
    mut response: Response,
    record: &mut RequestRecord,
) -> Response {
    if !(record.cacheable && conditional.is_get && response.status() == StatusCode::OK) {
        return response;
    }
    let Some(function) = record.function else {
        return response;
    };
    let Ok(body) = response.take_body().into_bytes().await else {
        return response;
    };
    let mut headers = std::mem::take(response.headers_mut());
    headers.remove(CONTENT_LENGTH);
    // An exact-size copy: the rendered body's buffer can be up to twice its length, and the
    // cache weighs what it holds.
    let body = bytes::Bytes::copy_from_slice(&body);
    let rendered = Rendered {
        etag: Rendered::etag_of(&body),
        body,
        headers,
        function,
        arguments: record.arguments.clone(),
        result_digits: record.result_digits,
        route: route.cloned(),
    };
    let response = answer(&rendered, conditional);
    if cache.is_enabled() {
        cache.count(function, false);
        record.cache = Some("miss");
        cache.insert(path, Arc::new(rendered));
    }
    response
}

/// The `200` with the body, or a `304` when the client holds it; immutable either way, with
/// the headers the routes gave the answer (CORS, ...).
fn answer(rendered: &Rendered, conditional: &Conditional) -> Response {
    let mut response = Response::default();
    *response.headers_mut() = rendered.headers.clone();
    let headers = response.headers_mut();
    headers.insert(ETAG, rendered.etag.clone());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    if conditional.holds(&rendered.etag) {
        // A 304 carries the validators and caching headers, never the body's own.
        headers.remove(CONTENT_TYPE);
        response.set_status(StatusCode::NOT_MODIFIED);
        return response;
    }
    response.set_status(StatusCode::OK);
    response.set_body(rendered.body.clone());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditional(if_none_match: &str) -> Conditional {
        Conditional {
            is_get: true,
            if_none_match: Some(HeaderValue::from_str(if_none_match).unwrap()),
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison_over_a_list() {
        let etag = HeaderValue::from_static("\"00000000000000ab\"");
        assert!(conditional("\"00000000000000ab\"").holds(&etag));
        assert!(conditional("W/\"00000000000000ab\"").holds(&etag));
        assert!(conditional("\"x\", \"00000000000000ab\"").holds(&etag));
        assert!(conditional("*").holds(&etag));
        assert!(!conditional("\"00000000000000ac\"").holds(&etag));
        assert!(
            !conditional("00000000000000ab").holds(&etag),
            "tags are quoted"
        );
    }
}
