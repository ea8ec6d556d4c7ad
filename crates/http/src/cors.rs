//! Cross-origin access: the read-only math routes are public, the stepper's writes are not
//! ([`MathCors`] says how).

use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use crate::problem::Problem;

/// Methods a cross-origin caller may use on the read-only routes.
pub const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";
/// Request headers a cross-origin caller may send to the read-only routes.
pub const ALLOWED_HEADERS: &str = "Accept, Content-Type, X-Request-Id";
/// How long (seconds) a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "86400";

/// What a path is, for cross-origin purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A read-only math route: open to every origin.
    PublicRead,
    /// A state-changing route (the sequence's steps): same origin only, enforced.
    SameOriginWrite,
    /// Anything else: no CORS headers, the browser's same-origin default applies.
    Other,
}

/// Which routes are which, read from the published OpenAPI document: no route is named by
/// hand, so a new function's routes are public the moment its API publishes them.
///
/// - A published path under a prefix (`/{name}/...`) whose operations are all reads (`GET`)
///   is [`Access::PublicRead`]: the functions' routes, the sequence's `current`.
/// - A published path under a prefix with a `POST` operation changes state:
///   [`Access::SameOriginWrite`], whatever the request's method (the deprecated `GET` steps
///   too).
/// - Top-level paths (`/health`, `/ready`, `/metrics`), the documents (`/{name}/docs`,
///   `/{name}/openapi.json`) and everything unpublished are [`Access::Other`].
#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    /// Each published route's segments (`{m}` for a parameter) and its access.
    routes: Vec<(Vec<String>, Access)>,
}

/// The last segments of the documents [`crate::Docs::mount`] publishes under a prefix.
const DOCUMENT_SEGMENTS: [&str; 2] = ["docs", "openapi.json"];

impl AccessTable {
    /// The table of an OpenAPI document (JSON); empty when it has no paths.
    pub fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let Some(paths) = doc["paths"].as_object() else {
            return AccessTable::default();
        };
        let routes = paths
            .iter()
            .filter_map(|(template, item)| {
                let segments = segments(template);
                if segments.len() < 2 {
                    return None;
                }
                let access = if item.get("post").is_some() {
                    Access::SameOriginWrite
                } else if item.get("get").is_some() {
                    Access::PublicRead
                } else {
                    Access::Other
                };
                Some((segments.into_iter().map(str::to_owned).collect(), access))
            })
            .collect();
        AccessTable { routes }
    }

    /// Classifies a request path (with or without its trailing slash): the access of the
    /// published route it matches, the most literal one when several do (`/fibonacci/next`
    /// over `/fibonacci/{n}/`).
    pub fn access(&self, path: &str) -> Access {
        let path = segments(path);
        if let [_, last] = path.as_slice()
            && DOCUMENT_SEGMENTS.contains(last)
        {
            return Access::Other;
        }
        self.routes
            .iter()
            .filter(|(route, _)| matches(route, &path))
            .max_by_key(|(route, _)| route.iter().filter(|s| !is_parameter(s)).count())
            .map_or(Access::Other, |(_, access)| *access)
    }
}

/// A path's segments between its outer slashes: `/fibonacci/10/` is `["fibonacci", "10"]`;
/// an empty segment inside (`/fibonacci//10`) stays, and matches no route.
fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

fn is_parameter(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

fn matches(route: &[String], path: &[&str]) -> bool {
    route.len() == path.len()
        && route.iter().zip(path).all(|(route, segment)| {
            !segment.is_empty() && (is_parameter(route) || route == segment)
        })
}

/// Cross-origin access: the read-only math routes are public, the stepper's writes are not.
///
/// Which routes are which comes from the published document (`AccessTable`):
///
/// - The read-only routes (every function's `GET /{name}/{p1}/.../`, the sequence's
///   `/fibonacci/current`) answer every origin with `Access-Control-Allow-Origin: *`, and
///   their preflight (`OPTIONS` with `Access-Control-Request-Method: GET`) gets `204`.
/// - The state-changing routes (`/fibonacci/next`, `previous`, `reset`, by POST or the
///   deprecated GET) refuse any request whose `Origin` is not one of the server's own
///   ([`PublicOrigins`]), or that has more than one `Origin`, with `403` and a problem
///   document, preflight included. A missing CORS header alone would not be enough: a
///   body-less cross-origin POST is a "simple" request that browsers send without
///   preflight, so the step would happen even though the page could not read the answer.
/// - Every other route (the page, docs, `/metrics`) is left alone: same-origin only.
///
/// Why not `poem::middleware::Cors`: it echoes the request's `Origin` (with `Vary: Origin`,
/// one cache entry per origin) where a public, credential-free API answers `*`, it answers
/// preflights with `200`, and it applies one policy to a whole endpoint, while here the
/// policy depends on the route.
#[derive(Debug, Clone, Default)]
pub struct MathCors {
    table: Arc<AccessTable>,
    origins: PublicOrigins,
}

impl MathCors {
    /// The policy of the routes an OpenAPI document (JSON) publishes.
    pub fn from_spec(spec: &str) -> Self {
        MathCors {
            table: Arc::new(AccessTable::from_spec(spec)),
            origins: PublicOrigins::default(),
        }
    }

    /// The origins the state-changing routes accept requests from.
    pub fn with_origins(mut self, origins: &PublicOrigins) -> Self {
        self.origins = origins.clone();
        self
    }
}

/// The origins the server is reached by, the only ones its state-changing routes accept.
///
/// Configured (`--public-url`): exactly those origins, whatever the request's `Host` says.
/// Not configured: the origin the request was sent to (its `Host`), but only when its host is
/// `localhost` or an IP address: a browser sends a name an attacker controls (DNS
/// rebinding: `evil.example` made to resolve to this server) as both `Host` and `Origin`, so
/// their equality proves nothing for any other name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicOrigins {
    /// Lowercase `scheme://host[:port]`, without a default port.
    configured: Arc<Vec<String>>,
}

