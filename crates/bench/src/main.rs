//! `bench-hello`: the baseline for `make bench`, a bare poem handler with no middleware,
//! no logging and no metrics, served like the services (multi-threaded tokio runtime).
//!
//! It answers `hello` on `/hello` and on every other path, so that `make bench-proxy` can put
//! it behind Traefik's real routers (`/fibonacci/...`) and measure Traefik alone.

use clap::Parser;
use poem::listener::TcpListener;
use poem::{Route, Server, get, handler};

/// A bare poem "hello" server.
#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 8999)]
    port: u16,
}

#[handler]
fn hello() -> &'static str {
    "hello"
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let app = Route::new()
        .at("/hello", get(hello))
        .at("/*path", get(hello));
    Server::new(TcpListener::bind(("127.0.0.1", args.port)))
        .run(app)
        .await
}
