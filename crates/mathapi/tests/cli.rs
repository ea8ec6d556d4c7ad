//! The real `mathapi` binary's subcommands: stdout, stderr and exit codes, checked against
//! independently known values and against the HTTP API's own answers.

use std::process::{Output, Stdio};

use mathapi_testing::{RunningBinary, TIMEOUT, client, json_of};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");

/// Runs `mathapi args...` with `env` and no inherited MATHAPI_* settings.
async fn mathapi(args: &[&str], env: &[(&str, &str)]) -> Output {
    let run = Command::new(BINARY)
        .args(args)
        .env_remove("MATHAPI_URL")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output();
    tokio::time::timeout(TIMEOUT, run)
        .await
        .expect("mathapi did not finish in time")
        .expect("run mathapi")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts exit code `code` and returns (stdout, stderr).
fn expect(output: &Output, code: i32) -> (String, String) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    (stdout(output), stderr(output))
}

#[tokio::test]
async fn each_function_prints_the_exact_decimal_and_a_newline() {
    for (args, expected) in [
        (vec!["fibonacci", "0"], "0"),
        (vec!["fibonacci", "10"], "55"),
        (vec!["fibonacci", "100"], "354224848179261915075"),
        (vec!["factorial", "0"], "1"),
        (vec!["factorial", "25"], "15511210043330985984000000"),
        (vec!["ackermann", "2", "3"], "9"),
        (vec!["ackermann", "3", "4"], "125"),
        (
            vec!["ackermann", "4", "1", "--ackermann-max-m", "4"],
            "65533",
        ),
    ] {
        let (out, err) = expect(&mathapi(&args, &[]).await, 0);
        assert_eq!(out, format!("{expected}\n"), "{args:?}");
        assert_eq!(err, "", "{args:?}");
    }
}

#[tokio::test]
async fn long_results_are_whole() {
    // F(10000) has 2090 digits; F(n) mod 10^k is checked against a loop of additions.
    let output = mathapi(&["fibonacci", "10000", "--fibonacci-max-n", "10000"], &[]).await;
    let (out, _) = expect(&output, 0);
    let digits = out.trim_end();
    assert_eq!(digits.len(), 2090);
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..10000 {
        (a, b) = (b, (a + b) % 1_000_000_000);
    }
    assert_eq!(digits[digits.len() - 9..].parse::<u64>().unwrap(), a);
}

/// The real server with its own data directory, to compare the CLI's answers with.
async fn server() -> (RunningBinary, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = RunningBinary::start(BINARY, &["--sequence-data-dir", dir], &[]).await;
    (server, data)
}

#[tokio::test]
async fn json_is_the_documents_the_api_returns() {
    let (server, _data) = server().await;
    for (args, path) in [
        (vec!["fibonacci", "90", "--json"], "/fibonacci/90/"),
        (vec!["factorial", "30", "--json"], "/factorial/30/"),
        (vec!["ackermann", "3", "3", "--json"], "/ackermann/3/3/"),
    ] {
        let (out, _) = expect(&mathapi(&args, &[]).await, 0);
        let api = client()
            .get(server.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(out, format!("{api}\n"), "{args:?}");
    }
    let (out, _) = expect(&mathapi(&["ackermann", "1", "2", "--json"], &[]).await, 0);
    let document: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(document, json!({"m": 1, "n": 2, "result": "4"}));
}

#[tokio::test]
async fn bad_arguments_print_the_problems_detail_and_exit_2() {
    let (server, _data) = server().await;
    for (args, path) in [
        (vec!["fibonacci", "-5"], "/fibonacci/-5/"),
        (vec!["fibonacci", "abc"], "/fibonacci/abc/"),
        (vec!["factorial", "401"], "/factorial/401/"),
        (
            vec!["factorial", "99999999999999999999999"],
            "/factorial/99999999999999999999999/",
        ),
        (vec!["ackermann", "4", "1"], "/ackermann/4/1/"),
        (vec!["ackermann", "1", "1.5"], "/ackermann/1/1.5/"),
    ] {
        let (out, err) = expect(&mathapi(&args, &[]).await, 2);
        assert_eq!(out, "", "{args:?}");
        let (status, _, problem) =
            json_of(client().get(server.url(path)).send().await.unwrap()).await;
        assert_eq!(status, 400, "{path}");
        let detail = problem["detail"].as_str().unwrap();
        assert_eq!(err, format!("mathapi: {detail}\n"), "{args:?}");
    }
}

#[tokio::test]
async fn not_computable_values_are_refused_like_the_api() {
    let args = [
        "ackermann",
        "4",
        "3",
        "--ackermann-max-m",
        "4",
        "--ackermann-max-n",
        "10",
    ];
    let (out, err) = expect(&mathapi(&args, &[]).await, 2);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "mathapi: A(4, 3) is too large to compute: it has more than 10^19000 decimal digits\n"
    );
}

