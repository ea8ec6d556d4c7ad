//! Test helpers shared by the crates' integration tests: our servers on random ports over
//! real HTTP (in-process or as the real binaries), with their log lines captured.

pub mod otlp;

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mathapi_server::{Application, ServerSettings};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any single wait in a test may take before it fails rather than hangs.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// An app served in-process on 127.0.0.1 with a random port.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    held: Vec<Box<dyn std::any::Any + Send>>,
}

impl TestApp {
    pub async fn spawn(endpoint: BoxEndpoint<'static, Response>) -> TestApp {
        Self::spawn_with(endpoint, ServerSettings::default(), Duration::from_secs(5)).await
    }

    /// Serves `endpoint` with `settings`, giving in-flight requests `grace` at shutdown.
    pub async fn spawn_with(
        endpoint: BoxEndpoint<'static, Response>,
        settings: ServerSettings,
        grace: Duration,
    ) -> TestApp {
        let app = Application::bind("127.0.0.1:0".parse().unwrap(), endpoint)
            .expect("bind")
            .with_settings(settings);
        let address = app.address();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(
            async {
                let _ = stopped.await;
            },
            grace,
        ));
        TestApp {
            address,
            client: client(),
            stop: Some(stop),
            server: Some(server),
            held: Vec::new(),
        }
    }

    /// Keeps `resource` (e.g. the app's temporary data directory) alive as long as the app.
    pub fn holding<T: Send + 'static>(mut self, resource: T) -> Self {
        self.held.push(Box::new(resource));
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// GET, and the status, content type and JSON body of the answer.
    pub async fn get_json(&self, path: &str) -> (u16, String, Value) {
        json_of(self.get(path).await).await
    }

    /// `method path` with an optional `Idempotency-Key`: the status and JSON body of the answer.
    pub async fn call(&self, method: &str, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = self.client.request(method.parse().unwrap(), self.url(path));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let (status, _, body) = json_of(request.send().await.expect("request failed")).await;
        (status, body)
    }

    /// The value of the first series of `metric` on `/metrics` (`None` when it has none).
    pub async fn metric(&self, metric: &str) -> Option<f64> {
        let text = self.get("/metrics").await.text().await.unwrap();
        let series = format!("{metric}{{");
        text.lines()
            .find(|line| line.starts_with(&series) || line.split(' ').next() == Some(metric))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }

    /// Polls [`TestApp::metric`] until it shows `want`; fails after [`TIMEOUT`].
    pub async fn wait_for_metric(&self, metric: &str, want: f64) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let shown = self.metric(metric).await;
            if shown == Some(want) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{metric} stayed {shown:?}, expected {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the graceful shutdown (the drain) without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(TIMEOUT, server)
                .await
                .expect("server did not stop")
                .unwrap()
                .unwrap();
        }
    }
}

/// An HTTP client that does not pool forever, so servers can shut down.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// Status, content type and JSON body (Null when the body is not JSON).
pub async fn json_of(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.text().await.expect("body");
    (
        status,
        content_type,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

/// One of our binaries, started for real with `--port 0`, its stdout captured line by line.
pub struct RunningBinary {
    pub address: SocketAddr,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl RunningBinary {
    /// Starts `program` (a path from `env!("CARGO_BIN_EXE_...")`) and waits for its
    /// `listening` log line.
    pub async fn start(program: &str, args: &[&str], env: &[(&str, &str)]) -> RunningBinary {
        Self::start_wrapped(&[], program, args, env).await
    }

    /// Like [`RunningBinary::start`], run through `wrapper` (e.g. `["prlimit",
    /// "--nofile=64", "--"]`); the wrapper must exec the program, so the pid is its own.
    pub async fn start_wrapped(
        wrapper: &[&str],
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> RunningBinary {
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .envs(env.iter().copied());
        Self::start_command(command).await
    }

    /// Starts `command` as it is (it must make the server listen on a free loopback port:
    /// no arguments are added) and waits for its `listening` log line.
    pub async fn start_command(mut command: Command) -> RunningBinary {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the binary");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (found, address) = oneshot::channel::<SocketAddr>();
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut found = Some(found);
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(record) = serde_json::from_str::<Value>(&line) {
                    if record["msg"] == "listening" {
                        if let (Some(found), Some(address)) =
                            (found.take(), record["address"].as_str())
                        {
                            let _ = found.send(address.parse().unwrap());
                        }
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let address = tokio::time::timeout(TIMEOUT, address)
            .await
            .expect("no `listening` log line in time")
            .expect("the binary exited before listening");
        RunningBinary {
            address,
            child,
            lines,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Its `/metrics` page, as text.
    pub async fn metrics(&self) -> String {
        client()
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the /metrics body")
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a log line satisfies `predicate`, and returns it parsed.
    pub async fn wait_for_log(&self, predicate: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(record) = self
                .lines()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|r| predicate(r))
            {
                return record;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "log line not seen in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .expect("the binary did not exit in time")
            .expect("wait")
    }
}

/// Asserts that `response` is a problem document with `status` (and `reason`, when given),
/// and returns it.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    reason: Option<&str>,
) -> Value {
    let url = response.url().to_string();
    let (got, content_type, body) = json_of(response).await;
    assert_eq!(got, status, "{url}: {body}");
    assert_eq!(content_type, "application/problem+json", "{url}");
    assert_eq!(body["status"], status, "{url}: {body}");
    for member in ["type", "title", "detail"] {
        assert!(
            body[member].as_str().is_some_and(|s| !s.is_empty()),
            "{url}: no {member} in {body}"
        );
    }
    if let Some(reason) = reason {
        assert_eq!(body["reason"], reason, "{url}: {body}");
    }
    body
}
