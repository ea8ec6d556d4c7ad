//! Assembling routes into an application, binding it, and running it until a signal.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::listener::TcpAcceptor;
use poem::middleware::{NormalizePath, TrailingSlash};
use poem::{EndpointExt, Response, Route, Server};
use poem_openapi::OpenApiService;

use crate::config::ServerArgs;
use crate::docs::{Docs, MathApi};
use crate::middleware::{Observe, RouteTemplates};
use crate::ops::OpsApi;
use crate::telemetry::{self, Metrics, VERSION};

/// The app of a one-API service: the API, `/health`, `/ready`, `/metrics`, and its
/// documentation under `/{name}/docs` and `/{name}/openapi.json`.
pub fn single_api_app<A: MathApi>(api: A, metrics: &Metrics) -> BoxEndpoint<'static, Response> {
    let ops = OpsApi::new(metrics.clone(), api.readiness());
    let docs = api_docs(&api, &ops);
    let routes = RouteTemplates::from_spec(&docs.spec);
    let route = docs.mount(Route::new(), &format!("/{}", A::NAME));
    let route = route.nest("/", OpenApiService::new((api, ops), A::TITLE, VERSION));
    finish(route, metrics, routes)
}

/// The documentation of one API with the operational endpoints, for `/{name}/docs`.
pub fn api_docs<A: MathApi>(api: &A, ops: &OpsApi) -> Docs {
    let service = OpenApiService::new((api.clone(), ops.clone()), A::TITLE, VERSION)
        .description(A::DESCRIPTION);
    Docs::new(&service, &api.annotations())
}

/// Wraps routes in the middleware every server uses: trailing slashes trimmed (so
/// `/fibonacci/10/` and `/fibonacci/10` are one route), then request id, logs, metrics, and
/// problem documents for every error, panics included.
pub fn finish(
    route: Route,
    metrics: &Metrics,
    routes: RouteTemplates,
) -> BoxEndpoint<'static, Response> {
    route
        .with(NormalizePath::new(TrailingSlash::Trim))
        .with(Observe::new(metrics.clone(), routes))
        .boxed()
}

/// A bound server, not yet running: bind first so the port is known (port 0 in tests).
pub struct Application {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    endpoint: BoxEndpoint<'static, Response>,
}

impl Application {
    pub fn bind(
        address: SocketAddr,
        endpoint: BoxEndpoint<'static, Response>,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let acceptor = TcpAcceptor::from_std(listener)?;
        Ok(Application {
            acceptor,
            address,
            endpoint,
        })
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then stops accepting and gives in-flight requests
    /// up to `grace` to finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> std::io::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.endpoint, shutdown, Some(grace))
            .await
    }
}

/// Completes on SIGTERM or SIGINT, logging which.
pub async fn shutdown_signal() {
    let signal = wait_for_signal().await;
    tracing::info!(signal, "shutting down");
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process can still be killed; serve on.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "ctrl-c"
}

// The command line of a one-API service: the server settings and the service's own. (A
// plain comment: a doc comment would become the `--help` text; `run_service` sets that.)
#[derive(Debug, clap::Parser)]
#[command(version)]
pub struct ServiceCli<T: clap::Args> {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub service: T,
}

/// `main` of a one-API service: parses `ServerArgs` and `T`, opens the API with `open`, and
/// serves it (see [`run`]).
pub fn run_service<A: MathApi, T: clap::Args>(
    open: impl FnOnce(&T, &Metrics) -> Result<A, String>,
) -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let command = ServiceCli::<T>::command().name(A::NAME).about(format!(
        "{}: the mathapi {} service",
        A::TITLE,
        A::NAME
    ));
    let cli =
        ServiceCli::<T>::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    run(A::NAME, A::DEFAULT_PORT, &cli.server, |metrics| {
        Ok(single_api_app(open(&cli.service, metrics)?, metrics))
    })
}

/// The whole life of a server binary: logging, metrics, bind, serve, graceful shutdown.
///
/// `build` gets the process's metrics and returns the app. Exit code 0 after a clean
/// shutdown, 1 if start-up fails (the reason goes to stderr and the log).
pub fn run(
    service: &'static str,
    default_port: u16,
    args: &ServerArgs,
    build: impl FnOnce(&Metrics) -> Result<BoxEndpoint<'static, Response>, String>,
) -> ExitCode {
    if let Err(error) = telemetry::init_logging(service, &args.log_level) {
        eprintln!("{service}: {error}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(service, format!("cannot start the runtime: {error}")),
    };
    runtime.block_on(async {
        let metrics = match Metrics::new(service) {
            Ok(metrics) => metrics,
            Err(error) => return fail(service, error.to_string()),
        };
        let endpoint = match build(&metrics) {
            Ok(endpoint) => endpoint,
            Err(error) => return fail(service, error),
        };
        let address = args.address(default_port);
        let app = match Application::bind(address, endpoint) {
            Ok(app) => app,
            Err(error) => return fail(service, format!("cannot listen on {address}: {error}")),
        };
        tracing::info!(address = %app.address(), version = VERSION, "listening");
        match app
            .run_until(shutdown_signal(), args.shutdown_timeout())
            .await
        {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error) => fail(service, format!("server error: {error}")),
        }
    })
}

fn fail(service: &str, message: String) -> ExitCode {
    tracing::error!(error = %message, "failed");
    eprintln!("{service}: {message}");
    ExitCode::FAILURE
}
