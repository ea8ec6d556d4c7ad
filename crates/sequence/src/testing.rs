//! Test support (feature `test-util`): a real `redis-server` on a free localhost port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A `redis-server` child process with append-only persistence (`appendfsync always`) in its
/// own directory, killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    _temp: Option<TempDir>,
}

impl RedisServer {
    /// Starts a server on a free port with a fresh temporary directory.
    ///
    /// Panics with an explanation if `redis-server` is not on `PATH` or does not start.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().expect("create a temporary directory for redis-server");
        // The port is free when chosen but could be taken before Redis binds it; retry.
        let mut last_failure = String::new();
        for _ in 0..5 {
            match Self::try_start(free_port(), temp.path()) {
                Ok(mut server) => {
                    server._temp = Some(temp);
                    return server;
                }
                Err(failure) => last_failure = failure,
            }
        }
        panic!("redis-server did not start: {last_failure}");
    }

    /// Starts a server on `port` with data directory `dir` (e.g. to restart a killed server
    /// on its old port and data). Panics if it does not start.
    pub fn start_on(port: u16, dir: &Path) -> Self {
        Self::try_start(port, dir).unwrap_or_else(|failure| panic!("{failure}"))
    }

    fn try_start(port: u16, dir: &Path) -> Result<Self, String> {
        let log = dir.join(format!("redis-{port}.log"));
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not on PATH: the Redis tests need a real server \
                 (install it with `apt-get install -y redis-server`; CI installs it in .ci/run)"
            ),
            Err(error) => panic!("cannot run redis-server: {error}"),
        };
        let mut server = Self {
            child,
            port,
            dir: dir.to_path_buf(),
            _temp: None,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!(
                    "redis-server on port {port} exited with {status}; its log:\n{log}"
                ));
            }
            if ping(port) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "redis-server on port {port} did not answer PING within 10 s"
        ))
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's data directory (holds `appendonlydir/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server with SIGKILL (no shutdown save) and waits for it to exit. Its
    /// directory is kept while `self` lives.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A localhost port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral localhost port")
        .port()
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
