//! Finished spans written as the protobuf bytes of an OTLP `ExportTraceServiceRequest`,
//! straight from the SDK's `SpanData`: no intermediate message structs, no copies of
//! attribute keys or values.
//!
//! The bytes are the ones `opentelemetry-proto` 0.33's conversion
//! (`group_spans_by_resource_and_scope`) followed by `prost` encoding produce: one
//! `ResourceSpans` with the resource's attributes and schema URL, one `ScopeSpans` per
//! instrumentation scope in the order the scopes first appear in the batch, the spans of a
//! scope in batch order, fields in tag order and fields equal to their protobuf default left
//! out. The tests hold the two byte for byte.
//!
//! A nested message's length precedes it, and is only known once the message is written:
//! small messages (attribute values, status) are measured first; larger ones are written
//! after room for a guessed length, and moved by the difference when the guess was wrong.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use prost::encoding::{WireType, encode_varint, encoded_len_varint, key_len};

/// Span flags bit: whether the parent's remoteness is known (always, here).
const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
/// Span flags bit: the parent is remote.
const CONTEXT_IS_REMOTE: u32 = 0x200;

/// Writes the `ExportTraceServiceRequest` of `spans` sent by `resource` into `buf` (cleared
/// first; its capacity is kept for the next batch).
pub fn encode_request(spans: &[SpanData], resource: &Resource, buf: &mut Vec<u8>) {
    buf.clear();
    // ExportTraceServiceRequest.resource_spans = 1
    nested(buf, 1, 3, |buf| resource_spans(buf, spans, resource));
}

/// `ResourceSpans`: the resource, its spans grouped by scope, the resource's schema URL.
fn resource_spans(buf: &mut Vec<u8>, spans: &[SpanData], resource: &Resource) {
    nested(buf, 1, 2, |buf| {
        for (key, value) in resource.iter() {
            key_value(buf, 1, key.as_str(), value);
        }
    });
    let mut scopes: Vec<&InstrumentationScope> = Vec::new();
    for span in spans {
        let scope = &span.instrumentation_scope;
        if !scopes.iter().any(|known| same_scope(known, scope)) {
            scopes.push(scope);
        }
    }
    for scope in scopes {
        let of_scope = spans
            .iter()
            .filter(|s| same_scope(&s.instrumentation_scope, scope));
        nested(buf, 2, 3, |buf| scope_spans(buf, scope, of_scope));
    }
    string(buf, 3, resource.schema_url().unwrap_or_default());
}

/// Whether two spans' scopes are one (`InstrumentationScope`'s equality, which groups them
/// upstream too); scopes without attributes, the usual case, without sorting them.
fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    if a.attributes().next().is_some() || b.attributes().next().is_some() {
        return a == b;
    }
    a.name() == b.name() && a.version() == b.version() && a.schema_url() == b.schema_url()
}

/// `ScopeSpans`: the scope, its spans, its schema URL.
fn scope_spans<'a>(
    buf: &mut Vec<u8>,
    scope: &InstrumentationScope,
    spans: impl Iterator<Item = &'a SpanData>,
) {
    nested(buf, 1, 1, |buf| {
        string(buf, 1, scope.name());
        string(buf, 2, scope.version().unwrap_or_default());
        attributes(buf, 3, scope.attributes());
    });
    for data in spans {
        nested(buf, 2, 2, |buf| span(buf, data));
    }
    string(buf, 3, scope.schema_url().unwrap_or_default());
}

/// `Span`, every field `opentelemetry-proto`'s conversion writes.
fn span(buf: &mut Vec<u8>, span: &SpanData) {
    let context = &span.span_context;
    bytes(buf, 1, &context.trace_id().to_bytes());
    bytes(buf, 2, &context.span_id().to_bytes());
    string(buf, 3, &context.trace_state().header());
    if span.parent_span_id != SpanId::INVALID {
        bytes(buf, 4, &span.parent_span_id.to_bytes());
    }
    string(buf, 5, &span.name);
    uint(buf, 6, kind_number(&span.span_kind));
    fixed64(buf, 7, unix_nanos(span.start_time));
    fixed64(buf, 8, unix_nanos(span.end_time));
    attributes(buf, 9, &span.attributes);
    uint(buf, 10, span.dropped_attributes_count.into());
    for event in span.events.iter() {
        nested(buf, 11, 1, |buf| span_event(buf, event));
    }
    uint(buf, 12, span.events.dropped_count.into());
    for link in span.links.iter() {
        nested(buf, 13, 1, |buf| span_link(buf, link));
    }
    uint(buf, 14, span.links.dropped_count.into());
    status(buf, 15, &span.status);
    fixed32(buf, 16, flags(context, span.parent_span_is_remote));
}

