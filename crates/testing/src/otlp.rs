//! Collectors for the services' trace export, in-process on random ports: one that decodes
//! every OTLP/HTTP protobuf request it gets ([`OtlpReceiver`], answering with success or a
//! status of the test's choosing), and one that accepts
//! connections and never answers ([`SilentCollector`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mathapi_server::Application;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use poem::endpoint::make;
use poem::http::StatusCode;
use poem::{EndpointExt, IntoResponse, Response, Route, post};
use prost::Message;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::TIMEOUT;

/// One span as a collector received it, with hex ids and its attributes as text.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// `service.name` of the resource that sent it.
    pub service_name: String,
    pub name: String,
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits.
    pub span_id: String,
    /// 16 lower-case hex digits, empty for a root span.
    pub parent_span_id: String,
    /// The OTLP `SpanKind` number (2 is server, 1 internal).
    pub kind: i32,
    /// The OTLP status code (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Attribute values as text (numbers in decimal).
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedSpan {
    /// The attribute `key`, if the span has it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with a protobuf `ExportTraceServiceRequest`.
pub struct OtlpReceiver {
    pub address: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    requests: Arc<Mutex<usize>>,
    _server: JoinHandle<std::io::Result<()>>,
}

impl OtlpReceiver {
    /// Starts listening on 127.0.0.1 with a random port.
    pub async fn start() -> OtlpReceiver {
        OtlpReceiver::answering(StatusCode::OK).await
    }

    /// Like [`OtlpReceiver::start`], but every export it decodes (and keeps) is answered
    /// with `status`: a collector that refuses or cannot take what it is sent.
    pub async fn answering(status: StatusCode) -> OtlpReceiver {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(0));
        let (kept, counted) = (spans.clone(), requests.clone());
        let endpoint = Route::new()
            .at(
                "/v1/traces",
                post(make(move |req: poem::Request| {
                    let (kept, counted) = (kept.clone(), counted.clone());
                    async move {
                        *counted.lock().unwrap() += 1;
                        let body = req.into_body().into_bytes().await.unwrap_or_default();
                        match ExportTraceServiceRequest::decode(body) {
                            Ok(export) => {
                                kept.lock().unwrap().extend(spans_of(export));
                                // An empty ExportTraceServiceResponse is zero bytes.
                                Response::builder()
                                    .status(status)
                                    .content_type("application/x-protobuf")
                                    .body(Vec::<u8>::new())
                            }
                            Err(_) => StatusCode::BAD_REQUEST.into_response(),
                        }
                    }
                })),
            )
            .boxed();
        let app = Application::bind("127.0.0.1:0".parse().unwrap(), endpoint).expect("bind");
        let address = app.address();
        let server = tokio::spawn(app.run_until(std::future::pending(), Duration::ZERO));
        OtlpReceiver {
            address,
            spans,
            requests,
            _server: server,
        }
    }

    /// The base URL to give as `--otel-endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// Export requests received so far (decodable or not).
    pub fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }

    /// Waits until `count` spans have arrived, and returns all of them.
    pub async fn wait_for_spans(&self, count: usize) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let spans = self.spans();
            if spans.len() >= count {
                return spans;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} spans not received in time; got {spans:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn spans_of(export: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in export.resource_spans {
        let service_name = resource_spans
            .resource
            .map(|r| attributes_of(r.attributes))
            .and_then(|mut a| a.remove("service.name"))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                out.push(ReceivedSpan {
                    service_name: service_name.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: span.kind,
                    status_code: span.status.map_or(0, |s| s.code),
                    attributes: attributes_of(span.attributes),
                });
            }
        }
    }
    out
}

fn attributes_of(attributes: Vec<KeyValue>) -> BTreeMap<String, String> {
    attributes
        .into_iter()
        .map(|kv| (kv.key, kv.value.map(text_of).unwrap_or_default()))
        .collect()
}

fn text_of(value: AnyValue) -> String {
    match value.value {
        Some(any_value::Value::StringValue(s)) => s,
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A collector that accepts connections and never answers: the exporter's worst case.
pub struct SilentCollector {
    pub address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    _accepting: JoinHandle<()>,
}

impl SilentCollector {
    /// Starts listening on 127.0.0.1 with a random port.
    pub async fn start() -> SilentCollector {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        let accepting = tokio::spawn(async move {
            // Connections are kept open, and never read from or written to.
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        SilentCollector {
            address,
            accepted,
            _accepting: accepting,
        }
    }

    /// Connections accepted so far: an exporter that gives up on an export and tries again
    /// opens a new one.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The base URL to give as `--otel-endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}
