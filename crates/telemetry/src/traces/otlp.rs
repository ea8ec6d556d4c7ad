//! The OTLP/HTTP span exporter: a batch of finished spans posted to the collector as one
//! binary protobuf `ExportTraceServiceRequest` ([`protobuf`](super::protobuf) writes it).
//!
//! Why not `opentelemetry-otlp`'s exporter: it converts every span into the generated
//! protobuf structs first (a `String` per attribute key and value, a `Vec` per list),
//! encodes them, then drops them; that was two thirds of what a traced request cost
//! (docs/performance.md). The bytes written here are the same; the HTTP side behaves as
//! that exporter's does: `POST` with `Content-Type: application/x-protobuf` and the headers
//! of `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, any answer
//! but a 2xx is a failed export, each attempt bounded by the client's timeout, and a
//! collector that is down, overloaded or throttling (no answer, 429, 502, 503, 504) tried
//! again up to three times with a growing delay (honouring `Retry-After` in seconds) while
//! the export timeout allows.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry_http::{HttpClient, Request};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use poem::http::{Method, StatusCode, Uri, header};

use super::export::ExportClient;
use super::headers::ExportHeaders;
use super::protobuf;

/// Retries after a failed attempt, at most.
const MAX_RETRIES: u32 = 3;
/// Delay before the first retry; it doubles for each next one.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest delay between two attempts, unless the collector asks for more.
const MAX_DELAY: Duration = Duration::from_millis(1600);
/// Longest delay a collector's `Retry-After` is honoured up to.
const MAX_THROTTLE: Duration = Duration::from_secs(30);
/// Random extra delay, at most (so that many services do not retry in step).
const MAX_JITTER_MS: u32 = 100;

/// Posts batches of spans to an OTLP/HTTP traces URL (see the module docs).
pub struct OtlpExporter {
    client: ExportClient,
    url: Uri,
    headers: ExportHeaders,
    timeout: Duration,
    resource: Resource,
    /// The request body, written anew for each batch in the same allocation.
    body: Mutex<Vec<u8>>,
    shut_down: AtomicBool,
}

/// Why one attempt to post a batch failed.
#[derive(Debug)]
struct Failure {
    message: String,
    /// Another attempt may succeed.
    retryable: bool,
    /// The collector's `Retry-After`, in seconds.
    retry_after: Option<Duration>,
}

impl OtlpExporter {
    /// An exporter posting to `url` through `client`; a whole export (retries included)
    /// gives up after `timeout`.
    pub fn new(client: ExportClient, url: &str, timeout: Duration) -> Result<Self, String> {
        let url = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
        Ok(OtlpExporter {
            client,
            url,
            headers: ExportHeaders::default(),
            timeout,
            resource: Resource::builder_empty().build(),
            body: Mutex::new(Vec::new()),
            shut_down: AtomicBool::new(false),
        })
    }

