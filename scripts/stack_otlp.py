"""A real OTLP/HTTP trace receiver for the live check: the stack's trace backend (Jaeger in
compose) is a container the check cannot run, so Traefik and the services export here instead.

`OtlpReceiver` is an `http.server` on a free 127.0.0.1 port, in a thread. It accepts
`POST /v1/traces` with a protobuf `ExportTraceServiceRequest` (gzip when Content-Encoding says
so), decodes it with the published OTLP schema (PyPI `opentelemetry-proto`) and keeps every
span as a `Span`. Bounded: bodies above MAX_BODY_BYTES get 413, spans beyond MAX_SPANS are
counted in `dropped` and not kept. Anything else gets 404/400/415 like a collector would.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

TRACES_PATH = "/v1/traces"
MAX_BODY_BYTES = 8 * 2**20
MAX_SPANS = 200_000
# Traefik and each service keep one or two connections open; a bound on the handler threads.
MAX_CONNECTIONS = 16
PROTOBUF = "application/x-protobuf"


class TooLarge(ValueError):
    """A body (or what it inflates to) above MAX_BODY_BYTES."""


def inflated(body: bytes, encoding: str) -> bytes:
    """The body without its Content-Encoding (identity or gzip), never above MAX_BODY_BYTES:
    a small gzip bomb stops at the bound instead of filling memory."""
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
    out = inflater.decompress(body, MAX_BODY_BYTES + 1)
    if len(out) > MAX_BODY_BYTES:
        raise TooLarge("inflates beyond the bound")
    return out


@dataclass(frozen=True)
class Span:
    """One received span, ids in lower hex as W3C `traceparent` and the log lines write them."""

    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root span
    name: str
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind
    service: str  # the resource's service.name
    attributes: dict[str, object] = field(hash=False)
    duration_ns: int = 0  # end minus start, as the exporter timed it
    status_code: int = 0  # opentelemetry.proto.trace.v1.Status.StatusCode (2: ERROR)


def any_value(value: AnyValue) -> object:
    """The Python value of an OTLP AnyValue: scalars, arrays as lists (Traefik's captured
    headers are string arrays), maps as dicts."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def attributes_of(key_values) -> dict[str, object]:  # noqa: ANN001 (repeated KeyValue)
    """An OTLP attribute list as a dict."""
    return {kv.key: any_value(kv.value) for kv in key_values}


def spans_of(request: ExportTraceServiceRequest) -> list[Span]:
    """Every span of an export request, with its resource's service.name."""
    spans = []
    for resource_spans in request.resource_spans:
        service = str(attributes_of(resource_spans.resource.attributes).get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.parent_span_id.hex(),
                        span.name,
                        span.kind,
                        service,
                        attributes_of(span.attributes),
                        span.end_time_unix_nano - span.start_time_unix_nano,
                        span.status.code,
                    )
                )
    return spans


class BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server that serves at most MAX_CONNECTIONS connections at a time and
    closes any beyond them unanswered."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._held_lock = threading.Lock()
        self._held = 0

    @property
    def held(self) -> int:
        """Connections holding a slot right now (accepted and not yet closed)."""
        with self._held_lock:
            return self._held

    def process_request(self, request, client_address) -> None:  # noqa: ANN001
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        self._count(+1)
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:  # noqa: ANN001
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._count(-1)
            self._slots.release()

    def _count(self, change: int) -> None:
        with self._held_lock:
            self._held += change


class OtlpReceiver:
    """The receiver: `start()`, export to `endpoint`, read `spans()`, `stop()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[Span] = []
        self.dropped = 0
        self.requests = 0
        self._server = BoundedServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """What OTEL_EXPORTER_OTLP_ENDPOINT takes (the exporter appends /v1/traces)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def endpoint(self) -> str:
        """The full traces URL (what Traefik's tracing.otlp.http.endpoint takes)."""
        return self.base_url + TRACES_PATH

    def start(self) -> OtlpReceiver:
        """Serves in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        self._server.shutdown()
        self._server.server_close()

    @property
    def connections(self) -> int:
        """Connections being served right now (each holds one of MAX_CONNECTIONS slots)."""
        return self._server.held

    def spans(self) -> list[Span]:
        """A copy of every span kept so far."""
        with self._lock:
            return list(self._spans)

    def _keep(self, spans: list[Span]) -> None:
        with self._lock:
            self.requests += 1
            room = max(0, MAX_SPANS - len(self._spans))
            self._spans.extend(spans[:room])
            self.dropped += len(spans) - min(room, len(spans))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # A silent client gives its connection slot back after this many seconds.
            timeout = 30

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.split("?")[0] != TRACES_PATH:
                    return self._answer(404, b"not found", "text/plain")
                if self.headers.get("Content-Type", "").split(";")[0].strip() != PROTOBUF:
                    return self._answer(415, b"protobuf only", "text/plain")
                encoding = self.headers.get("Content-Encoding", "").strip().lower()
                try:
                    body = inflated(self._body(), encoding)
                    request = ExportTraceServiceRequest.FromString(body)
                except TooLarge as error:
                    self.close_connection = True
                    return self._answer(413, str(error).encode(), "text/plain")
                except (ValueError, zlib.error, DecodeError) as error:
                    return self._answer(400, str(error).encode(), "text/plain")
                receiver._keep(spans_of(request))
                return self._answer(200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF)

            def _body(self) -> bytes:
                """The request body, Content-Length or chunked (Go's OTLP exporter, which
                Traefik uses, sends chunked), never more than MAX_BODY_BYTES."""
                if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                    length = int(self.headers.get("Content-Length") or 0)
                    if length > MAX_BODY_BYTES:
                        raise TooLarge(f"Content-Length {length}")
                    return self.rfile.read(length)
                body = bytearray()
                while True:
                    size = int(self.rfile.readline(64).split(b";")[0].strip(), 16)
                    if len(body) + size > MAX_BODY_BYTES:
                        raise TooLarge("chunked body beyond the bound")
                    if size == 0:
                        while self.rfile.readline(1024).strip():  # trailers, then the blank line
                            pass
                        return bytes(body)
                    body += self.rfile.read(size)
                    self.rfile.readline(8)  # the CRLF after each chunk

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                """Quiet: the live check reads spans, not an access log."""

        return Handler


def ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    """The span's parents, nearest first, as far as the received spans go."""
    chain, seen = [], {span.span_id}
    while span.parent_span_id and span.parent_span_id in by_id and span.parent_span_id not in seen:
        span = by_id[span.parent_span_id]
        seen.add(span.span_id)
        chain.append(span)
    return chain