/// `Span.Event`.
fn span_event(buf: &mut Vec<u8>, event: &Event) {
    fixed64(buf, 1, unix_nanos(event.timestamp));
    string(buf, 2, &event.name);
    attributes(buf, 3, &event.attributes);
    uint(buf, 4, event.dropped_attributes_count.into());
}

/// `Span.Link`.
fn span_link(buf: &mut Vec<u8>, link: &Link) {
    let context = &link.span_context;
    bytes(buf, 1, &context.trace_id().to_bytes());
    bytes(buf, 2, &context.span_id().to_bytes());
    string(buf, 3, &context.trace_state().header());
    attributes(buf, 4, &link.attributes);
    uint(buf, 5, link.dropped_attributes_count.into());
    fixed32(buf, 6, flags(context, context.is_remote()));
}

/// `Status`: always present; the message only for an error.
fn status(buf: &mut Vec<u8>, tag: u32, status: &Status) {
    let (message, code) = match status {
        Status::Unset => ("", 0),
        Status::Ok => ("", 1),
        Status::Error { description } => (description.as_ref(), 2),
    };
    let len = string_len(2, message) + uint_len(3, code);
    length_delimited_key(buf, tag, len);
    string(buf, 2, message);
    uint(buf, 3, code);
}

/// The OTLP span flags: the W3C trace flags and whether the parent (or, for a link, the
/// linked span) is remote.
fn flags(context: &SpanContext, remote: bool) -> u32 {
    let remote = if remote { CONTEXT_IS_REMOTE } else { 0 };
    u32::from(context.trace_flags().to_u8()) | CONTEXT_HAS_IS_REMOTE | remote
}

/// The `SpanKind` enum's number.
fn kind_number(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// Nanoseconds since the Unix epoch; 0 for an earlier time.
fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// Attributes as repeated `KeyValue` field `tag`.
fn attributes<'a>(buf: &mut Vec<u8>, tag: u32, attributes: impl IntoIterator<Item = &'a KeyValue>) {
    for attribute in attributes {
        key_value(buf, tag, attribute.key.as_str(), &attribute.value);
    }
}

/// A `KeyValue` message as field `tag`.
fn key_value(buf: &mut Vec<u8>, tag: u32, key: &str, value: &Value) {
    let value_len = any_value_len(value);
    length_delimited_key(buf, tag, key_value_len(key, value_len));
    string(buf, 1, key);
    length_delimited_key(buf, 2, value_len);
    any_value(buf, value);
}

/// Length of a `KeyValue` whose `AnyValue` is `value_len` long.
fn key_value_len(key: &str, value_len: usize) -> usize {
    string_len(1, key) + key_len(2) + encoded_len_varint(value_len as u64) + value_len
}

/// The fields of an `AnyValue` (its value is a `oneof`: written even when it is a default).
/// A kind of value this version of the conversion does not know is an empty `AnyValue`.
fn any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => bool_value(buf, *b),
        Value::I64(i) => int_value(buf, *i),
        Value::F64(f) => double_value(buf, *f),
        Value::String(s) => string_value(buf, s.as_str()),
        Value::Array(array) => {
            length_delimited_key(buf, 5, array_len(array));
            array_values(buf, array);
        }
        _ => {}
    }
}

/// Length of the fields of an `AnyValue`.
fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => BOOL_VALUE_LEN,
        Value::I64(i) => int_value_len(*i),
        Value::F64(_) => DOUBLE_VALUE_LEN,
        Value::String(s) => string_value_len(s.as_str()),
        Value::Array(array) => length_delimited_len(5, array_len(array)),
        _ => 0,
    }
}

/// The `values` of an `ArrayValue`, each an `AnyValue`.
fn array_values(buf: &mut Vec<u8>, array: &Array) {
    match array {
        Array::Bool(values) => items(buf, values.iter().copied(), |_| BOOL_VALUE_LEN, bool_value),
        Array::I64(values) => items(buf, values.iter().copied(), int_value_len, int_value),
        Array::F64(values) => items(
            buf,
            values.iter().copied(),
            |_| DOUBLE_VALUE_LEN,
            double_value,
        ),
        Array::String(values) => items(
            buf,
            values.iter().map(|s| s.as_str()),
            string_value_len,
            string_value,
        ),
        _ => {}
    }
}

