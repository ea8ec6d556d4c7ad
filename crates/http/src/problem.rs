//! RFC 9457 problem documents: the one shape every error response takes.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, ToJSON};
use poem_openapi::{ApiResponse, Object};

/// The media type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Longest client-controlled text (a path, a value) a problem document or a log line
/// repeats: a request target can be 64 KiB long.
pub(crate) const ECHO_BYTES: usize = 256;

/// `text` cut to [`ECHO_BYTES`] on a character boundary, marked with `…` when cut.
pub(crate) fn bounded(text: &str) -> String {
    if text.len() <= ECHO_BYTES {
        return text.to_owned();
    }
    let mut cut = ECHO_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

/// An error, as a problem document (RFC 9457).
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(example)]
pub struct Problem {
    /// A URI identifying the kind of problem; `about:blank` for plain HTTP errors.
    #[oai(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, and what is allowed instead.
    pub detail: String,
    /// The request path the problem occurred on.
    #[oai(skip_serializing_if_is_none)]
    pub instance: Option<String>,
    /// Machine-readable reason, e.g. `out_of_range` (also the `reason` label of
    /// `mathapi_rejected_inputs_total`).
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
}

impl Example for Problem {
    fn example() -> Self {
        Problem {
            problem_type: "urn:mathapi:problem:out-of-range".into(),
            title: "Argument out of range".into(),
            status: 400,
            detail: "n must be an integer from 0 to 400, got 401".into(),
            instance: None,
            reason: Some("out_of_range".into()),
        }
    }
}

impl Problem {
    /// A plain HTTP error (`type: about:blank`, title = the status's reason phrase).
    pub fn from_status(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            problem_type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            reason: None,
        }
    }

    /// A problem of a specific kind: `reason` is its snake_case name (`out_of_range`), and
    /// `type` the URN made from it (`urn:mathapi:problem:out-of-range`).
    pub fn typed(status: StatusCode, reason: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            problem_type: format!("urn:mathapi:problem:{}", reason.replace('_', "-")),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            reason: Some(reason.into()),
        }
    }

    /// The problem of the request for `instance` (its path), cut to a bounded length.
    pub fn with_instance(mut self, instance: &str) -> Self {
        self.instance = Some(bounded(instance));
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_client_text_is_cut_on_a_character_boundary() {
        assert_eq!(bounded("/fibonacci/10/"), "/fibonacci/10/");
        let cut = bounded(&"é".repeat(40_000));
        assert!(cut.len() <= ECHO_BYTES + '…'.len_utf8(), "{}", cut.len());
        assert!(cut.ends_with('…'));
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = ToJSON::to_json(&self).unwrap_or_default();
        Response::builder()
            .status(status)
            .content_type(PROBLEM_JSON)
            .body(body.to_string())
    }
}

/// The documented `400` answer of every math operation.
#[derive(Debug, ApiResponse)]
pub enum ProblemResponse {
    /// The arguments are not valid: not an integer, negative, out of range, or a result
    /// too large to compute.
    // Boxed: handlers return `Result<_, ProblemResponse>`, and the error path should not
    // make every result large.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Box<Problem>>),
    /// Every computation slot is busy and the queue is full (`reason: overloaded`): retry
    /// after the seconds `Retry-After` gives.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(
        Json<Box<Problem>>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        u64,
    ),
}

impl ProblemResponse {
    /// A `503` answer with `Retry-After` (whole seconds, at least 1).
    pub fn unavailable(problem: Problem, retry_after: std::time::Duration) -> Self {
        ProblemResponse::Unavailable(Json(Box::new(problem)), retry_after.as_secs().max(1))
    }
}

impl From<Problem> for ProblemResponse {
    fn from(problem: Problem) -> Self {
        ProblemResponse::BadRequest(Json(Box::new(problem)))
    }
}
