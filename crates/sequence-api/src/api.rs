//! [`SequenceApi`]: the routes `/fibonacci/current`, `next`, `previous`, `reset`, and the
//! types of their answers.
//!
//! `POST` steps. `GET` on `next`, `previous` and `reset` steps only when an operator allows
//! it for old clients (`--sequence-unsafe-get-steps`): a cross-site `GET` needs no
//! preflight, so any web page could step the sequence. Otherwise it answers `405` and the
//! documents leave it out ([`SequenceApi::withdrawn`]). `HEAD` never reaches these handlers:
//! the method layer of `mathapi-http` serves `HEAD` only on paths that take no `POST`, so a
//! monitor or link checker sending `HEAD` gets `405` and never moves the shared sequence.
//!
//! Every step reads its `Idempotency-Key` from the raw header (`key`).

use mathapi_http::{Problem, ResponseExample};
use mathapi_sequence::{OpenError, Operation};
use mathapi_telemetry::Metrics;
use poem::http::StatusCode;
use poem::{IntoResponse, Request};
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::key::idempotency_key;
use crate::{Position, Sequence, SequenceArgs, problems};

#[derive(Tags)]
enum SequenceTags {
    /// One shared, durable walk through the Fibonacci sequence.
    Sequence,
}

// The schema of the answers, which are rendered once per index as `Position`s (its doc
// comment is the schema's published description).
/// A position in the sequence.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SequenceValue {
    /// How many steps from the start: the walk reads F(0), F(1), F(2), ...
    pub index: u64,
    /// F(index), exact, as a decimal string.
    pub value: String,
}

impl Example for SequenceValue {
    fn example() -> Self {
        SequenceValue {
            index: 3,
            value: "2".into(),
        }
    }
}

const NO_STORE: &str = "no-store";