/// Each of `values` as an `AnyValue` of an `ArrayValue` (field 1): its length `len`, then
/// its fields as `write` writes them.
fn items<T: Copy>(
    buf: &mut Vec<u8>,
    values: impl Iterator<Item = T>,
    len: impl Fn(T) -> usize,
    write: impl Fn(&mut Vec<u8>, T),
) {
    for value in values {
        length_delimited_key(buf, 1, len(value));
        write(buf, value);
    }
}

/// Length of the fields of an `ArrayValue`.
fn array_len(array: &Array) -> usize {
    match array {
        Array::Bool(values) => values.len() * length_delimited_len(1, BOOL_VALUE_LEN),
        Array::I64(values) => values
            .iter()
            .map(|i| length_delimited_len(1, int_value_len(*i)))
            .sum(),
        Array::F64(values) => values.len() * length_delimited_len(1, DOUBLE_VALUE_LEN),
        Array::String(values) => values
            .iter()
            .map(|s| length_delimited_len(1, string_value_len(s.as_str())))
            .sum(),
        _ => 0,
    }
}

/// `AnyValue.bool_value = 2`: key and one byte.
const BOOL_VALUE_LEN: usize = 2;
/// `AnyValue.double_value = 4`: key and eight bytes.
const DOUBLE_VALUE_LEN: usize = 9;

fn bool_value(buf: &mut Vec<u8>, b: bool) {
    key(buf, 2, WireType::Varint);
    buf.push(u8::from(b));
}

fn int_value(buf: &mut Vec<u8>, i: i64) {
    key(buf, 3, WireType::Varint);
    varint(buf, i as u64);
}

fn int_value_len(i: i64) -> usize {
    key_len(3) + encoded_len_varint(i as u64)
}

fn double_value(buf: &mut Vec<u8>, f: f64) {
    key(buf, 4, WireType::SixtyFourBit);
    buf.extend_from_slice(&f.to_le_bytes());
}

fn string_value(buf: &mut Vec<u8>, s: &str) {
    length_delimited_key(buf, 1, s.len());
    buf.extend_from_slice(s.as_bytes());
}

fn string_value_len(s: &str) -> usize {
    length_delimited_len(1, s.len())
}

/// A `string` field, left out when empty (the protobuf default).
fn string(buf: &mut Vec<u8>, tag: u32, s: &str) {
    bytes(buf, tag, s.as_bytes());
}

/// Length of a `string` field as [`string`] writes it.
fn string_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        length_delimited_len(tag, s.len())
    }
}

/// A `bytes` field, left out when empty.
fn bytes(buf: &mut Vec<u8>, tag: u32, b: &[u8]) {
    if !b.is_empty() {
        length_delimited_key(buf, tag, b.len());
        buf.extend_from_slice(b);
    }
}

/// A varint field (`uint32`, an enum), left out when 0.
fn uint(buf: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        key(buf, tag, WireType::Varint);
        varint(buf, value);
    }
}

/// Length of a varint field as [`uint`] writes it.
fn uint_len(tag: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(value)
    }
}

