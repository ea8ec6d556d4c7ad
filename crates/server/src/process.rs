//! The whole life of a server binary: logging, the runtime, metrics, bind, serve until a
//! signal, drain, and the exit code.

use std::process::ExitCode;

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Response};

use mathapi_faults::{FaultArgs, FaultError, FaultSwitch, reload_on_sighup};
use mathapi_http::{MathApi, RenderCache, single_api_app_with_cache};
use mathapi_telemetry::{self as telemetry, LogSink, Metrics, Traces, VERSION};

use crate::cli::{ServerArgs, ServiceCli};
use crate::server::Application;

/// `main` of a one-API service: parses the server flags and the service's own (`T`), opens
/// the API with `open`, and serves it (see [`run`]).
pub fn run_service<A: MathApi, T: clap::Args>(
    open: impl FnOnce(&T, &Metrics) -> Result<A, String>,
) -> ExitCode {
    let cli = ServiceCli::<T>::parse_for(A::NAME, A::TITLE);
    run(
        A::NAME,
        &[A::NAME],
        A::DEFAULT_PORT,
        &cli.server,
        |metrics| {
            let cache = RenderCache::new(cli.server.render_cache_bytes, metrics);
            Ok(single_api_app_with_cache(
                open(&cli.service, metrics)?,
                metrics,
                cache,
            ))
        },
    )
}

/// The whole life of a server binary: logging, traces, metrics, bind, serve, graceful
/// shutdown.
///
/// `functions` are the ones the app serves (the first segment of their paths): the fault
/// file may name only those. `build` gets the process's metrics and returns the app.
///
/// Exit code 0 after a clean shutdown, 1 if start-up fails (the reason goes to stderr and
/// the log). Log lines still buffered are written before it returns, and on a panic; so are
/// the spans still queued for export (within a few seconds).
pub fn run(
    service: &'static str,
    functions: &[&'static str],
    default_port: u16,
    args: &ServerArgs,
    build: impl FnOnce(&Metrics) -> Result<BoxEndpoint<'static, Response>, String>,
) -> ExitCode {
    let sink = LogSink::stdout();
    let traces = match Traces::start(service, &args.tracing) {
        Ok(traces) => traces,
        Err(error) => {
            eprintln!("{service}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) =
        telemetry::init_logging(service, &args.log_level, sink.clone(), traces.as_ref())
    {
        eprintln!("{service}: {error}");
        return ExitCode::FAILURE;
    }
    flush_on_panic(sink.clone());
    let code = serve(
        service,
        functions,
        default_port,
        args,
        traces.as_ref(),
        build,
    );
    // After the drain: the spans of the last requests are queued by now.
    if let Some(traces) = traces {
        traces.shutdown();
    }
    sink.flush();
    code
}

fn serve(
    service: &'static str,
    functions: &[&'static str],
    default_port: u16,
    args: &ServerArgs,
    traces: Option<&Traces>,
    build: impl FnOnce(&Metrics) -> Result<BoxEndpoint<'static, Response>, String>,
) -> ExitCode {
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
        if let Some(traces) = traces {
            traces.observe_into(&metrics);
        }
        let endpoint = match build(&metrics) {
            Ok(endpoint) => endpoint,
            Err(error) => return fail(service, error),
        };
        let endpoint = match fault_switch(&args.faults, functions, &metrics) {
            Ok(Some(switch)) => {
                tokio::spawn(reload_on_sighup(Some(switch.clone()), metrics.clone()));
                endpoint.data(switch).boxed()
            }
            Ok(None) => {
                tokio::spawn(reload_on_sighup(None, metrics.clone()));
                endpoint
            }
            Err(error) => return fail(service, format!("fault file refused: {error}")),
        };
        let address = args.address(default_port);
        let app = match Application::bind(address, endpoint) {
            Ok(app) => app.with_settings(args.settings()),
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

/// The process's fault switch when it was started with a fault file.
fn fault_switch(
    args: &FaultArgs,
    functions: &[&'static str],
    metrics: &Metrics,
) -> Result<Option<FaultSwitch>, FaultError> {
    args.fault_file
        .clone()
        .map(|file| FaultSwitch::open(file, functions, metrics))
        .transpose()
}

/// A panic that takes the process down must not take its last log lines with it. (Panics in
/// handlers are caught and answered with a 500; their error line is written at once anyway.)
fn flush_on_panic(sink: LogSink) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        sink.flush();
        previous(info);
    }));
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

fn fail(service: &str, message: String) -> ExitCode {
    tracing::error!(error = %message, "failed");
    eprintln!("{service}: {message}");
    ExitCode::FAILURE
}
