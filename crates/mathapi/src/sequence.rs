//! `mathapi sequence current|next|previous|reset`: the durable sequence, stepped on the
//! local store (the same store, flags and problem messages as the server's) or through a
//! running server with `--url`.
//!
//! A running server holds the local store's lock, so the two can never both write it: the
//! command then says so and points to `--url`.

use std::process::ExitCode;
use std::time::Duration;

use mathapi_sequence_api::{OpenError, Operation, Sequence, SequenceResponse};
use mathapi_telemetry::Metrics;
use serde_json::Value;

use crate::cli::SequenceCommand;
use crate::output::{EXIT_CONFLICT, EXIT_FAILURE, print_line};

/// How long `--url` waits for the server: a step is one fsync or Redis round trip.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a server's answer `--url` reads: F(100 000), the largest value any
/// configuration allows, is 20 899 digits; anything much larger is not a mathapi answer.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The outcome of one step, wherever it ran.
enum Outcome {
    /// The new position: `index`, `value` and the API's JSON document.
    Position {
        index: u64,
        value: String,
        document: String,
    },
    /// The step is impossible (the API's `409`); the problem's detail.
    Conflict(String),
    /// Anything else that went wrong; the message to print.
    Failed(String),
}

/// Runs the subcommand.
pub fn run(command: &SequenceCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return report(Outcome::Failed(format!("cannot start: {error}")), false),
    };
    let outcome = runtime.block_on(async {
        match &command.url {
            Some(url) => remote(url, command.operation).await,
            None => local(command).await,
        }
    });
    report(outcome, command.json)
}

/// Prints the outcome and picks the exit code.
fn report(outcome: Outcome, json: bool) -> ExitCode {
    match outcome {
        Outcome::Position { document, .. } if json => print_line(&document),
        Outcome::Position { index, value, .. } => print_line(&format!("{index} {value}")),
        Outcome::Conflict(detail) => {
            eprintln!("mathapi: {detail}");
            ExitCode::from(EXIT_CONFLICT)
        }
        Outcome::Failed(message) => {
            eprintln!("mathapi: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// One step on the local store, through the [`Sequence`] the server uses.
async fn local(command: &SequenceCommand) -> Outcome {
    let metrics = match Metrics::new(crate::NAME) {
        Ok(metrics) => metrics,
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    let sequence = match Sequence::open(&command.store, &metrics) {
        Ok(sequence) => sequence,
        Err(error @ OpenError::Locked { .. }) => {
            return Outcome::Failed(format!(
                "{error}.\nA running server holds this store: step the sequence through it \
                 instead, e.g. `mathapi sequence {} --url http://127.0.0.1:8000`",
                command.operation.name()
            ));
        }
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    match sequence.run(command.operation, None).await {
        SequenceResponse::Ok(position, _) => Outcome::Position {
            document: position.json().to_owned(),
            index: position.index(),
            value: position.value().to_owned(),
        },
        SequenceResponse::Conflict(problem, _) => Outcome::Conflict(problem.detail.clone()),
        SequenceResponse::BadRequest(problem, _)
        | SequenceResponse::KeyReused(problem, _)
        | SequenceResponse::Unavailable(problem, _)
        | SequenceResponse::OutcomeUnknown(problem, _)
        | SequenceResponse::Failed(problem, _) => Outcome::Failed(problem.detail.clone()),
    }
}

/// One step through a server: `GET /fibonacci/current`, `POST` for the others.
async fn remote(base: &str, operation: Operation) -> Outcome {
    let url = format!(
        "{}/fibonacci/{}",
        base.trim_end_matches('/'),
        operation.name()
    );
    let client = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => return Outcome::Failed(format!("cannot make an HTTP client: {error}")),
    };
    let request = match operation.changes_state() {
        false => client.get(&url),
        true => client.post(&url),
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Outcome::Failed(format!("cannot reach {url}: {error}")),
    };
    let status = response.status();
    let body = match read_bounded(response, MAX_ANSWER_BYTES).await {
        Ok(body) => body,
        Err(error) => return Outcome::Failed(format!("{url}: {error}")),
    };
    let json: Value = serde_json::from_str(&body).unwrap_or_default();
    if status.is_success() {
        return match (json["index"].as_u64(), json["value"].as_str()) {
            (Some(index), Some(value)) => Outcome::Position {
                index,
                value: value.to_owned(),
                document: body.trim_end().to_owned(),
            },
            _ => Outcome::Failed(format!("{url} answered {status} without a position")),
        };
    }
    let detail = json["detail"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{url} answered {status}"));
    match status.as_u16() {
        409 => Outcome::Conflict(detail),
        _ => Outcome::Failed(detail),
    }
}

/// The body as text, refusing to read more than `limit` bytes.
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<String, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("cannot read the answer: {e}"))?
    {
        if body.len() + chunk.len() > limit {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8 text".to_owned())
}
