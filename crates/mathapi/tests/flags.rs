//! The connection flags of the real `mathapi` binary, each given as a flag and as its
//! environment variable, observed over real sockets: `--max-connections`,
//! `--header-read-timeout`, `--idle-timeout`, `--http2-max-streams` and `--shutdown-timeout`.
//!
//! A timeout is shown by order, never by a measured duration: a connection to a server with
//! the flag set to 1 s is closed while a connection opened *earlier* to a server with the
//! defaults (10 s, 120 s) is still open. Were the flag not applied, the earlier connection
//! would be closed first.

use std::time::Duration;

use mathapi_testing::{RunningBinary, TIMEOUT, client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");

/// Starts the binary with its own sequence data directory.
async fn start(args: &[&str], env: &[(&str, &str)]) -> (RunningBinary, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut all = vec!["--sequence-data-dir", data.path().to_str().unwrap()];
    all.extend_from_slice(args);
    (RunningBinary::start(BINARY, &all, env).await, data)
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n";

/// Reads one HTTP/1.1 response (headers and a `Content-Length` body) and returns its head.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a whole response");
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    return text[..end].to_owned();
                }
            }
        }
    };
    tokio::time::timeout(TIMEOUT, read_all)
        .await
        .expect("no response in time")
}

/// A connection that has had one `/health` answered and stays open (keep-alive).
async fn answered_connection(server: &RunningBinary) -> TcpStream {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(HEALTH).await.unwrap();
    let head = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

/// A connection that has sent only part of a request's headers.
async fn half_sent_headers(server: &RunningBinary) -> TcpStream {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    stream
}

/// Waits until the server closes `stream` (EOF or reset; anything it sent first is ignored).
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let drained = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(TIMEOUT, drained)
        .await
        .expect("the server did not close the connection");
}