/// Answers of the sequence's operations. None may be cached: each reflects shared state.
#[derive(Debug, ApiResponse)]
pub enum SequenceResponse {
    /// The new (or current) position.
    #[oai(status = 200)]
    Ok(Position, #[oai(header = "Cache-Control")] String),
    /// The `Idempotency-Key` header is malformed; nothing changed.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
    /// `previous` at index 0, or `next` at the maximum index; nothing changed.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
    /// The `Idempotency-Key` was used before for another step; nothing changed.
    #[oai(status = 422, content_type = "application/problem+json")]
    KeyReused(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
    /// The storage failed; the step may or may not have been recorded.
    #[oai(status = 500, content_type = "application/problem+json")]
    Failed(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
    /// Not applied: the storage is unreachable or stalled, or its state was lost or is out
    /// of range (`reason` says which); retry later, or reset after a loss.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
    /// Outcome unknown: the step was sent but not confirmed within the commit deadline. Retry
    /// with the same `Idempotency-Key` to get its answer without stepping twice.
    #[oai(status = 504, content_type = "application/problem+json")]
    OutcomeUnknown(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
}

impl SequenceResponse {
    pub(crate) fn ok(position: Position) -> Self {
        SequenceResponse::Ok(position, NO_STORE.into())
    }

    pub(crate) fn bad_request(problem: Problem) -> Self {
        SequenceResponse::BadRequest(Json(Box::new(problem)), NO_STORE.into())
    }

    /// The variant of the problem's status.
    pub(crate) fn problem(problem: Problem) -> Self {
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Json(Box::new(problem));
        let no_store = NO_STORE.to_owned();
        match status {
            StatusCode::BAD_REQUEST => SequenceResponse::BadRequest(body, no_store),
            StatusCode::CONFLICT => SequenceResponse::Conflict(body, no_store),
            StatusCode::UNPROCESSABLE_ENTITY => SequenceResponse::KeyReused(body, no_store),
            StatusCode::SERVICE_UNAVAILABLE => SequenceResponse::Unavailable(body, no_store),
            StatusCode::GATEWAY_TIMEOUT => SequenceResponse::OutcomeUnknown(body, no_store),
            _ => SequenceResponse::Failed(body, no_store),
        }
    }
}

/// The sequence's routes, over a [`Sequence`]. A service serves them next to its own API
/// with [`WithSequence`](crate::WithSequence).
#[derive(Clone)]
pub struct SequenceApi {
    sequence: Sequence,
}

impl SequenceApi {
    /// Opens the sequence's store; must run inside the Tokio runtime.
    pub fn open(args: &SequenceArgs, metrics: &Metrics) -> Result<Self, OpenError> {
        Ok(Self::new(Sequence::open(args, metrics)?))
    }

    /// The routes of an opened sequence.
    pub fn new(sequence: Sequence) -> Self {
        SequenceApi { sequence }
    }

    /// The sequence behind the routes.
    pub fn sequence(&self) -> &Sequence {
        &self.sequence
    }

    /// Example answers of the routes, for the OpenAPI document.
    pub fn examples(&self) -> Vec<ResponseExample> {
        self.sequence.examples()
    }

    /// The rules of the request headers the routes check themselves (`Idempotency-Key`),
    /// for the OpenAPI document.
    pub fn header_rules(&self) -> Vec<mathapi_http::HeaderRule> {
        vec![idempotency_key_rule()]
    }
}

/// The optional `Idempotency-Key` of a step.
type IdempotencyKey = Header<Option<String>>;

/// What the sequence accepts as an `Idempotency-Key` (`valid_idempotency_key`), for the
/// published document: 1 to 255 visible ASCII characters. Whitespace around a field value is
/// not part of it (RFC 9110 §5.5: the server never sees it), so the pattern allows it and the
/// length is counted inside the pattern.
pub fn idempotency_key_rule() -> mathapi_http::HeaderRule {
    let pattern = format!(
        "^[ \\t]*[!-~]{{1,{}}}[ \\t]*$",
        mathapi_sequence::MAX_KEY_LEN
    );
    mathapi_http::HeaderRule {
        name: "Idempotency-Key",
        schema: serde_json::json!({"type": "string", "pattern": pattern}),
    }
}

impl SequenceApi {
    /// Performs `operation` with the request's `Idempotency-Key`, refusing a key it cannot
    /// use (`key`).
    async fn step(&self, operation: Operation, request: &Request) -> SequenceResponse {
        match idempotency_key(request.headers()) {
            Ok(key) => self.sequence.run(operation, key).await,
            Err(problem) => {
                mathapi_http::note_call("sequence", operation.name());
                mathapi_http::note_problem(&problem);
                SequenceResponse::bad_request(*problem)
            }
        }
    }

    /// `GET` on a route that steps: the step when an operator allowed it, else `405` (the
    /// middleware adds `Allow` from the document, which then lists no `GET` here).
    async fn get_step(
        &self,
        operation: Operation,
        request: &Request,
    ) -> poem::Result<SequenceResponse> {
        if self.sequence.unsafe_get_steps() {
            return Ok(self.step(operation, request).await);
        }
        let problem = problems::get_refused(&format!("/fibonacci/{}", operation.name()))
            .with_instance(request.uri().path());
        mathapi_http::note_problem(&problem);
        Err(poem::Error::from_response(problem.into_response()))
    }

    /// The operations the document leaves out: the `GET` steps, unless an operator allowed
    /// them.
    pub fn withdrawn(&self) -> Vec<mathapi_http::Withdrawn> {
        if self.sequence.unsafe_get_steps() {
            return Vec::new();
        }
        GET_STEPS
            .iter()
            .map(|path| mathapi_http::Withdrawn {
                path,
                method: "get",
            })
            .collect()
    }
}

/// The routes whose deprecated `GET` steps (`--sequence-unsafe-get-steps`).
const GET_STEPS: [&str; 3] = ["/fibonacci/next", "/fibonacci/previous", "/fibonacci/reset"];

#[OpenApi(tag = "SequenceTags::Sequence")]
impl SequenceApi {
    /// The stepper's current position
    ///
    /// One sequence shared by every client, starting at index 0 (value 0).
    #[oai(path = "/fibonacci/current", method = "get")]
    async fn sequence_current(&self) -> SequenceResponse {
        self.sequence.run(Operation::Current, None).await
    }

    /// Step forward
    ///
    /// Advances the shared sequence one step and answers with the new position, after the
    /// step is durable. `409` at the configured maximum index. With an `Idempotency-Key`, a
    /// retry of the same key answers what the first call answered without stepping again.
    #[oai(path = "/fibonacci/next", method = "post")]
    async fn sequence_next(
        &self,
        request: &Request,
        /// Makes retries safe: 1 to 255 visible ASCII characters, e.g. a UUID; any other
        /// value is refused with `400`.
        #[oai(name = "Idempotency-Key")]
        _key: IdempotencyKey,
    ) -> SequenceResponse {
        self.step(Operation::Next, request).await
    }

    /// Step back
    ///
    /// Moves the shared sequence back one step and answers with the new position, after
    /// the step is durable. `409` at index 0. Takes an `Idempotency-Key` like `next`.
    #[oai(path = "/fibonacci/previous", method = "post")]
    async fn sequence_previous(
        &self,
        request: &Request,
        /// Makes retries safe: 1 to 255 visible ASCII characters, e.g. a UUID; any other
        /// value is refused with `400`.
        #[oai(name = "Idempotency-Key")]
        _key: IdempotencyKey,
    ) -> SequenceResponse {
        self.step(Operation::Previous, request).await
    }

    /// Back to the start
    ///
    /// Returns the shared sequence to index 0, durably. This is also the operator's explicit
    /// reset after the storage lost the sequence (`503 sequence_state_lost`) or holds an
    /// out-of-range index (`503 sequence_state_invalid`). Takes an `Idempotency-Key`.
    #[oai(path = "/fibonacci/reset", method = "post")]
    async fn sequence_reset(
        &self,
        request: &Request,
        /// Makes retries safe: 1 to 255 visible ASCII characters, e.g. a UUID; any other
        /// value is refused with `400`.
        #[oai(name = "Idempotency-Key")]
        _key: IdempotencyKey,
    ) -> SequenceResponse {
        self.step(Operation::Reset, request).await
    }

    /// Step forward (GET, unsafe, for old clients)
    ///
    /// Same as `POST /fibonacci/next`, `Idempotency-Key` included. Served only when an
    /// operator allows it (`--sequence-unsafe-get-steps`): any web page can make a browser
    /// send it. `HEAD` is refused (`405`): it must not step.
    #[oai(path = "/fibonacci/next", method = "get", deprecated)]
    async fn sequence_next_get(
        &self,
        request: &Request,
        /// As for `POST`.
        #[oai(name = "Idempotency-Key")]
        _key: IdempotencyKey,
    ) -> poem::Result<SequenceResponse> {
        self.get_step(Operation::Next, request).await
    }

    /// Step back (GET, unsafe, for old clients)
    ///
    /// Same as `POST /fibonacci/previous`, `Idempotency-Key` included. Served only when an
    /// operator allows it (`--sequence-unsafe-get-steps`). `HEAD` is refused (`405`).
    #[oai(path = "/fibonacci/previous", method = "get", deprecated)]
    async fn sequence_previous_get(
        &self,
        request: &Request,
        /// As for `POST`.
        #[oai(name = "Idempotency-Key")]
        _key: IdempotencyKey,
    ) -> poem::Result<SequenceResponse> {
        self.get_step(Operation::Previous, request).await
    }

    /// Back to the start (GET, unsafe, for old clients)
    ///
    /// Same as `POST /fibonacci/reset`, `Idempotency-Key` included. Served only when an
    /// operator allows it (`--sequence-unsafe-get-steps`). `HEAD` is refused (`405`).
    #[oai(path = "/fibonacci/reset", method = "get", deprecated)]
    async fn sequence_reset_get(
        &self,
        request: &Request,
        /// As for `POST`.
        #[oai(name = "Idempotency-Key")]
        _key: IdempotencyKey,
    ) -> poem::Result<SequenceResponse> {
        self.get_step(Operation::Reset, request).await
    }
}
