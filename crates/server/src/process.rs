//! The whole life of a server binary: logging, the runtime, metrics, bind, serve until a
//! signal, drain, and the exit code.

use std::process::ExitCode;

use mathapi_faults::{FaultSwitch, reload_on_sighup};
use mathapi_http::{AppContext, MathApi, single_api_app};
use mathapi_telemetry::{
    self as telemetry, LogFormat, LogSink, Metrics, PrettyLines, Traces, VERSION,
};
use poem::Response;
use poem::endpoint::BoxEndpoint;

use crate::cli::{ServerArgs, ServiceCli};
use crate::server::Application;

/// What [`run`] serves: a server binary's name, the functions it serves, its default port,
/// and its flags.
#[derive(Debug, Clone)]
pub struct RunSettings<'a> {
    /// The name in logs, metrics and traces.
    pub name: &'static str,
    /// The functions the app serves (the first segment of their paths): the fault file may
    /// name only those.
    pub functions: Vec<&'static str>,
    /// The port when the flags give none.
    pub default_port: u16,
    /// The flags every server takes.
    pub args: &'a ServerArgs,
}

impl<'a> RunSettings<'a> {
    /// The settings of the one-API service `A`.
    pub fn of_api<A: MathApi>(args: &'a ServerArgs) -> Self {
        RunSettings {
            name: A::NAME,
            functions: vec![A::NAME],
            default_port: A::DEFAULT_PORT,
            args,
        }
    }

    /// What the app is built with: the process's metrics, the render cache the flags ask
    /// for, the public origins, and the fault switch when the flags name a fault file (read
    /// here: a file that exists but is refused is an error, as is a public URL that is not
    /// http(s)).
    fn app_context(&self, metrics: &Metrics) -> Result<AppContext, String> {
        let origins = self.args.public_origins()?;
        let context =
            AppContext::new(metrics, self.args.render_cache(metrics)).with_origins(origins);
        Ok(match &self.args.faults.fault_file {
            Some(file) => {
                let switch = FaultSwitch::open(file.clone(), &self.functions, metrics)
                    .map_err(|error| format!("fault file refused: {error}"))?;
                context.with_faults(switch)
            }
            None => context,
        })
    }
}

/// `main` of a one-API service: parses the server flags and the service's own (`T`), opens
/// the API with `open`, and serves it (see [`run`]).
pub fn run_service<A: MathApi, T: clap::Args>(
    open: impl FnOnce(&T, &Metrics) -> Result<A, String>,
) -> ExitCode {
    let cli = ServiceCli::<T>::parse_for(A::NAME, A::TITLE);
    run(RunSettings::of_api::<A>(&cli.server), |context| {
        let api = open(&cli.service, &context.metrics)?;
        Ok(single_api_app(api, context))
    })
}

/// The whole life of a server binary: logging, traces, metrics, bind, serve, graceful
/// shutdown.
///
/// `build` gets what the app is built with ([`AppContext`]: the process's metrics, its
/// render cache, its fault switch) and returns the app, the middleware included.
///
/// Exit code 0 after a clean shutdown, 1 if start-up fails (the reason goes to stderr and
/// the log). Log lines still buffered are written before it returns, and on a panic; so are
/// the spans still queued for export (within a few seconds).
pub fn run(
    settings: RunSettings<'_>,
    build: impl FnOnce(&AppContext) -> Result<BoxEndpoint<'static, Response>, String>,
) -> ExitCode {
    let service = settings.name;
    let args = settings.args;
    let sink = match args.log_format.resolve() {
        LogFormat::Pretty => LogSink::new(PrettyLines::new(std::io::stdout())),
        _ => LogSink::stdout(),
    };
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
    let code = serve(&settings, &sink, traces.as_ref(), build);
    // After the drain: the spans of the last requests are queued by now.
    if let Some(traces) = traces {
        traces.shutdown();
    }
    sink.flush();
    code
}

fn serve(
    settings: &RunSettings<'_>,
    sink: &LogSink,
    traces: Option<&Traces>,
    build: impl FnOnce(&AppContext) -> Result<BoxEndpoint<'static, Response>, String>,
) -> ExitCode {
    let service = settings.name;
    let args = settings.args;
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
        sink.observe_into(&metrics);
        if let Some(traces) = traces {
            traces.observe_into(&metrics);
        }
        let context = match settings.app_context(&metrics) {
            Ok(context) => context,
            Err(error) => return fail(service, error),
        };
        tokio::spawn(reload_on_sighup(context.faults.clone(), metrics.clone()));
        let endpoint = match build(&context) {
            Ok(endpoint) => endpoint,
            Err(error) => return fail(service, error),
        };
        let address = args.address(settings.default_port);
        let app = match Application::bind(address, endpoint) {
            Ok(app) => app.with_settings(args.settings()).counting_in(&metrics),
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
async fn shutdown_signal() {
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
