//! Binding a listener and serving an endpoint until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::listener::TcpAcceptor;
use poem::{Response, Server};

/// A bound server, not yet running: bind first so the port is known (port 0 in tests).
pub struct Application {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    endpoint: BoxEndpoint<'static, Response>,
}

impl Application {
    /// Binds `address` for `endpoint`.
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
