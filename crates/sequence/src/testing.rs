//! Test support (feature `test-util`): a real `redis-server` on a free localhost port, and a
//! disk that stalls in `fdatasync` on demand ([`Freezer`]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::SyncHook;

/// A disk that stalls in `fdatasync` until thawed, as `fsfreeze` makes it: its [`hook`]
/// (the embedded store's sync hook) blocks the committing thread while frozen.
///
/// [`hook`]: Freezer::hook
#[derive(Clone, Default)]
pub struct Freezer(Arc<FreezerState>);

#[derive(Default)]
struct FreezerState {
    frozen: Mutex<bool>,
    thawed: Condvar,
    /// Syncs blocked by the frozen disk right now.
    held: AtomicUsize,
}

impl Freezer {
    /// Freezes (`true`) or thaws (`false`) the disk.
    pub fn set(&self, frozen: bool) {
        *self.0.frozen.lock().unwrap() = frozen;
        self.0.thawed.notify_all();
    }

    /// The hook that waits, before each sync, while the disk is frozen.
    pub fn hook(&self) -> SyncHook {
        let freezer = self.clone();
        Arc::new(move || {
            let state = &*freezer.0;
            let frozen = state.frozen.lock().unwrap();
            if *frozen {
                state.held.fetch_add(1, Ordering::SeqCst);
                let _unused = state.thawed.wait_while(frozen, |frozen| *frozen).unwrap();
                state.held.fetch_sub(1, Ordering::SeqCst);
            }
        })
    }

    /// Waits until a sync is blocked by the frozen disk (panics after 30 s).
    pub async fn wait_until_a_sync_is_held(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.0.held.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "no sync reached the frozen disk");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A `redis-server` child process with append-only persistence (`appendfsync always`) in its
/// own directory, killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    password: Option<String>,
    _temp: Option<TempDir>,
}

impl RedisServer {
    /// Starts a server on a free port with a fresh temporary directory.
    ///
    /// Panics with an explanation if `redis-server` is not on `PATH` or does not start.
    pub fn start() -> Self {
        Self::start_with_password(None)
    }

    /// Starts a server that requires `password` (`--requirepass`), if given.
    pub fn start_with_password(password: Option<&str>) -> Self {
        let temp = tempfile::tempdir().expect("create a temporary directory for redis-server");
        // The port is free when chosen but could be taken before Redis binds it; retry.
        let mut last_failure = String::new();
        for _ in 0..5 {
            match Self::try_start(free_port(), temp.path(), password) {
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
        Self::try_start(port, dir, None).unwrap_or_else(|failure| panic!("{failure}"))
    }

    fn try_start(port: u16, dir: &Path, password: Option<&str>) -> Result<Self, String> {
        let log = dir.join(format!("redis-{port}.log"));
        let mut command = Command::new("redis-server");
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        let child = command
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
            password: password.map(str::to_owned),
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
            if ping(port, password) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "redis-server on port {port} did not answer PING within 10 s"
        ))
    }

    /// `redis://127.0.0.1:PORT/`, with `:PASSWORD@` if the server requires one.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/", self.port),
            None => self.url_without_password(),
        }
    }

    /// `redis://127.0.0.1:PORT/` even if the server requires a password.
    pub fn url_without_password(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server with SIGSTOP, as a stalled host would: connections stay open,
    /// commands are read later, nothing answers.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Resumes a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Runs one command on the server (as an operator with `redis-cli` would) and returns
    /// its reply.
    pub async fn command<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let client = redis::Client::open(self.url()).expect("a valid Redis URL");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test redis-server");
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command
            .query_async(&mut connection)
            .await
            .expect("a Redis command")
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

fn ping(port: u16, password: Option<&str>) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let (request, expected) = match password {
        Some(password) => (
            format!("AUTH {password}\r\nPING\r\n"),
            &b"+OK\r\n+PONG\r\n"[..],
        ),
        None => ("PING\r\n".to_owned(), &b"+PONG\r\n"[..]),
    };
    let mut reply = vec![0u8; expected.len()];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && reply == expected
}
