//! Assembling APIs, their documents and the middleware into the one endpoint a server runs.

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Response, Route};
use poem_openapi::OpenApiService;

use crate::api::MathApi;
use crate::cors::MathCors;
use crate::docs::Docs;
use crate::middleware::{Observe, RouteTemplates};
use crate::ops::OpsApi;
use crate::render_cache::{DEFAULT_RENDER_CACHE_BYTES, RenderCache};
use mathapi_telemetry::{Metrics, VERSION};

/// The app of a one-API service with the default render cache: the API (with CORS for
/// its read-only routes), `/health`, `/ready`, `/metrics`, and its documentation under `/{name}/docs` and
/// `/{name}/openapi.json`, in the middleware.
pub fn single_api_app<A: MathApi>(api: A, metrics: &Metrics) -> BoxEndpoint<'static, Response> {
    let cache = RenderCache::new(DEFAULT_RENDER_CACHE_BYTES, metrics);
    single_api_app_with_cache(api, metrics, cache)
}

/// [`single_api_app`] with its own render cache.
pub fn single_api_app_with_cache<A: MathApi>(
    api: A,
    metrics: &Metrics,
    cache: RenderCache,
) -> BoxEndpoint<'static, Response> {
    let ops = OpsApi::new(metrics.clone(), api.readiness());
    let docs = api_docs(&api, &ops);
    let routes = RouteTemplates::from_spec(&docs.spec);
    let route = docs.mount(Route::new(), &format!("/{}", A::NAME));
    let service = OpenApiService::new((api, ops), A::TITLE, VERSION);
    let route = route.nest("/", service.with(MathCors));
    with_middleware(route, metrics, routes, cache)
}

/// The documentation of one API with the operational endpoints, for `/{name}/docs`.
pub fn api_docs<A: MathApi>(api: &A, ops: &OpsApi) -> Docs {
    let service = OpenApiService::new((api.clone(), ops.clone()), A::TITLE, VERSION)
        .description(A::DESCRIPTION);
    Docs::new(&service, &api.annotations())
}

/// Wraps routes in the middleware every server uses: request id, path
/// normalization, problem documents for every error (panics included), math answers from
/// `cache`, metrics under the published `routes`, and the request's log line.
pub fn with_middleware(
    route: Route,
    metrics: &Metrics,
    routes: RouteTemplates,
    cache: RenderCache,
) -> BoxEndpoint<'static, Response> {
    route
        .with(Observe::new(metrics.clone(), routes, cache))
        .boxed()
}