#[tokio::test]
async fn limits_come_from_flags_and_environment_variables() {
    let env = [("MATHAPI_FIBONACCI_MAX_N", "10")];
    let (_, err) = expect(&mathapi(&["fibonacci", "11"], &env).await, 2);
    assert_eq!(err, "mathapi: n must be an integer from 0 to 10, got 11\n");
    expect(&mathapi(&["fibonacci", "10"], &env).await, 0);
    let (_, err) = expect(
        &mathapi(&["factorial", "6", "--factorial-max-n", "5"], &[]).await,
        2,
    );
    assert_eq!(err, "mathapi: n must be an integer from 0 to 5, got 6\n");
    // An invalid limit is a usage error, as for the server.
    let (_, err) = expect(
        &mathapi(&["factorial", "6", "--factorial-max-n", "10001"], &[]).await,
        2,
    );
    assert!(err.contains("--factorial-max-n"), "{err}");
}

#[tokio::test]
async fn every_subcommand_has_help() {
    for command in ["serve", "fibonacci", "factorial", "ackermann", "sequence"] {
        let (out, _) = expect(&mathapi(&[command, "--help"], &[]).await, 0);
        assert!(
            out.contains(&format!("Usage: mathapi {command}")),
            "{command}: {out}"
        );
    }
    let (out, _) = expect(&mathapi(&["--help"], &[]).await, 0);
    for command in ["serve", "fibonacci", "factorial", "ackermann", "sequence"] {
        assert!(out.contains(command), "{out}");
    }
    // The sequence's flags mean nothing to `fibonacci N`: not listed there.
    let (out, _) = expect(&mathapi(&["fibonacci", "--help"], &[]).await, 0);
    assert!(!out.contains("--sequence-data-dir"), "{out}");
    assert!(out.contains("--fibonacci-max-n"), "{out}");
}

#[tokio::test]
async fn server_flags_and_subcommands_do_not_mix() {
    let (_, err) = expect(&mathapi(&["--port", "1", "fibonacci", "3"], &[]).await, 2);
    assert!(err.contains("cannot be used with"), "{err}");
    let (_, err) = expect(&mathapi(&["fibonacci"], &[]).await, 2);
    assert!(err.contains("<N>"), "{err}");
    // The server's environment (as in a container) does not get in a subcommand's way.
    let env = [("MATHAPI_PORT", "1"), ("MATHAPI_HOST", "0.0.0.0")];
    assert_eq!(
        expect(&mathapi(&["fibonacci", "5"], &env).await, 0).0,
        "5
"
    );
}

/// Starts `mathapi serve` (the subcommand form) and returns it with its address.
async fn serve(data: &std::path::Path) -> (tokio::process::Child, String) {
    let mut child = Command::new(BINARY)
        .args(["serve", "--host", "127.0.0.1", "--port", "0"])
        .args(["--sequence-data-dir", data.to_str().unwrap()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = tokio::time::timeout(TIMEOUT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let record: Value = serde_json::from_str(&line).unwrap();
            if record["msg"] == "listening" {
                return record["address"].as_str().unwrap().to_owned();
            }
        }
        panic!("exited before listening");
    })
    .await
    .expect("no listening line in time");
    (child, format!("http://{address}"))
}