impl PublicOrigins {
    /// The origins of `urls` (`https://math.example.com/`, `http://localhost:8000`); a URL
    /// that is not `http` or `https` is an error naming it.
    pub fn new<S: AsRef<str>>(urls: &[S]) -> Result<Self, String> {
        let configured = urls
            .iter()
            .map(|url| {
                origin_of(url.as_ref())
                    .ok_or_else(|| format!("not an http(s) URL: {:?}", url.as_ref()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PublicOrigins {
            configured: Arc::new(configured),
        })
    }

    /// Why a request to a state-changing route is refused for its `Origin`, if it is:
    /// requests without `Origin` (curl, the CLI) are not cross-origin.
    fn refusal(&self, req: &Request) -> Option<&'static str> {
        let mut origins = req.headers().get_all(header::ORIGIN).iter();
        let origin = origins.next()?;
        if origins.next().is_some() {
            return Some("a request must not have more than one Origin header");
        }
        let origin = origin.to_str().ok().and_then(origin_of);
        let accepted = match (origin, self.configured.is_empty()) {
            (Some(origin), false) => self.configured.contains(&origin),
            (Some(origin), true) => is_own_unbindable_origin(&origin, req),
            // `Origin: null` (sandboxed frames, file://): not provably ours.
            (None, _) => false,
        };
        (!accepted).then_some(
            "the sequence stepper changes shared state and accepts requests only from its own origin",
        )
    }
}

/// Whether `origin` is the one the request was sent to, with a host no DNS answer can
/// rebind: `localhost` or an IP address.
fn is_own_unbindable_origin(origin: &str, req: &Request) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let Some(authority) = origin.split_once("://").map(|(_, a)| a) else {
        return false;
    };
    let same = host.is_some_and(|host| authority.eq_ignore_ascii_case(host));
    let name = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    same && (name == "localhost" || name.parse::<std::net::IpAddr>().is_ok())
}

/// The origin of an http(s) URL: lowercase `scheme://host[:port]`, without the path and
/// without the scheme's default port.
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

impl<E: Endpoint> Middleware<E> for MathCors {
    type Output = MathCorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        MathCorsEndpoint {
            inner,
            table: self.table.clone(),
            origins: self.origins.clone(),
        }
    }
}

/// The endpoint [`MathCors`] wraps around the routes.
pub struct MathCorsEndpoint<E> {
    inner: E,
    table: Arc<AccessTable>,
    origins: PublicOrigins,
}

