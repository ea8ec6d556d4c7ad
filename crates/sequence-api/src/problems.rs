//! How the sequence answers each error: the one place its problem documents (and their
//! examples in the OpenAPI document) are defined.
//!
//! The status says what happened to the state: `409` nothing (a bound), `503` nothing (the
//! change was not applied: retry later), `504` unknown (the change was sent but its answer
//! did not come in time: retry with the same `Idempotency-Key` to find out), `500` unknown
//! (the storage failed).

use mathapi_http::{Problem, ResponseExample};
use mathapi_sequence::SequenceError;
use poem::http::StatusCode;
use poem_openapi::types::ToJSON;

/// The problem document for `error`.
pub(crate) fn problem_for(error: &SequenceError) -> Problem {
    let (status, reason, title) = status_reason_title(error);
    Problem::typed(status, reason, title, error.to_string())
}

/// The `outcome` label of `mathapi_sequence_steps_total` for `error` (a fixed set).
pub(crate) fn outcome_of(error: &SequenceError) -> &'static str {
    match error {
        SequenceError::AtEnd { .. } | SequenceError::AtStart => "conflict",
        SequenceError::Unavailable(_) => "unavailable",
        SequenceError::OutcomeUnknown(_) => "unknown",
        SequenceError::OutOfRange { .. } => "invalid_state",
        SequenceError::StateLost => "state_lost",
        SequenceError::KeyReused { .. } => "key_reused",
        SequenceError::Io(_) => "error",
    }
}

fn status_reason_title(error: &SequenceError) -> (StatusCode, &'static str, &'static str) {
    match error {
        SequenceError::AtEnd { .. } => (
            StatusCode::CONFLICT,
            "sequence_at_end",
            "The sequence is at its end",
        ),
        SequenceError::AtStart => (
            StatusCode::CONFLICT,
            "sequence_at_start",
            "The sequence is at its start",
        ),
        SequenceError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "Sequence storage unavailable: nothing was changed",
        ),
        SequenceError::OutcomeUnknown(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            "outcome_unknown",
            "The step may or may not have been applied",
        ),
        SequenceError::OutOfRange { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "sequence_state_invalid",
            "The stored sequence index is out of range",
        ),
        SequenceError::StateLost => (
            StatusCode::SERVICE_UNAVAILABLE,
            "sequence_state_lost",
            "The sequence state was lost",
        ),
        SequenceError::KeyReused { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "The Idempotency-Key was used for another step",
        ),
        SequenceError::Io(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_failed",
            "Sequence storage failed",
        ),
    }
}

/// A malformed `Idempotency-Key` header; `what` says what is wrong with it (never the key
/// itself: it is the client's, and may be anything).
pub(crate) fn invalid_key(what: &str) -> Problem {
    Problem::typed(
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        "Invalid Idempotency-Key",
        format!(
            "the Idempotency-Key {what}; it must be 1 to {} visible ASCII characters (e.g. a UUID); nothing was changed",
            mathapi_sequence::MAX_KEY_LEN
        ),
    )
}

/// `GET` on a route that steps, while `GET` steps are off.
pub(crate) fn get_refused(path: &str) -> Problem {
    Problem::typed(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        format!(
            "GET does not change the sequence: use POST {path} (an operator may allow GET for old clients with --sequence-unsafe-get-steps, which lets any web page step the sequence)"
        ),
    )
}

/// Example answers of the sequence's operations, for the OpenAPI document.
pub(crate) fn examples(max_index: u64) -> Vec<ResponseExample> {
    let example = |error: SequenceError| problem_for(&error).to_json().unwrap_or_default();
    let unavailable = example(SequenceError::Unavailable("connection refused".into()));
    let unknown = example(SequenceError::OutcomeUnknown(
        "no answer within the 2 s commit deadline; retry with the same Idempotency-Key".into(),
    ));
    let mut examples = vec![
        ResponseExample {
            path: "/fibonacci/next",
            status: 409,
            value: example(SequenceError::AtEnd { index: max_index }),
        },
        ResponseExample {
            path: "/fibonacci/previous",
            status: 409,
            value: example(SequenceError::AtStart),
        },
    ];
    for path in [
        "/fibonacci/current",
        "/fibonacci/next",
        "/fibonacci/previous",
        "/fibonacci/reset",
    ] {
        examples.push(ResponseExample {
            path,
            status: 503,
            value: unavailable.clone(),
        });
    }
    for path in ["/fibonacci/next", "/fibonacci/previous", "/fibonacci/reset"] {
        examples.push(ResponseExample {
            path,
            status: 504,
            value: unknown.clone(),
        });
        examples.push(ResponseExample {
            path,
            status: 422,
            value: example(SequenceError::KeyReused {
                original: "reset".into(),
                requested: "next",
            }),
        });
        examples.push(ResponseExample {
            path,
            status: 400,
            value: invalid_key("is not visible ASCII")
                .to_json()
                .unwrap_or_default(),
        });
    }
    examples
}
