//! The command line: the flags every server shares, and a one-API service's whole command
//! line. Each service adds its own limits next to these.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use mathapi_faults::FaultArgs;
use mathapi_http::{ComputeSettings, DEFAULT_RENDER_CACHE_BYTES, PublicOrigins, RenderCache};
use mathapi_telemetry::{LogFormat, Metrics, TracingArgs};

use crate::server::{DEFAULT_MAX_HEADER_BYTES, MIN_MAX_HEADER_BYTES, ServerSettings};

/// Where to listen and how to log; flags with environment-variable fallbacks.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to bind. Use 0.0.0.0 in containers.
    #[arg(long, env = "MATHAPI_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,

    /// TCP port to listen on (0 picks a free port; the `listening` log line says which).
    #[arg(long, env = "MATHAPI_PORT")]
    pub port: Option<u16>,

    /// Log filter in `tracing` EnvFilter syntax, e.g. `info` or `debug,poem=info`. poem's own
    /// info lines only repeat ours (listening, shutting down), hence `poem=warn`.
    #[arg(long, env = "RUST_LOG", default_value = "info,poem=warn")]
    pub log_level: String,

    /// Log line format: `json` (Bunyan, for log shippers), `pretty` (short lines for people),
    /// or `auto`: pretty when stdout is a terminal, JSON when it is a pipe or a file.
    #[arg(long, env = "MATHAPI_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    /// Bytes of rendered math answers kept in memory and served again (0 turns the cache
    /// off; at most 1 GiB).
    #[arg(
        long,
        env = "MATHAPI_RENDER_CACHE_BYTES",
        default_value_t = DEFAULT_RENDER_CACHE_BYTES,
        value_parser = clap::value_parser!(u64).range(0..=1 << 30)
    )]
    pub render_cache_bytes: u64,

    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT before exiting.
    #[arg(long, env = "MATHAPI_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,

    /// Connections served at once; more wait in the listen backlog. Keep it below the
    /// process's file-descriptor limit (`ulimit -n`).
    #[arg(long, env = "MATHAPI_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Seconds a client has to send a request's headers; an HTTP/1.1 connection waiting
    /// for its next request is closed after the same time.
    #[arg(long, env = "MATHAPI_HEADER_READ_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout: u64,

    /// Seconds a connection may stay open with no request in flight.
    #[arg(long, env = "MATHAPI_IDLE_TIMEOUT", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,

    /// HTTP/2 streams (requests) one connection may have open at once.
    #[arg(long, env = "MATHAPI_HTTP2_MAX_STREAMS", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub http2_max_streams: u32,

    /// Bytes a request's line and headers may take together (both protocols); a larger head
    /// is answered `431`. Also what an HTTP/1.1 connection can hold of a head it has not
    /// finished sending.
    #[arg(long, env = "MATHAPI_MAX_HEADER_BYTES", default_value_t = DEFAULT_MAX_HEADER_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(MIN_MAX_HEADER_BYTES as u64..=1 << 20))]
    pub max_header_bytes: u64,

    /// Heavy computations running at once (default: one per CPU core).
    #[arg(long, env = "MATHAPI_COMPUTE_CONCURRENCY",
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub compute_concurrency: Option<u64>,

    /// Heavy computations that may wait for a slot; beyond that requests are shed with 503.
    #[arg(long, env = "MATHAPI_COMPUTE_QUEUE", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub compute_queue: u64,

    /// URLs users reach the server by (comma-separated, e.g. `https://math.example.com`):
    /// the only origins the sequence stepper's writes accept. Unset: the origin a request
    /// was sent to, when its host is `localhost` or an IP address.
    #[arg(long, env = "MATHAPI_PUBLIC_URL", value_delimiter = ',')]
    pub public_url: Vec<String>,

    /// Fault injection for demonstrations (off unless a fault file is given).
    #[command(flatten)]
    pub faults: FaultArgs,

    #[command(flatten)]
    pub tracing: Box<TracingArgs>,
}

impl ServerArgs {
    /// The socket address to bind, with `default_port` when no port was given.
    pub fn address(&self, default_port: u16) -> SocketAddr {
        SocketAddr::new(self.host, self.port.unwrap_or(default_port))
    }

    /// How long in-flight requests get after a shutdown signal.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }

    /// The render cache the flags ask for, counted in `metrics`.
    pub fn render_cache(&self, metrics: &Metrics) -> RenderCache {
        RenderCache::new(self.render_cache_bytes, metrics)
    }

    /// The origins `--public-url` names (an error names a URL that is not http(s)).
    pub fn public_origins(&self) -> Result<PublicOrigins, String> {
        PublicOrigins::new(&self.public_url)
    }

    /// The connection and compute limits the flags set.
    pub fn settings(&self) -> ServerSettings {
        let mut compute = ComputeSettings {
            queue: self.compute_queue as usize,
            ..ComputeSettings::default()
        };
        if let Some(concurrency) = self.compute_concurrency {
            compute.concurrency = concurrency as usize;
        }
        ServerSettings {
            max_connections: self.max_connections as usize,
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            http2_max_concurrent_streams: self.http2_max_streams,
            max_header_bytes: self.max_header_bytes as usize,
            compute,
        }
    }
}

// The command line of a one-API service: the server settings and the service's own. (A
// plain comment: a doc comment would become the `--help` text; `parse_for` sets that.)
#[derive(Debug, clap::Parser)]
#[command(version)]
#[allow(missing_docs)]
pub struct ServiceCli<T: clap::Args> {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub service: T,
}

impl<T: clap::Args> ServiceCli<T> {
    /// Parses the process's arguments; `--help` names the service. Exits with clap's message
    /// and code 2 on bad flags.
    pub fn parse_for(name: &'static str, title: &str) -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let command = Self::command()
            .name(name)
            .about(format!("{title}: the mathapi {name} service"));
        Self::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit())
    }
}
