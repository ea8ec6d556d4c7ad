//! `otlp-sink`: the collector end of the tracing benchmarks. Accepts OTLP/HTTP export
//! requests on `POST /v1/traces`, answers each with an empty success, and only counts them
//! (`GET /count` says how many requests and bytes), so that what the benchmark measures is
//! the services' cost of exporting, not a collector's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use poem::listener::TcpListener;
use poem::web::Data;
use poem::{EndpointExt, Response, Route, Server, get, handler, post};

/// A counting OTLP/HTTP trace sink.
#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 4318)]
    port: u16,
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    bytes: AtomicU64,
}

#[handler]
fn traces(body: Vec<u8>, counts: Data<&Arc<Counts>>) -> Response {
    counts.requests.fetch_add(1, Ordering::Relaxed);
    counts.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    // An empty ExportTraceServiceResponse is zero bytes of protobuf.
    Response::builder()
        .content_type("application/x-protobuf")
        .body(Vec::<u8>::new())
}

#[handler]
fn count(counts: Data<&Arc<Counts>>) -> String {
    format!(
        "{} {}\n",
        counts.requests.load(Ordering::Relaxed),
        counts.bytes.load(Ordering::Relaxed)
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let app = Route::new()
        .at("/v1/traces", post(traces))
        .at("/count", get(count))
        .data(Arc::new(Counts::default()));
    Server::new(TcpListener::bind(("127.0.0.1", args.port)))
        .run(app)
        .await
}