    /// Adds `headers` to every export request.
    pub fn with_headers(mut self, headers: ExportHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// The protobuf body of `batch`.
    fn body_of(&self, batch: &[SpanData]) -> Bytes {
        let mut body = self.body.lock().unwrap_or_else(|e| e.into_inner());
        protobuf::encode_request(batch, &self.resource, &mut body);
        Bytes::copy_from_slice(&body)
    }

    /// Posts `body` until it is accepted, a failure is final, or the time is up.
    async fn post_with_retries(&self, body: Bytes) -> Result<(), Failure> {
        let start = Instant::now();
        let mut delay = FIRST_DELAY;
        let mut delay_cap = MAX_DELAY;
        let mut retries = 0;
        loop {
            let failure = match self.post(body.clone()).await {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            if !failure.retryable || retries == MAX_RETRIES || start.elapsed() >= self.timeout {
                return Err(failure);
            }
            retries += 1;
            if let Some(asked) = failure.retry_after {
                let asked = asked.min(MAX_THROTTLE);
                if asked > delay_cap {
                    delay_cap = MAX_THROTTLE;
                }
                delay = delay.max(asked);
            }
            let pause = (delay + jitter()).min(delay_cap);
            if pause >= self.timeout.saturating_sub(start.elapsed()) {
                return Err(failure);
            }
            self.client.sleep(pause).await;
            delay = (delay * 2).min(delay_cap);
        }
    }

    /// One attempt: `POST` the body, a 2xx answer is success.
    async fn post(&self, body: Bytes) -> Result<(), Failure> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(body)
            .map_err(|e| Failure::final_(format!("failed to build HTTP request: {e}")))?;
        for (name, value) in self.headers.iter() {
            request.headers_mut().insert(name, value.clone());
        }
        let response = self.client.send_bytes(request).await.map_err(|_| Failure {
            message: "HTTP export failed: network error".to_owned(),
            retryable: true,
            retry_after: None,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(Failure {
            message: format!("HTTP export failed with status code: {}", status.as_u16()),
            retryable: is_retryable(status),
            retry_after: retry_after.filter(|_| is_throttling(status)),
        })
    }
}

impl Failure {
    /// A failure another attempt would not mend.
    fn final_(message: String) -> Self {
        Failure {
            message,
            retryable: false,
            retry_after: None,
        }
    }
}

/// The answers OTLP/HTTP says to retry.
fn is_retryable(status: StatusCode) -> bool {
    is_throttling(status) || matches!(status.as_u16(), 502 | 504)
}

/// The answers that may say when to retry (`Retry-After`).
fn is_throttling(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 503)
}

/// 0 to [`MAX_JITTER_MS`] milliseconds, from the clock's nanoseconds.
fn jitter() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(u64::from(nanos % (MAX_JITTER_MS + 1)))
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let body = self.body_of(&batch);
        drop(batch);
        self.post_with_retries(body)
            .await
            .map_err(|failure| OTelSdkError::InternalFailure(failure.message))
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
    }
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;

    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use poem::listener::TcpAcceptor;
    use poem::{Body, EndpointExt, Response, Route, Server, handler, post, web::Data};
    use prost::Message;

    use super::*;

    /// What a collector was sent, and the answers it gives in turn (the last one repeats).
    #[derive(Default)]
    struct Script {
        answers: VecDeque<(u16, Option<&'static str>)>,
        received: Vec<(poem::http::HeaderMap, Vec<u8>)>,
    }

    #[handler]
    async fn collect(
        request: &poem::Request,
        body: Body,
        script: Data<&Arc<Mutex<Script>>>,
    ) -> Response {
        let body = body.into_vec().await.unwrap_or_default();
        let mut script = script.lock().unwrap();
        script.received.push((request.headers().clone(), body));
        let (status, retry_after) = if script.answers.len() > 1 {
            script.answers.pop_front().unwrap()
        } else {
            script.answers[0]
        };
        let mut response = Response::builder().status(StatusCode::from_u16(status).unwrap());
        if let Some(seconds) = retry_after {
            response = response.header(header::RETRY_AFTER, seconds);
        }
        response.finish()
    }

