//! The server loop over real sockets: header-read and idle timeouts, the connection limit,
//! HTTP/2 stream limits, and the drain (`Connection: close`, `/ready` 503).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mathapi_http::{AppContext, OpsApi, RenderCache, RouteTemplates, with_middleware};
use mathapi_server::ServerSettings;
use mathapi_telemetry::Metrics;
use mathapi_testing::TestApp;
use poem::web::Data;
use poem::{EndpointExt, Route, get, handler};
use poem_openapi::OpenApiService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Requests in `/slow` right now, and the most seen at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

#[handler]
async fn slow(gauge: Data<&Arc<Gauge>>) -> &'static str {
    let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
    gauge.most.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    gauge.now.fetch_sub(1, Ordering::SeqCst);
    "slow"
}

/// `/slow`, `/health`, `/ready` and `/metrics` in the middleware, served with `settings`.
async fn spawn(settings: ServerSettings) -> (TestApp, Arc<Gauge>) {
    let metrics = Metrics::new("test").unwrap();
    let gauge = Arc::new(Gauge::default());
    let ops = OpenApiService::new(OpsApi::new(metrics.clone(), Vec::new()), "ops", "1");
    let route = Route::new()
        .at("/slow", get(slow.data(gauge.clone())))
        .nest("/", ops);
    let context = AppContext::new(&metrics, RenderCache::new(0, &metrics));
    let endpoint = with_middleware(route, RouteTemplates::default(), &context);
    let app = TestApp::spawn_with(endpoint, settings, Duration::from_secs(5)).await;
    (app, gauge)
}

fn settings() -> ServerSettings {
    ServerSettings {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..ServerSettings::default()
    }
}

/// Reads one HTTP/1.1 answer (headers and a `content-length` body) from `stream`.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buffer).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return text;
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(read > 0, "connection closed before a full answer: {text:?}");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Waits for the server to close `stream`; `Err` if it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Result<(), ()> {
    let mut chunk = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Err(()),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
            // Whatever hyper says before closing (e.g. a 408) is fine.
            Ok(Ok(_)) => continue,
        }
    }
}

fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

#[tokio::test]
async fn slowloris_connections_are_closed_after_the_header_timeout_and_others_are_served() {
    let (app, _) = spawn(settings()).await;
    let mut slow_clients = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHo")
            .await
            .unwrap();
        slow_clients.push(stream);
    }
    // Others are served meanwhile.
    assert_eq!(app.get("/health").await.status(), 200);
    for stream in &mut slow_clients {
        // One more byte: a trickle does not extend the deadline.
        let _ = stream.write_all(b"s").await;
    }
    for stream in &mut slow_clients {
        closed_within(stream, Duration::from_secs(5))
            .await
            .expect("a slowloris connection outlived the header timeout");
    }
    assert_eq!(app.get("/health").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let (app, _) = spawn(ServerSettings {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(1),
        ..ServerSettings::default()
    })
    .await;
    // Silent from the start, and idle after one request.
    let mut silent = TcpStream::connect(app.address).await.unwrap();
    let mut used = TcpStream::connect(app.address).await.unwrap();
    used.write_all(get_request("/health").as_bytes())
        .await
        .unwrap();
    assert!(read_answer(&mut used).await.starts_with("HTTP/1.1 200"));
    closed_within(&mut silent, Duration::from_secs(5))
        .await
        .expect("a silent connection stayed open");
    closed_within(&mut used, Duration::from_secs(5))
        .await
        .expect("an idle keep-alive connection stayed open");
    app.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let (app, _) = spawn(ServerSettings {
        max_connections: 2,
        ..settings()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(get_request("/health").as_bytes())
            .await
            .unwrap();
        assert!(read_answer(&mut stream).await.starts_with("HTTP/1.1 200"));
        open.push(stream);
    }
    let mut third = TcpStream::connect(app.address).await.unwrap();
    third
        .write_all(get_request("/health").as_bytes())
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "a third connection was served at a limit of 2"
    );
    // Positive control: the server is answering, an admitted connection is served even
    // though it asks later, and the third request is still waiting after that answer.
    open[0]
        .write_all(get_request("/health").as_bytes())
        .await
        .unwrap();
    let admitted = read_answer(&mut open[0]).await;
    assert!(admitted.starts_with("HTTP/1.1 200"), "{admitted}");
    assert!(
        matches!(third.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a third connection was served at a limit of 2"
    );
    drop(open.pop());
    assert!(read_answer(&mut third).await.starts_with("HTTP/1.1 200"));
    app.stop().await;
}

#[tokio::test]
async fn http2_streams_per_connection_are_capped() {
    let (app, gauge) = spawn(ServerSettings {
        http2_max_concurrent_streams: 2,
        ..ServerSettings::default()
    })
    .await;
    let stream = TcpStream::connect(app.address).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    // The first answer means the server's SETTINGS (with the limit) have arrived; after
    // that a conforming client queues streams beyond the limit itself.
    let first = hyper::Request::get(format!("http://{}/health", app.address))
        .body(Empty::<Bytes>::new())
        .unwrap();
    assert_eq!(
        sender.clone().send_request(first).await.unwrap().status(),
        200
    );
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let mut sender = sender.clone();
            let request = hyper::Request::get(format!("http://{}/slow", app.address))
                .body(Empty::<Bytes>::new())
                .unwrap();
            tokio::spawn(async move {
                let response = sender.send_request(request).await.unwrap();
                let status = response.status();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (status, body)
            })
        })
        .collect();
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(&body[..], b"slow");
    }
    assert_eq!(
        gauge.most.load(Ordering::SeqCst),
        2,
        "one connection ran more than MAX_CONCURRENT_STREAMS at once"
    );
    app.stop().await;
}