#[tokio::test]
async fn serve_is_the_server() {
    let data = tempfile::tempdir().unwrap();
    let (_child, url) = serve(data.path()).await;
    let (status, _, body) = json_of(
        client()
            .get(format!("{url}/fibonacci/12/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"], "144");
}

#[tokio::test]
async fn sequence_steps_the_local_store() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let step = |operation: &'static str, json: bool| {
        let mut args = vec!["sequence", operation, "--sequence-data-dir", dir];
        if json {
            args.push("--json");
        }
        async move { mathapi(&args, &[]).await }
    };
    assert_eq!(expect(&step("current", false).await, 0).0, "0 0\n");
    for expected in ["1 1\n", "2 1\n", "3 2\n", "4 3\n", "5 5\n", "6 8\n"] {
        assert_eq!(expect(&step("next", false).await, 0).0, expected);
    }
    assert_eq!(expect(&step("previous", false).await, 0).0, "5 5\n");
    // Durable: a new process sees where the last one left it.
    let (out, _) = expect(&step("current", true).await, 0);
    let document: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(document, json!({"index": 5, "value": "5"}));
    assert_eq!(expect(&step("reset", false).await, 0).0, "0 0\n");
    let (out, err) = expect(&step("previous", false).await, 3);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "mathapi: the sequence is at index 0; there is no previous step\n"
    );
}

#[tokio::test]
async fn sequence_next_at_the_maximum_exits_3() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let args = [
        "sequence",
        "next",
        "--sequence-data-dir",
        dir,
        "--sequence-max-index",
        "1",
    ];
    assert_eq!(expect(&mathapi(&args, &[]).await, 0).0, "1 1\n");
    let (_, err) = expect(&mathapi(&args, &[]).await, 3);
    assert!(err.contains("index 1, its maximum"), "{err}");
}

#[tokio::test]
async fn a_store_held_by_a_server_is_stepped_through_it_with_url() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = RunningBinary::start(BINARY, &["--sequence-data-dir", dir], &[]).await;

    let (out, err) = expect(
        &mathapi(&["sequence", "next", "--sequence-data-dir", dir], &[]).await,
        1,
    );
    assert_eq!(out, "");
    assert!(err.contains("in use by another process"), "{err}");
    assert!(err.contains("--url"), "{err}");

    let url = server.url("");
    let remote = |operation: &'static str| {
        let url = url.clone();
        async move { mathapi(&["sequence", operation, "--url", &url], &[]).await }
    };
    assert_eq!(expect(&remote("next").await, 0).0, "1 1\n");
    assert_eq!(expect(&remote("next").await, 0).0, "2 1\n");
    assert_eq!(expect(&remote("next").await, 0).0, "3 2\n");
    assert_eq!(expect(&remote("previous").await, 0).0, "2 1\n");
    assert_eq!(expect(&remote("current").await, 0).0, "2 1\n");
    // The server's own answer agrees.
    let (_, _, body) = json_of(
        client()
            .get(server.url("/fibonacci/current"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body, json!({"index": 2, "value": "1"}));
    let (out, _) = expect(
        &mathapi(&["sequence", "current", "--url", &url, "--json"], &[]).await,
        0,
    );
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), body);
    assert_eq!(expect(&remote("reset").await, 0).0, "0 0\n");
    let (_, err) = expect(&remote("previous").await, 3);
    assert_eq!(
        err,
        "mathapi: the sequence is at index 0; there is no previous step\n"
    );
    // The URL may also come from the environment.
    let output = mathapi(&["sequence", "next"], &[("MATHAPI_URL", &url)]).await;
    assert_eq!(expect(&output, 0).0, "1 1\n");
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_failure() {
    // Bind and drop a listener: the port is then (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (out, err) = expect(&mathapi(&["sequence", "next", "--url", &url], &[]).await, 1);
    assert_eq!(out, "");
    assert!(err.contains("cannot reach"), "{err}");
}

#[tokio::test]
async fn a_huge_answer_from_the_url_is_refused_not_read_whole() {
    use poem::{EndpointExt, Route, endpoint::make_sync};
    // A "server" that answers every step with 4 MiB: far beyond any real position.
    let huge = make_sync(|_| "9".repeat(4 << 20));
    let route = Route::new().at("/fibonacci/current", huge);
    let fake = mathapi_testing::TestApp::spawn(route.boxed()).await;
    let url = fake.url("");
    let (out, err) = expect(
        &mathapi(&["sequence", "current", "--url", &url], &[]).await,
        1,
    );
    assert_eq!(out, "");
    assert!(err.contains("larger than 262144 bytes"), "{err}");
}