    /// A collector on a random port answering as `answers` say, the exporter posting to it,
    /// and the runtime the collector runs on (`block_on` an export with it).
    fn collector(
        answers: &[(u16, Option<&'static str>)],
        timeout: Duration,
    ) -> (tokio::runtime::Runtime, OtlpExporter, Arc<Mutex<Script>>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let script = Arc::new(Mutex::new(Script {
            answers: answers.iter().copied().collect(),
            received: Vec::new(),
        }));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let app = Route::new()
            .at("/v1/traces", post(collect))
            .data(script.clone());
        let acceptor = runtime
            .block_on(async { TcpAcceptor::from_tokio(listener) })
            .unwrap();
        runtime.spawn(Server::new_with_acceptor(acceptor).run(app));
        let client = ExportClient::new(timeout).unwrap();
        let exporter = OtlpExporter::new(client, &url, timeout).unwrap();
        (runtime, exporter, script)
    }

    fn span(name: &'static str) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(5),
                SpanId::from(6),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: name.into(),
            start_time: UNIX_EPOCH + Duration::from_secs(1),
            end_time: UNIX_EPOCH + Duration::from_secs(2),
            attributes: vec![KeyValue::new("http.route", "/fibonacci/{n}/")],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("mathapi").build(),
        }
    }

    const LONG: Duration = Duration::from_secs(30);

    /// One span exported to a collector answering as `answers` say: the export's result and
    /// how many requests the collector received.
    fn export_one(
        answers: &[(u16, Option<&'static str>)],
        timeout: Duration,
    ) -> (OTelSdkResult, usize) {
        let (runtime, exporter, script) = collector(answers, timeout);
        let result = runtime.block_on(exporter.export(vec![span("GET /")]));
        let received = script.lock().unwrap().received.len();
        (result, received)
    }

    #[test]
    fn a_batch_is_posted_as_protobuf_with_the_resource_and_the_headers() {
        let (runtime, exporter, script) = collector(&[(200, None)], LONG);
        let headers = super::super::headers::parse("x-api-key=k%2C1,x-team=math").unwrap();
        let mut exporter = exporter.with_headers(headers);
        let resource = Resource::builder_empty()
            .with_service_name("factorial")
            .build();
        exporter.set_resource(&resource);
        runtime
            .block_on(exporter.export(vec![span("GET /a"), span("GET /b")]))
            .unwrap();
        let script = script.lock().unwrap();
        let [(headers, body)] = &script.received[..] else {
            panic!("{} requests", script.received.len());
        };
        assert_eq!(headers[header::CONTENT_TYPE], "application/x-protobuf");
        assert_eq!(headers["x-api-key"], "k,1");
        assert_eq!(headers["x-team"], "math");
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let resource_spans = &request.resource_spans[0];
        let service = &resource_spans.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
        let names: Vec<_> = resource_spans.scope_spans[0]
            .spans
            .iter()
            .map(|s| &s.name)
            .collect();
        assert_eq!(names, ["GET /a", "GET /b"]);
    }

    #[test]
    fn an_answer_other_than_2xx_fails_the_export_and_only_some_are_tried_again() {
        for (status, attempts) in [
            (400, 1),
            (404, 1),
            (500, 1),
            (429, 2),
            (502, 2),
            (503, 2),
            (504, 2),
        ] {
            let (result, received) = export_one(&[(status, None), (202, None)], LONG);
            assert_eq!(received, attempts, "{status}");
            match attempts {
                1 => {
                    let error = result.unwrap_err().to_string();
                    assert!(error.contains(&format!("status code: {status}")), "{error}");
                }
                _ => result.unwrap(),
            }
        }
    }

    #[test]
    fn a_collector_that_keeps_failing_gets_three_retries() {
        let (result, received) = export_one(&[(503, None)], LONG);
        let error = result.unwrap_err();
        assert!(error.to_string().contains("status code: 503"), "{error}");
        assert_eq!(received, 4);
    }

    #[test]
    fn no_retry_waits_past_the_export_timeout() {
        // The collector asks for 20 s; the export may take 1 s: it fails at once.
        let (result, received) = export_one(&[(429, Some("20"))], Duration::from_secs(1));
        let error = result.unwrap_err();
        assert!(error.to_string().contains("status code: 429"), "{error}");
        assert_eq!(received, 1);
    }

    #[test]
    fn a_collector_that_is_not_there_fails_the_export() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // A port that was just free: connections to it are refused.
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        drop(listener);
        let timeout = Duration::from_millis(500);
        let exporter =
            OtlpExporter::new(ExportClient::new(timeout).unwrap(), &url, timeout).unwrap();
        let error = runtime
            .block_on(exporter.export(vec![span("GET /")]))
            .unwrap_err();
        assert!(error.to_string().contains("network error"), "{error}");
    }

    #[test]
    fn after_shutdown_nothing_is_sent() {
        let (runtime, exporter, script) = collector(&[(200, None)], LONG);
        exporter.shutdown().unwrap();
        assert!(exporter.shutdown().is_err(), "a second shutdown");
        assert!(
            runtime
                .block_on(exporter.export(vec![span("GET /")]))
                .is_err()
        );
        assert!(script.lock().unwrap().received.is_empty());
    }
}
