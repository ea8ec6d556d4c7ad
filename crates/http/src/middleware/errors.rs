//! Every way a request can fail, as a problem document: poem's own errors (404, 405, a
//! malformed path), errors of our handlers, and panics.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use mathapi_telemetry::method_label;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response};

use super::{Incoming, Wrapped};
use crate::problem::{Problem, bounded};
use crate::request_log;

/// Turns every error of the routes (poem's 404 and 405, a malformed path, a handler's error)
/// and every panic in a handler into a problem document.
pub(crate) struct Problems;

impl<E: Endpoint> Middleware<E> for Problems {
    type Output = Wrapped<Problems, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: Problems,
            inner,
        }
    }
}

impl<E: Endpoint> Endpoint for Wrapped<Problems, E> {
    type Output = Response;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let method = method_label(req.method());
        let answered = AssertUnwindSafe(self.inner.call(req)).catch_unwind();
        answered.map(move |outcome| {
            Ok(match outcome {
                Ok(Ok(output)) => output.into_response(),
                Ok(Err(error)) => Failed::with(method, |failed| error_response(error, failed)),
                Err(panic) => Failed::with(method, |failed| panic_response(&*panic, failed)),
            })
        })
    }
}

/// What the request was, for the problem's `detail` and `instance`.
struct Failed<'a> {
    method: &'static str,
    path: &'a str,
    request_id: &'a str,
}

impl Failed<'_> {
    /// Runs `f` on the request that failed.
    fn with<R>(method: &'static str, f: impl FnOnce(&Failed<'_>) -> R) -> R {
        Incoming::with(|incoming| {
            f(&Failed {
                method,
                path: &incoming.path,
                request_id: &incoming.id,
            })
        })
    }
}

/// The answer to a handler's error. Errors that already are responses (our problem
/// documents) pass through; the rest become problem documents. The route pattern poem
/// matched, if any, stays on the response for the metrics.
fn error_response(error: poem::Error, failed: &Failed<'_>) -> Response {
    if error.is_from_response() {
        return error.into_response();
    }
    let pattern = error.data::<PathPattern>().cloned();
    let status = error.status();
    let detail = match status {
        StatusCode::NOT_FOUND => format!("no route matches {}", bounded(failed.path)),
        StatusCode::METHOD_NOT_ALLOWED => method_not_allowed_detail(failed.method, failed.path),
        s if s.is_server_error() => {
            tracing::error!(detail = %error, "request failed");
            internal_error_detail(failed.request_id)
        }
        _ => bounded(&error.to_string()),
    };
    let problem = match status {
        // poem's own 400s (a path segment that is not UTF-8 once decoded, `%FF`) get a
        // reason like every other 400 of ours.
        StatusCode::BAD_REQUEST => {
            Problem::typed(status, "malformed_request", "Bad request", detail)
        }
        _ => Problem::from_status(status, detail),
    };
    let mut response = problem_response(problem, failed);
    if let Some(pattern) = pattern {
        response.set_data(pattern);
    }
    response
}

/// The answer to a panic in a handler: a `500` that names the request id (the details are
/// in the log, never sent to the client), and an error line with the panic message.
fn panic_response(panic: &(dyn Any + Send), failed: &Failed<'_>) -> Response {
    tracing::error!(panic = panic_message(panic), "handler panicked");
    let problem = Problem::from_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        internal_error_detail(failed.request_id),
    );
    problem_response(problem, failed)
}

fn problem_response(problem: Problem, failed: &Failed<'_>) -> Response {
    request_log::note_problem(&problem);
    problem.with_instance(failed.path).into_response()
}

/// The `detail` of a `405`: the method and the path (cut).
pub(super) fn method_not_allowed_detail(method: &str, path: &str) -> String {
    format!("{method} is not allowed on {}", bounded(path))
}

fn internal_error_detail(request_id: &str) -> String {
    format!("internal error (request id {request_id})")
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}
