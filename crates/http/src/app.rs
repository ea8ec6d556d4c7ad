//! Assembling APIs, their documents and the middleware into the one endpoint a server runs.

use mathapi_faults::FaultSwitch;
use mathapi_telemetry::{Metrics, VERSION};
use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Response, Route};
use poem_openapi::OpenApiService;

use crate::api::MathApi;
use crate::cors::{MathCors, PublicOrigins};
use crate::docs::Docs;
use crate::middleware::{self, RouteTemplates};
use crate::ops::OpsApi;
use crate::render_cache::{DEFAULT_RENDER_CACHE_BYTES, RenderCache};

/// What an app gets from the process that serves it: the metrics it counts in, the render
/// cache math answers are kept in, and the fault switch when the process has a fault file.
#[derive(Clone)]
pub struct AppContext {
    /// The process's metrics; the APIs and the middleware count in them.
    pub metrics: Metrics,
    /// Rendered math answers, served again by the middleware.
    pub cache: RenderCache,
    /// Faults to inject (docs/stack.md); `None`, the usual case, mounts no fault injection.
    pub faults: Option<FaultSwitch>,
    /// The origins the state-changing routes accept requests from.
    pub origins: PublicOrigins,
}

impl AppContext {
    /// Counting in `metrics`, keeping math answers in `cache`, without faults.
    pub fn new(metrics: &Metrics, cache: RenderCache) -> Self {
        AppContext {
            metrics: metrics.clone(),
            cache,
            faults: None,
            origins: PublicOrigins::default(),
        }
    }

    /// Accepts state-changing requests from `origins` only.
    pub fn with_origins(mut self, origins: PublicOrigins) -> Self {
        self.origins = origins;
        self
    }

    /// [`AppContext::new`] with a render cache of the default size.
    pub fn with_default_cache(metrics: &Metrics) -> Self {
        Self::new(
            metrics,
            RenderCache::new(DEFAULT_RENDER_CACHE_BYTES, metrics),
        )
    }

    /// Injects the faults `switch` draws.
    pub fn with_faults(mut self, switch: FaultSwitch) -> Self {
        self.faults = Some(switch);
        self
    }
}

/// The app of a one-API service: the API (with CORS for its read-only routes), `/health`,
/// `/ready`, `/metrics`, and its documentation under `/{name}/docs` and
/// `/{name}/openapi.json`, in the middleware.
pub fn single_api_app<A: MathApi>(api: A, context: &AppContext) -> BoxEndpoint<'static, Response> {
    let ops = OpsApi::new(context.metrics.clone(), api.readiness());
    let docs = api_docs(&api, &ops);
    let routes = RouteTemplates::from_spec(&docs.spec);
    let docs_spec = docs.spec.clone();
    let route = docs.mount(Route::new(), &format!("/{}", A::NAME));
    let service = OpenApiService::new((api, ops), A::TITLE, VERSION);
    let cors = MathCors::from_spec(&docs_spec).with_origins(&context.origins);
    let route = route.nest("/", service.with(cors));
    with_middleware(route, routes, context)
}

/// The documentation of one API with the operational endpoints, for `/{name}/docs`.
pub fn api_docs<A: MathApi>(api: &A, ops: &OpsApi) -> Docs {
    let service = OpenApiService::new((api.clone(), ops.clone()), A::TITLE, VERSION)
        .description(A::DESCRIPTION);
    Docs::new(&service, &api.annotations())
}

/// Wraps routes in the middleware every server uses: request id, metrics under the published
/// `routes` and the request's log line, `Host` rules, the context's faults when it has a
/// switch, math answers from its render cache, problem documents for every error (panics
/// included), `Allow` and `OPTIONS`, and path normalization.
pub fn with_middleware(
    route: Route,
    routes: RouteTemplates,
    context: &AppContext,
) -> BoxEndpoint<'static, Response> {
    middleware::around(route, routes, context)
}