/// A `fixed64` field, left out when 0.
fn fixed64(buf: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        key(buf, tag, WireType::SixtyFourBit);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

/// A `fixed32` field, left out when 0.
fn fixed32(buf: &mut Vec<u8>, tag: u32, value: u32) {
    if value != 0 {
        key(buf, tag, WireType::ThirtyTwoBit);
        buf.extend_from_slice(&value.to_le_bytes());
    }
}

/// The key and length of a length-delimited field whose contents are `len` bytes.
fn length_delimited_key(buf: &mut Vec<u8>, tag: u32, len: usize) {
    key(buf, tag, WireType::LengthDelimited);
    varint(buf, len as u64);
}

/// Length of a length-delimited field whose contents are `len` bytes.
fn length_delimited_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// A field's key: its tag and wire type. The same bytes as `prost::encoding::encode_key`,
/// written with plain pushes (this runs a few times per attribute).
#[inline]
fn key(buf: &mut Vec<u8>, tag: u32, wire_type: WireType) {
    varint(buf, u64::from(tag << 3 | wire_type as u32));
}

/// A base-128 varint, as `prost::encoding::encode_varint` writes it.
#[inline]
fn varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// A message field `tag` whose contents `write` writes: room for a length of `guess` bytes
/// is left before them, and they are moved when the length needs more or fewer.
fn nested(buf: &mut Vec<u8>, tag: u32, guess: usize, write: impl FnOnce(&mut Vec<u8>)) {
    key(buf, tag, WireType::LengthDelimited);
    let at = buf.len();
    buf.resize(at + guess, 0);
    write(buf);
    let len = buf.len() - at - guess;
    let size = encoded_len_varint(len as u64);
    if size > guess {
        let end = buf.len();
        buf.resize(end + size - guess, 0);
        buf.copy_within(at + guess..end, at + size);
    } else if size < guess {
        buf.copy_within(at + guess.., at + size);
        buf.truncate(at + size + len);
    }
    encode_varint(len as u64, &mut &mut buf[at..at + size]);
}

#[cfg(test)]
mod tests {
    //! The oracle: `opentelemetry-proto`'s own conversion of the same spans, encoded by
    //! `prost`, and the receiver's view (our bytes decoded into its structs).

    use std::borrow::Cow;
    use std::time::Duration;

    use opentelemetry::trace::{TraceFlags, TraceId, TraceState};
    use opentelemetry::{KeyValue, StringValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use proptest::prelude::*;
    use prost::Message;

    use super::*;

    /// Upstream's request for `spans`, as `opentelemetry-otlp` 0.33 builds and encodes it.
    fn upstream(spans: &[SpanData], resource: &Resource) -> ExportTraceServiceRequest {
        let resource = ResourceAttributesWithSchema::from(resource);
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans.to_vec(), &resource),
        }
    }

    /// Our bytes decode to upstream's request, and are its bytes.
    fn assert_same_as_upstream(spans: &[SpanData], resource: &Resource) {
        let mut ours = vec![0xff; 7];
        encode_request(spans, resource, &mut ours);
        let expected = upstream(spans, resource);
        let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).expect("decodes");
        assert_eq!(decoded, expected);
        assert_eq!(ours, expected.encode_to_vec());
    }

    fn context(
        trace: u128,
        span: u64,
        flags: TraceFlags,
        remote: bool,
        state: &str,
    ) -> SpanContext {
        let state = if state.is_empty() {
            TraceState::default()
        } else {
            state.parse().unwrap()
        };
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            flags,
            remote,
            state,
        )
    }

    fn at(nanos: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    fn every_kind_of_value() -> Vec<KeyValue> {
        let long = "x".repeat(300);
        vec![
            KeyValue::new("bool.true", true),
            KeyValue::new("bool.false", false),
            KeyValue::new("int.zero", 0_i64),
            KeyValue::new("int.negative", -42_i64),
            KeyValue::new("int.max", i64::MAX),
            KeyValue::new("float.zero", 0.0_f64),
            KeyValue::new("float", -3.25_f64),
            KeyValue::new("float.inf", f64::INFINITY),
            KeyValue::new("string.empty", ""),
            KeyValue::new("string.static", "GET /fibonacci/{n}/"),
            KeyValue::new("string.owned", long.clone()),
            KeyValue::new("", "an empty key"),
            KeyValue::new("array.bool", Value::Array(vec![true, false].into())),
            KeyValue::new("array.int", Value::Array(vec![0_i64, -1, 1 << 40].into())),
            KeyValue::new("array.float", Value::Array(vec![0.5_f64, -0.0].into())),
            KeyValue::new(
                "array.string",
                Value::Array(Array::String(vec![
                    StringValue::from(""),
                    StringValue::from("é"),
                    StringValue::from(long),
                ])),
            ),
            KeyValue::new("array.empty", Value::Array(Vec::<i64>::new().into())),
        ]
    }

    fn span_data(name: &'static str, scope: &InstrumentationScope) -> SpanData {
        SpanData {
            span_context: context(1, 2, TraceFlags::SAMPLED, false, ""),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: at(1_700_000_000_000_000_000),
            end_time: at(1_700_000_000_000_123_456),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        }
    }

    fn resource() -> Resource {
        Resource::builder_empty()
            .with_service_name("fibonacci")
            .with_attribute(KeyValue::new("service.version", "1.2.3"))
            .with_attribute(KeyValue::new("host.cores", 2_i64))
            .with_schema_url([], "https://opentelemetry.io/schemas/1.21.0")
            .build()
    }

    fn varied_spans() -> Vec<SpanData> {
        let plain = InstrumentationScope::builder("mathapi").build();
        let full = InstrumentationScope::builder("library")
            .with_version("0.9.1")
            .with_schema_url("https://example.com/scope")
            .with_attributes([KeyValue::new("scope.attr", true), KeyValue::new("n", 7_i64)])
            .build();
        let mut server = span_data("GET /fibonacci/{n}/", &plain);
        server.span_context = context(
            u128::MAX - 5,
            0xabc,
            TraceFlags::SAMPLED,
            false,
            "a=1,b=two",
        );
        server.parent_span_id = SpanId::from(77);
        server.parent_span_is_remote = true;
        server.span_kind = SpanKind::Server;
        server.attributes = every_kind_of_value();
        server.dropped_attributes_count = 3;
        server.events.events = vec![
            Event::new(
                "exception",
                at(1_700_000_000_000_000_500),
                every_kind_of_value(),
                2,
            ),
            Event::new("", UNIX_EPOCH, Vec::new(), 0),
        ];
        server.events.dropped_count = 4;
        server.links.links = vec![
            Link::new(
                context(9, 8, TraceFlags::SAMPLED, true, "k=v"),
                every_kind_of_value(),
                1,
            ),
            Link::new(
                context(10, 11, TraceFlags::default(), false, ""),
                Vec::new(),
                0,
            ),
        ];
        server.links.dropped_count = 5;
        server.status = Status::error("division by zero");
        let mut child = span_data("computation", &full);
        child.parent_span_id = SpanId::from(0xabc);
        child.status = Status::Ok;
        let mut error_without_message = span_data("client", &plain);
        error_without_message.span_kind = SpanKind::Client;
        error_without_message.status = Status::error("");
        let mut before_epoch = span_data("producer", &full);
        before_epoch.span_kind = SpanKind::Producer;
        before_epoch.start_time = UNIX_EPOCH - Duration::from_secs(1);
        before_epoch.end_time = UNIX_EPOCH;
        let mut unsampled = span_data("consumer", &plain);
        unsampled.span_kind = SpanKind::Consumer;
        unsampled.span_context = context(3, 4, TraceFlags::default(), true, "");
        vec![
            server,
            child,
            error_without_message,
            before_epoch,
            unsampled,
        ]
    }

    #[test]
    fn every_field_and_value_kind_is_written_as_upstream_writes_it() {
        assert_same_as_upstream(&varied_spans(), &resource());
    }

    #[test]
    fn scopes_are_grouped_in_the_order_they_first_appear() {
        let spans = varied_spans();
        // Interleaved scopes: plain, full, plain, full, plain.
        let mut ours = Vec::new();
        encode_request(&spans, &resource(), &mut ours);
        let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
        let scopes = &decoded.resource_spans[0].scope_spans;
        let names: Vec<_> = scopes
            .iter()
            .map(|s| s.scope.as_ref().unwrap().name.as_str())
            .collect();
        assert_eq!(names, ["mathapi", "library"]);
        let spans: Vec<Vec<&str>> = scopes
            .iter()
            .map(|s| s.spans.iter().map(|s| s.name.as_str()).collect())
            .collect();
        assert_eq!(
            spans,
            [
                vec!["GET /fibonacci/{n}/", "client", "consumer"],
                vec!["computation", "producer"]
            ]
        );
    }

    #[test]
    fn empty_batches_and_an_empty_resource_are_written_as_upstream_writes_them() {
        assert_same_as_upstream(&[], &resource());
        assert_same_as_upstream(&[], &Resource::builder_empty().build());
        let scope = InstrumentationScope::builder("").build();
        assert_same_as_upstream(&[span_data("", &scope)], &Resource::builder_empty().build());
    }

    #[test]
    fn messages_longer_than_the_guessed_length_are_moved_into_place() {
        // A span over 16 KiB (a three-byte length) in a request over 2 MiB (four bytes).
        let scope = InstrumentationScope::builder("mathapi").build();
        let mut big = span_data("big", &scope);
        big.attributes = vec![KeyValue::new("blob", "y".repeat(20_000))];
        let spans = vec![big; 110];
        assert_same_as_upstream(&spans, &resource());
    }

    #[test]
    fn the_buffer_is_reused_and_holds_only_the_last_request() {
        let scope = InstrumentationScope::builder("mathapi").build();
        // One resource: two are two hash maps, each with its own attribute order.
        let resource = resource();
        let mut buf = Vec::new();
        encode_request(&varied_spans(), &resource, &mut buf);
        let capacity = buf.capacity();
        let one = [span_data("one", &scope)];
        encode_request(&one, &resource, &mut buf);
        assert_eq!(buf, upstream(&one, &resource).encode_to_vec());
        assert_eq!(buf.capacity(), capacity);
    }

    fn value() -> impl Strategy<Value = Value> {
        let float = prop::num::f64::POSITIVE
            | prop::num::f64::NEGATIVE
            | prop::num::f64::NORMAL
            | prop::num::f64::SUBNORMAL
            | prop::num::f64::ZERO
            | prop::num::f64::INFINITE;
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            float.prop_map(Value::F64),
            ".{0,40}".prop_map(Value::from),
            prop::collection::vec(any::<bool>(), 0..4).prop_map(|v| Value::Array(v.into())),
            prop::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(v.into())),
            prop::collection::vec(float, 0..4).prop_map(|v| Value::Array(v.into())),
            prop::collection::vec(".{0,20}", 0..4).prop_map(|v| {
                Value::Array(Array::String(
                    v.into_iter().map(StringValue::from).collect(),
                ))
            }),
        ]
    }

    fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        prop::collection::vec(("[a-z.]{0,12}", value()), 0..6)
            .prop_map(|kvs| kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
    }

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::Unset),
            Just(Status::Ok),
            ".{0,30}".prop_map(Status::error),
        ]
    }

    fn kind() -> impl Strategy<Value = SpanKind> {
        prop_oneof![
            Just(SpanKind::Internal),
            Just(SpanKind::Server),
            Just(SpanKind::Client),
            Just(SpanKind::Producer),
            Just(SpanKind::Consumer),
        ]
    }

    prop_compose! {
        fn span_context()(
            trace in any::<u128>(), span in any::<u64>(), sampled in any::<bool>(),
            remote in any::<bool>(), state in prop_oneof![Just(""), Just("a=b"), Just("v1=x,v2=y")],
        ) -> SpanContext {
            let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
            context(trace, span, flags, remote, state)
        }
    }

    prop_compose! {
        fn arbitrary_span()(
            span_context in span_context(), parent in any::<u64>(), remote in any::<bool>(),
            kind in kind(), name in ".{0,30}", start in any::<u64>(), end in any::<u64>(),
            attributes in attributes(), dropped in any::<u32>(),
            events in prop::collection::vec((".{0,10}", any::<u64>(), attributes(), any::<u32>()), 0..3),
            dropped_events in any::<u32>(),
            links in prop::collection::vec((span_context(), attributes(), any::<u32>()), 0..3),
            dropped_links in any::<u32>(), status in status(), scope in 0..3_usize,
        ) -> SpanData {
            let scopes = [
                InstrumentationScope::builder("mathapi").build(),
                InstrumentationScope::builder("other").with_version("1").build(),
                InstrumentationScope::builder("mathapi").with_schema_url("s").build(),
            ];
            let mut span_events = SpanEvents::default();
            span_events.events = events
                .into_iter()
                .map(|(name, time, attributes, dropped)| Event::new(name, at(time), attributes, dropped))
                .collect();
            span_events.dropped_count = dropped_events;
            let mut span_links = SpanLinks::default();
            span_links.links = links
                .into_iter()
                .map(|(context, attributes, dropped)| Link::new(context, attributes, dropped))
                .collect();
            span_links.dropped_count = dropped_links;
            SpanData {
                span_context,
                parent_span_id: SpanId::from(parent),
                parent_span_is_remote: remote,
                span_kind: kind,
                name: Cow::Owned(name),
                start_time: at(start),
                end_time: at(end),
                attributes,
                dropped_attributes_count: dropped,
                events: span_events,
                links: span_links,
                status,
                instrumentation_scope: scopes[scope].clone(),
            }
        }
    }

    proptest! {
        #[test]
        fn any_batch_is_written_as_upstream_writes_it(
            spans in prop::collection::vec(arbitrary_span(), 0..6),
            resource_attributes in attributes(),
        ) {
            let resource = Resource::builder_empty().with_attributes(resource_attributes).build();
            assert_same_as_upstream(&spans, &resource);
        }
    }
}
