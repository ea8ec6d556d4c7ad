//! The real `mathapi` binary with its stdout a pipe whose reader has stopped: requests never
//! wait for the log. Lines past the sink's bound are dropped and counted
//! (`mathapi_log_lines_dropped_total`), and once the pipe is read again a line says how many.

use std::process::Stdio;

use futures_util::StreamExt;
use mathapi_testing::{TIMEOUT, client};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");

/// Far more request lines (about 380 bytes each) than a pipe (64 KiB by default) and the
/// sink's two buffers (1 MiB each at most) hold together.
const REQUESTS: usize = 10_000;

/// Reads `mathapi_log_lines_dropped_total` from a /metrics page.
fn dropped(page: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix("mathapi_log_lines_dropped_total "))
        .expect("mathapi_log_lines_dropped_total missing")
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdout_nobody_reads_costs_log_lines_never_answers() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BINARY)
        .args(["--host", "127.0.0.1", "--port", "0", "--sequence-data-dir"])
        .arg(data.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read up to the `listening` line, then stop reading (the pipe stays open).
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let listening = async {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(stdout.read_line(&mut line).await.unwrap() > 0, "exited");
            if let Ok(record) = serde_json::from_str::<Value>(&line) {
                if record["msg"] == "listening" {
                    return record["address"].as_str().unwrap().to_owned();
                }
            }
        }
    };
    let address = tokio::time::timeout(TIMEOUT, listening).await.unwrap();
    let url = |path: &str| format!("http://{address}{path}");

    let client = client();
    let statuses: Vec<u16> = futures_util::stream::iter(0..REQUESTS)
        .map(|_| {
            let request = client.get(url("/health")).send();
            async move {
                request
                    .await
                    .expect("/health did not answer")
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200));
    let page = client.get(url("/metrics")).send().await.unwrap();
    let lost = dropped(&page.text().await.unwrap());
    assert!(
        lost > 0.0,
        "no line dropped: the test did not fill the pipe"
    );

    // The pipe is read again: the writer gets through and owns up to the loss.
    let mut rest = String::new();
    let report = async {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = stdout.read(&mut chunk).await.unwrap();
            assert!(n > 0, "stdout ended without a report of the dropped lines");
            rest.push_str(&String::from_utf8_lossy(&chunk[..n]));
            if let Some(line) = rest
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|r| r["msg"] == "log lines dropped")
            {
                return line;
            }
        }
    };
    let line = tokio::time::timeout(TIMEOUT, report).await.unwrap();
    assert_eq!(line["level"], 40, "{line}");
    let detail = line["detail"].as_str().unwrap();
    let reported: f64 = detail.split(' ').next().unwrap().parse().unwrap();
    // Every drop counted by the time of the scrape is in the report (and the scrape's own
    // line, dropped after the page was made, may be too).
    assert!(reported >= lost, "{detail} against {lost}");

    // Keep reading so the shutdown lines get through, and stop it.
    let drain =
        tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await });
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(killed.unwrap().success());
    let status = tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    drain.await.unwrap().unwrap();
}
