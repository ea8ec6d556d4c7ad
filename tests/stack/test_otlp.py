"""The live check's OTLP/HTTP receiver (scripts/stack_otlp.py) over real HTTP on loopback: it
decodes what an OTLP exporter sends (plain, gzip, chunked), answers like a collector, and
holds its bounds against oversized, compressed and malformed bodies."""

from __future__ import annotations

import gzip
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import stack_otlp
from stack_otlp import OtlpReceiver, ancestors

pytestmark = pytest.mark.static

TRACE_ID = bytes(range(16))


def export_request(service: str, spans: list[tuple[int, int, str]]) -> bytes:
    """An ExportTraceServiceRequest of one resource: (span id, parent id or 0, name)."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", service
    scope = resource_spans.scope_spans.add()
    for span_id, parent, name in spans:
        span = scope.spans.add()
        span.trace_id, span.span_id, span.name = TRACE_ID, span_id.to_bytes(8, "big"), name
        if parent:
            span.parent_span_id = parent.to_bytes(8, "big")
        header = span.attributes.add()
        header.key = "http.request.header.x-request-id"
        header.value.array_value.values.add().string_value = f"id-{span_id}"
    return request.SerializeToString()


def post(url: str, body: bytes | Iterator[bytes], **headers: str) -> tuple[int, bytes]:
    """POST with a protobuf content type unless told otherwise; (status, body)."""
    headers = {"Content-Type": "application/x-protobuf", **headers}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    """Polls `condition` until it holds; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not seen within {seconds} s: {what}"
        time.sleep(0.01)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A running receiver, stopped after the test."""
    running = OtlpReceiver().start()
    yield running
    running.stop()


def test_plain_gzip_and_chunked_exports_are_decoded(receiver: OtlpReceiver) -> None:
    body = export_request("traefik", [(1, 0, "GET"), (2, 1, "ReverseProxy")])
    status, answer = post(receiver.endpoint, body)
    assert status == 200
    assert ExportTraceServiceResponse.FromString(answer) == ExportTraceServiceResponse()
    gz = gzip.compress(export_request("fibonacci", [(3, 2, "GET /fibonacci/{n}/")]))
    assert post(receiver.endpoint, gz, **{"Content-Encoding": "gzip"})[0] == 200
    # An iterable body without a length goes out chunked, as Go's exporter sends it.
    chunked = export_request("fibonacci", [(4, 3, "computation")])
    assert post(receiver.endpoint, iter([chunked[:7], chunked[7:]]))[0] == 200
    spans = {s.span_id: s for s in receiver.spans()}
    assert [s.service for s in spans.values()] == ["traefik", "traefik", "fibonacci", "fibonacci"]
    leaf = spans[(4).to_bytes(8, "big").hex()]
    assert leaf.trace_id == TRACE_ID.hex() and leaf.name == "computation"
    assert leaf.attributes["http.request.header.x-request-id"] == ["id-4"]
    assert [s.name for s in ancestors(leaf, spans)] == [
        "GET /fibonacci/{n}/",
        "ReverseProxy",
        "GET",
    ]


def test_bad_requests_get_a_clear_status(receiver: OtlpReceiver) -> None:
    body = export_request("traefik", [(1, 0, "GET")])
    assert post(receiver.base_url + "/v1/metrics", body)[0] == 404
    assert post(receiver.endpoint, body, **{"Content-Type": "application/json"})[0] == 415
    assert post(receiver.endpoint, b"\xff\xff\xff not protobuf")[0] == 400
    assert post(receiver.endpoint, b"not gzip", **{"Content-Encoding": "gzip"})[0] == 400
    assert post(receiver.endpoint, body, **{"Content-Encoding": "br"})[0] == 400
    assert receiver.spans() == []


def test_bodies_are_bounded_before_and_after_inflating(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_otlp, "MAX_BODY_BYTES", 1024)
    assert post(receiver.endpoint, b"\0" * 2048)[0] == 413
    assert post(receiver.endpoint, iter([b"\0" * 700, b"\0" * 700]))[0] == 413
    # 64 KiB of zeros compress to about 100 bytes: refused once inflated past the bound.
    bomb = gzip.compress(b"\0" * 65536)
    assert len(bomb) < 1024
    assert post(receiver.endpoint, bomb, **{"Content-Encoding": "gzip"})[0] == 413
    assert receiver.spans() == []


def test_kept_spans_are_bounded(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_otlp, "MAX_SPANS", 3)
    body = export_request("traefik", [(i, 0, "GET") for i in range(1, 6)])
    assert post(receiver.endpoint, body)[0] == 200
    assert len(receiver.spans()) == 3 and receiver.dropped == 2


def test_connections_are_bounded(receiver: OtlpReceiver) -> None:
    port = int(receiver.base_url.rsplit(":", 1)[1])
    idle = [
        socket.create_connection(("127.0.0.1", port), timeout=5)
        for _ in range(stack_otlp.MAX_CONNECTIONS)
    ]
    try:
        wait_until(lambda: receiver.connections == stack_otlp.MAX_CONNECTIONS, "every slot held")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
            assert extra.recv(1) == b"", "a connection beyond the bound was kept open"
        for conn in idle:
            conn.close()
        wait_until(lambda: receiver.connections == 0, "the closed connections' slots freed")
        body = export_request("traefik", [(1, 0, "GET")])
        assert post(receiver.endpoint, body)[0] == 200
    finally:
        for conn in idle:
            conn.close()