#[tokio::test]
async fn draining_answers_open_connections_with_connection_close_and_ready_503() {
    let (mut app, _) = spawn(settings()).await;
    // One request in flight, and one idle keep-alive connection.
    let mut busy = TcpStream::connect(app.address).await.unwrap();
    busy.write_all(get_request("/slow").as_bytes())
        .await
        .unwrap();
    let mut idle = TcpStream::connect(app.address).await.unwrap();
    idle.write_all(get_request("/ready").as_bytes())
        .await
        .unwrap();
    let before = read_answer(&mut idle).await;
    assert!(before.starts_with("HTTP/1.1 200"), "{before}");
    assert!(!before.to_ascii_lowercase().contains("connection: close"));

    app.begin_shutdown();
    // A request arriving on the idle connection after the signal is answered, not dropped;
    // the signal reaches the server asynchronously, so ask until the drain has begun.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let during = loop {
        idle.write_all(get_request("/ready").as_bytes())
            .await
            .unwrap();
        let answer = read_answer(&mut idle).await;
        if !answer.starts_with("HTTP/1.1 200") {
            break answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/ready still answers 200 after the shutdown signal"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(during.starts_with("HTTP/1.1 503"), "{during}");
    assert!(during.contains("shutting down"), "{during}");
    assert!(
        during.to_ascii_lowercase().contains("connection: close"),
        "{during}"
    );

    let finished = read_answer(&mut busy).await;
    assert!(finished.starts_with("HTTP/1.1 200"), "{finished}");
    assert!(
        finished.to_ascii_lowercase().contains("connection: close"),
        "{finished}"
    );
    for stream in [&mut idle, &mut busy] {
        closed_within(stream, Duration::from_secs(5))
            .await
            .expect("the server closes connections it answered with Connection: close");
    }
    app.stop().await;
}

#[tokio::test]
async fn draining_closes_idle_connections_and_refuses_new_ones() {
    let (mut app, _) = spawn(settings()).await;
    let mut idle = TcpStream::connect(app.address).await.unwrap();
    idle.write_all(get_request("/health").as_bytes())
        .await
        .unwrap();
    read_answer(&mut idle).await;
    app.begin_shutdown();
    closed_within(&mut idle, Duration::from_secs(3))
        .await
        .expect("an idle connection outlived the drain's linger");
    assert!(TcpStream::connect(app.address).await.is_err());
    app.stop().await;
}