impl<E: Endpoint> Endpoint for MathCorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match self.table.access(req.uri().path()) {
            Access::PublicRead if is_preflight(&req) => Ok(preflight(&req)),
            Access::PublicRead => {
                // Refusals (400) carry CORS headers too, so other origins can read the
                // problem document; errors the outer middleware turns into problem
                // documents (404, 405, panics) pass through as errors.
                let mut response = match self.inner.call(req).await {
                    Ok(output) => output.into_response(),
                    Err(error) if error.is_from_response() => error.into_response(),
                    Err(error) => return Err(error),
                };
                let headers = response.headers_mut();
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("X-Request-Id"),
                );
                Ok(response)
            }
            Access::SameOriginWrite => match self.origins.refusal(&req) {
                Some(detail) => Ok(Problem::typed(
                    StatusCode::FORBIDDEN,
                    "cross_origin",
                    "Cross-origin request refused",
                    detail,
                )
                .into_response()),
                None => Ok(self.inner.call(req).await?.into_response()),
            },
            _ => Ok(self.inner.call(req).await?.into_response()),
        }
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// `204` allowing GET/HEAD from any origin; a preflight for any other method is refused.
fn preflight(req: &Request) -> Response {
    let method = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !matches!(method, "GET" | "HEAD") {
        return Problem::typed(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "Cross-origin request refused",
            "this route is read-only: cross-origin callers may use GET and HEAD only",
        )
        .into_response();
    }
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS)
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS)
        .header(header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paths of the all-in-one's document, as the APIs publish them.
    const SPEC: &str = r#"{"paths": {
        "/fibonacci/{n}/": {"get": {}}, "/factorial/{n}/": {"get": {}},
        "/ackermann/{m}/{n}/": {"get": {}}, "/fibonacci/current": {"get": {}},
        "/fibonacci/next": {"get": {}, "post": {}}, "/fibonacci/previous": {"get": {}, "post": {}},
        "/fibonacci/reset": {"get": {}, "post": {}},
        "/health": {"get": {}}, "/ready": {"get": {}}, "/metrics": {"get": {}}}}"#;

    fn access(path: &str) -> Access {
        AccessTable::from_spec(SPEC).access(path)
    }

    #[test]
    fn a_newly_published_function_is_public_with_no_other_change() {
        let table = AccessTable::from_spec(r#"{"paths": {"/square/{n}/": {"get": {}}}}"#);
        assert_eq!(table.access("/square/7/"), Access::PublicRead);
        assert_eq!(table.access("/square/docs"), Access::Other);
        assert_eq!(table.access("/fibonacci/7/"), Access::Other);
    }

    #[test]
    fn classifies_routes() {
        for path in [
            "/fibonacci/10/",
            "/fibonacci/10",
            "/fibonacci/current",
            "/fibonacci/abc",
            "/factorial/5/",
            "/ackermann/2/3/",
            "/ackermann/2/3",
        ] {
            assert_eq!(access(path), Access::PublicRead, "{path}");
        }
        for path in [
            "/fibonacci/next",
            "/fibonacci/previous/",
            "/fibonacci/reset",
        ] {
            assert_eq!(access(path), Access::SameOriginWrite, "{path}");
        }
        for path in [
            "/",
            "/docs",
            "/metrics",
            "/fibonacci/docs/x",
            "/fibonacci/docs",
            "/factorial/openapi.json",
            "/fibonacci//",
            "/ackermann/2",
            "/ackermann/2/3/4",
            "/assets/app.js",
        ] {
            assert_eq!(access(path), Access::Other, "{path}");
        }
    }

    fn request(host: &str, origins: &[&str]) -> Request {
        let mut builder = Request::builder().header(header::HOST, host);
        for origin in origins {
            builder = builder.header(header::ORIGIN, *origin);
        }
        builder.finish()
    }

    #[test]
    fn unconfigured_only_the_servers_own_unbindable_origin_is_accepted() {
        let origins = PublicOrigins::default();
        let refused = |host: &str, origin: &[&str]| origins.refusal(&request(host, origin));
        assert_eq!(refused("127.0.0.1:8000", &["http://127.0.0.1:8000"]), None);
        assert_eq!(refused("localhost:8000", &["http://localhost:8000"]), None);
        assert_eq!(refused("[::1]:8000", &["http://[::1]:8000"]), None);
        assert_eq!(refused("127.0.0.1:8000", &[]), None);
        assert!(refused("127.0.0.1:8000", &["http://evil.example"]).is_some());
        assert!(refused("127.0.0.1:8000", &["http://127.0.0.1:9999"]).is_some());
        assert!(refused("127.0.0.1:8000", &["null"]).is_some());
        // DNS rebinding: the attacker's name as both Host and Origin.
        assert!(refused("evil.example:8000", &["http://evil.example:8000"]).is_some());
        let twice = refused(
            "127.0.0.1:8000",
            &["http://127.0.0.1:8000", "http://evil.example"],
        );
        assert!(twice.is_some_and(|d| d.contains("more than one")));
    }

    #[test]
    fn configured_origins_are_the_only_ones_accepted() {
        let origins = PublicOrigins::new(&["https://Math.Example.com:443/app/"]).unwrap();
        let refused = |host: &str, origin: &str| origins.refusal(&request(host, &[origin]));
        assert_eq!(refused("10.0.0.5:8000", "https://math.example.com"), None);
        assert!(refused("math.example.com", "http://math.example.com").is_some());
        assert!(refused("127.0.0.1:8000", "http://127.0.0.1:8000").is_some());
        assert!(PublicOrigins::new(&["ftp://x"]).is_err());
    }
}
