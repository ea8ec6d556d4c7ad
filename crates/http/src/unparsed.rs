//! Requests the HTTP/1.1 parser refuses before any route sees them (a request head too large,
//! a malformed request line or header, conflicting `Content-Length`s): answered like every
//! other refusal, with a problem document and a request id, logged and counted.
//!
//! The server runtime notices hyper's own bare answer to such a request and replaces it with
//! the one [`refuse_unparsed`] makes.

use mathapi_telemetry::{Metrics, fields};
use poem::http::StatusCode;
use poem_openapi::types::ToJSON;
use std::time::Duration;

use crate::problem::Problem;
use crate::request_id;

/// The bounds a request head must keep, for the problem's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Bytes of the request line and headers together.
    pub max_bytes: usize,
    /// Header fields.
    pub max_headers: usize,
}

/// A refused request's answer: its new request id and its problem document.
#[derive(Debug, Clone, PartialEq)]
pub struct Unparsed {
    /// The request id the answer carries (`X-Request-Id`) and the log line names.
    pub request_id: String,
    /// The problem document of the answer.
    pub problem: Problem,
    /// The problem document as JSON: the answer's body.
    pub body: String,
}

/// The answer to a request the parser refused with `status` (`400`, `414` or `431`): logged
/// as a `request completed` line and counted in `metrics` (method `_OTHER`, no route), as
/// every answer is.
pub fn refuse_unparsed(
    status: StatusCode,
    limits: HeadLimits,
    metrics: Option<&Metrics>,
) -> Unparsed {
    let problem = problem_of(status, limits);
    let request_id = request_id::new_id();
    if let Some(metrics) = metrics {
        metrics.request_started("_OTHER");
        metrics.request_finished("_OTHER", None, problem.status, Duration::ZERO);
    }
    tracing::info!(
        { fields::REQUEST_ID } = request_id.as_str(),
        { fields::HTTP_STATUS } = problem.status,
        { fields::REASON } = problem.reason.as_deref(),
        { fields::DETAIL } = problem.detail.as_str(),
        "request completed"
    );
    let body = ToJSON::to_json(&problem).unwrap_or_default().to_string();
    Unparsed {
        request_id,
        problem,
        body,
    }
}

fn problem_of(status: StatusCode, limits: HeadLimits) -> Problem {
    match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Problem::typed(
            status,
            "request_head_too_large",
            "Request head too large",
            format!(
                "the request line and headers must fit in {} bytes, with at most {} header fields",
                limits.max_bytes, limits.max_headers
            ),
        ),
        StatusCode::URI_TOO_LONG => Problem::typed(
            status,
            "uri_too_long",
            "Request target too long",
            "the request target must be shorter than 65,535 bytes",
        ),
        _ => Problem::typed(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "Bad request",
            "the request is not valid HTTP/1.1: a malformed request line or header, or \
             Content-Length headers that disagree",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_reason() {
        let limits = HeadLimits {
            max_bytes: 16384,
            max_headers: 100,
        };
        let reason = |status| {
            refuse_unparsed(status, limits, None)
                .problem
                .reason
                .unwrap()
        };
        assert_eq!(
            reason(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            "request_head_too_large"
        );
        assert_eq!(reason(StatusCode::URI_TOO_LONG), "uri_too_long");
        assert_eq!(reason(StatusCode::BAD_REQUEST), "malformed_request");
    }
}