/// Whether the server has neither closed `stream` nor sent anything on it.
fn open_and_silent(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Starts the default server and one with `flag value`, one with `variable=value`.
async fn reference_flag_and_env(
    flag: &str,
    variable: &str,
    value: &str,
) -> [(RunningBinary, tempfile::TempDir); 3] {
    let (args, env) = ([flag, value], [(variable, value)]);
    let (reference, by_flag, by_env) =
        tokio::join!(start(&[], &[]), start(&args, &[]), start(&[], &env));
    [reference, by_flag, by_env]
}

#[tokio::test]
async fn a_slow_header_sender_is_cut_after_the_header_read_timeout() {
    let [reference, by_flag, by_env] =
        reference_flag_and_env("--header-read-timeout", "MATHAPI_HEADER_READ_TIMEOUT", "1").await;
    // The default's connection is opened first: with the flags ignored it would be cut first.
    let mut earlier = half_sent_headers(&reference.0).await;
    for server in [&by_flag.0, &by_env.0] {
        let mut slow = half_sent_headers(server).await;
        closed_by_server(&mut slow).await;
    }
    assert!(
        open_and_silent(&earlier),
        "the connection under the default timeout was cut as early"
    );
    // And it is still served once its headers are complete.
    earlier.write_all(b"\r\n").await.unwrap();
    let head = read_response(&mut earlier).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let [reference, by_flag, by_env] =
        reference_flag_and_env("--idle-timeout", "MATHAPI_IDLE_TIMEOUT", "1").await;
    let mut earlier = answered_connection(&reference.0).await;
    for server in [&by_flag.0, &by_env.0] {
        let mut idle = answered_connection(server).await;
        closed_by_server(&mut idle).await;
    }
    assert!(
        open_and_silent(&earlier),
        "the connection under the default timeouts was closed as early"
    );
    earlier.write_all(HEALTH).await.unwrap();
    let head = read_response(&mut earlier).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn connections_past_max_connections_wait_until_one_closes() {
    let (by_flag, by_env) = tokio::join!(
        start(&["--max-connections", "2"], &[]),
        start(&[], &[("MATHAPI_MAX_CONNECTIONS", "2")]),
    );
    for server in [&by_flag.0, &by_env.0] {
        let first = answered_connection(server).await;
        let mut second = answered_connection(server).await;
        let mut third = TcpStream::connect(server.address).await.unwrap();
        third.write_all(HEALTH).await.unwrap();
        // Positive control: meanwhile an admitted connection is answered, again and again.
        for _ in 0..5 {
            second.write_all(HEALTH).await.unwrap();
            read_response(&mut second).await;
        }
        assert!(
            open_and_silent(&third),
            "a connection past the limit was served"
        );
        drop(first);
        let head = read_response(&mut third).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
}

/// The server's first SETTINGS frame on an h2c (prior knowledge) connection, as
/// (identifier, value) pairs: read from the wire, not through an HTTP/2 library.
async fn server_settings(server: &RunningBinary) -> Vec<(u16, u32)> {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    // The client preface, then an empty SETTINGS frame (RFC 9113, 3.4 and 6.5).
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let read = async {
        loop {
            let mut header = [0u8; 9];
            stream
                .read_exact(&mut header)
                .await
                .expect("a frame header");
            let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            let mut payload = vec![0u8; length];
            stream.read_exact(&mut payload).await.expect("a frame");
            let (kind, ack) = (header[3], header[4] & 1 == 1);
            if kind == 4 && !ack {
                return payload
                    .chunks_exact(6)
                    .map(|e| {
                        (
                            u16::from_be_bytes([e[0], e[1]]),
                            u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
                        )
                    })
                    .collect();
            }
        }
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .expect("no SETTINGS frame in time")
}

/// SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113, 6.5.2).
const MAX_CONCURRENT_STREAMS: u16 = 0x3;

#[tokio::test]
async fn http2_clients_are_told_the_max_streams() {
    let (reference, by_flag, by_env) = tokio::join!(
        start(&[], &[]),
        start(&["--http2-max-streams", "7"], &[]),
        start(&[], &[("MATHAPI_HTTP2_MAX_STREAMS", "9")]),
    );
    for (server, expected) in [(&reference.0, 32), (&by_flag.0, 7), (&by_env.0, 9)] {
        let settings = server_settings(server).await;
        let advertised = settings
            .iter()
            .find(|(id, _)| *id == MAX_CONCURRENT_STREAMS)
            .map(|(_, value)| *value);
        assert_eq!(advertised, Some(expected), "{settings:?}");
    }
}

/// `path` with a fault file that delays every fibonacci request by ten seconds.
fn slow_fibonacci(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("faults.json");
    std::fs::write(&path, r#"{"fibonacci": {"latency_ms": 10000}}"#).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Waits until `server` counts a request in flight besides the `/metrics` request asking.
async fn wait_for_a_request_in_flight(server: &RunningBinary) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let page = server.metrics().await;
        let active: f64 = page
            .lines()
            .filter(|l| l.starts_with("http_server_active_requests{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if active >= 2.0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no request in flight"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const ABANDONED: &str = "grace period over; abandoning open connections";

#[tokio::test]
async fn requests_still_running_when_the_shutdown_timeout_runs_out_are_abandoned_and_logged() {
    let faults = tempfile::tempdir().unwrap();
    let file = slow_fibonacci(&faults);
    let faulty = ["--fault-file", file.as_str()];
    let with_flag = ["--fault-file", file.as_str(), "--shutdown-timeout", "1"];
    let with_env = [("MATHAPI_SHUTDOWN_TIMEOUT", "1")];
    let (reference, by_flag, by_env) = tokio::join!(
        start(&faulty, &[]),
        start(&with_flag, &[]),
        start(&faulty, &with_env),
    );
    let mut outcomes = Vec::new();
    for (mut server, _data) in [reference, by_flag, by_env] {
        let request = tokio::spawn(
            client()
                .get(server.url("/fibonacci/10/"))
                .timeout(Duration::from_secs(60))
                .send(),
        );
        wait_for_a_request_in_flight(&server).await;
        server.signal("TERM");
        let answer = request.await.unwrap().map(|r| r.status().as_u16());
        let status = server.wait().await;
        // `stopped` is the last line: everything before it has come through the pipe.
        server.wait_for_log(|r| r["msg"] == "stopped").await;
        let logged = server
            .lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|r| r["msg"] == ABANDONED);
        outcomes.push((answer, status, logged));
    }
    // With the default 30 s the delayed request is answered, and nothing is abandoned.
    let (answer, status, logged) = &outcomes[0];
    assert_eq!(answer.as_ref().ok(), Some(&200));
    assert!(status.success());
    assert!(logged.is_none(), "{logged:?}");
    // With 1 s it is abandoned: no answer, a warning that counts it, a clean exit.
    for (answer, status, logged) in &outcomes[1..] {
        assert!(answer.is_err(), "answered: {answer:?}");
        assert!(status.success(), "{status}");
        let line = logged
            .as_ref()
            .expect("no line about the abandoned request");
        assert_eq!(line["level"], 40, "{line}");
        assert_eq!(
            line["detail"], "1 connections and 1 requests abandoned",
            "{line}"
        );
    }
}
