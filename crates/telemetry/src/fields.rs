//! Names of spans and log fields. Everything that logs uses these, so the log contract
//! (`docs/observability.md`, the Logstash pipeline, the Elasticsearch template) has one
//! source in the code.

/// The span around a request: the lines logged while it is handled carry its fields.
pub const REQUEST_SPAN: &str = "http_request";
/// The span around a computation (`debug` in the log; exported whenever tracing is on).
pub const COMPUTATION_SPAN: &str = "computation";

/// `msg` of the one line written per completed request.
pub const REQUEST_COMPLETED: &str = "request completed";

/// The request id (`X-Request-Id`), on every line logged for a request.
pub const REQUEST_ID: &str = "request_id";
/// The request method; `_OTHER` for a non-standard one.
pub const HTTP_METHOD: &str = "http_method";
/// The request path as received (cut when very long).
pub const URL_PATH: &str = "url_path";
/// The matched route template, e.g. `/ackermann/{m}/{n}/`.
pub const HTTP_ROUTE: &str = "http_route";
/// The response status code.
pub const HTTP_STATUS: &str = "http_status";
/// Server-side duration of the request, milliseconds.
pub const LATENCY_MS: &str = "latency_ms";
/// `fibonacci`, `factorial`, `ackermann` or `sequence`.
pub const FUNCTION: &str = "function";
/// The raw arguments (`n=10`, `m=3,n=4`) or the stepper operation.
pub const ARGUMENTS: &str = "arguments";
/// Time spent computing and rendering the result, milliseconds.
pub const COMPUTE_MS: &str = "compute_ms";
/// Decimal digits of the result.
pub const RESULT_DIGITS: &str = "result_digits";
/// `hit` or `miss` in the render cache.
pub const CACHE: &str = "cache";
/// The problem's machine-readable reason (`out_of_range`, …).
pub const REASON: &str = "reason";
/// What went wrong, in words.
pub const DETAIL: &str = "detail";
/// The fault injected into the request for a demonstration: `latency`, `error` or
/// `latency+error` (absent when none).
pub const FAULT: &str = "fault";
/// The W3C trace id (32 lower-case hex digits) of a sampled request, on its lines.
pub const TRACE_ID: &str = "trace_id";
/// The id (16 lower-case hex digits) of a sampled request's server span, on its lines.
pub const SPAN_ID: &str = "span_id";
