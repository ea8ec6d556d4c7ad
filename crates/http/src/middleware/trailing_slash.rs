//! `/fibonacci/10/` and `/fibonacci/10` are one route: a trailing slash is trimmed, and
//! repeated slashes are folded, before routing.
//!
//! poem's `NormalizePath` does the same with a regular expression on every request; nearly
//! every request needs nothing done, so this looks first and rewrites only when it must.

use std::future::Future;

use poem::http::Uri;
use poem::http::uri::PathAndQuery;
use poem::{Endpoint, Middleware, Request};

use super::Wrapped;

/// Rewrites a request's path to its normal form before routing.
pub(crate) struct NormalizePath;

impl<E: Endpoint> Middleware<E> for NormalizePath {
    type Output = Wrapped<NormalizePath, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: NormalizePath,
            inner,
        }
    }
}

impl<E: Endpoint> Endpoint for Wrapped<NormalizePath, E> {
    type Output = E::Output;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<E::Output>> + Send {
        self.inner.call(normalize(req))
    }
}

/// The path routing should see, when it differs from `path`.
pub(super) fn normalized(path: &str) -> Option<String> {
    let needs_work = (path.len() > 1 && path.ends_with('/')) || path.contains("//");
    if !needs_work {
        return None;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    Some(format!("/{}", segments.join("/")))
}

/// Rewrites the request's path to its normal form, keeping the query.
fn normalize(mut req: Request) -> Request {
    let Some(path) = normalized(req.uri().path()) else {
        return req;
    };
    let path_and_query = match req.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = PathAndQuery::try_from(path_and_query).ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_that_need_it_are_rewritten() {
        assert_eq!(normalized("/fibonacci/10"), None);
        assert_eq!(normalized("/"), None);
        assert_eq!(
            normalized("/fibonacci/10/").as_deref(),
            Some("/fibonacci/10")
        );
        assert_eq!(
            normalized("//fibonacci///10//").as_deref(),
            Some("/fibonacci/10")
        );
        assert_eq!(normalized("//").as_deref(), Some("/"));
    }

    #[test]
    fn the_query_is_kept() {
        let req = Request::builder().uri_str("/fibonacci/10/?x=1").finish();
        let req = normalize(req);
        assert_eq!(req.uri().path(), "/fibonacci/10");
        assert_eq!(req.uri().query(), Some("x=1"));
    }
}
