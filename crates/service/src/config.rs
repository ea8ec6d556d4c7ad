//! Settings every server shares. Each service adds its own limits next to these.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

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

    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT before exiting.
    #[arg(long, env = "MATHAPI_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,
}

impl ServerArgs {
    /// The socket address to bind, with `default_port` when no port was given.
    pub fn address(&self, default_port: u16) -> SocketAddr {
        SocketAddr::new(self.host, self.port.unwrap_or(default_port))
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }
}
