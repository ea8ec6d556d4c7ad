//! Warnings and errors logged inside a sampled request become events of its span (the
//! innermost of the server and `computation` spans, whichever is current), and an error
//! marks that span's status `ERROR`.
//!
//! [`SpanEvents`] is a `tracing` layer that sees only `warn` and `error` events (its filter
//! says so once per callsite); the span they belong to is the current OpenTelemetry context,
//! which the request's spans make current while they run. Outside a sampled request an event
//! costs a thread-local read.

use std::fmt;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer;

/// The field `tracing` keeps an event's message in.
const MESSAGE: &str = "message";

/// The layer that adds warnings and errors to the current span (see the module docs).
pub(super) struct SpanEvents;

impl<S: Subscriber> Layer<S> for SpanEvents {
    fn on_event(&self, event: &Event<'_>, _: layer::Context<'_, S>) {
        Context::map_current(|current| {
            let span = current.span();
            if !span.is_recording() {
                return;
            }
            let meta = event.metadata();
            let mut fields = EventFields {
                name: String::new(),
                attributes: vec![
                    KeyValue::new("level", meta.level().as_str()),
                    KeyValue::new("target", meta.target().to_owned()),
                ],
            };
            event.record(&mut fields);
            if fields.name.is_empty() {
                fields.name = meta.name().to_owned();
            }
            if *meta.level() == Level::ERROR {
                span.set_status(Status::error(""));
            }
            span.add_event(fields.name, fields.attributes);
        });
    }
}

/// An event's message (its name) and other fields (its attributes).
struct EventFields {
    name: String,
    attributes: Vec<KeyValue>,
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.record_i64(field, value),
            Err(_) => self.record_str(field, &value.to_string()),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == MESSAGE {
            self.name = value.to_owned();
        } else {
            self.attributes
                .push(KeyValue::new(field.name(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn warnings_and_errors_inside_a_span_become_its_events_and_an_error_its_status() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("test");
        let subscriber =
            tracing_subscriber::registry().with(SpanEvents.with_filter(LevelFilter::WARN));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("outside any span");
            let span = tracer.start("request");
            let context = Context::new().with_span(span);
            {
                let _current = context.clone().attach();
                tracing::info!("not an event");
                tracing::warn!(reason = "slow", digits = 7_u64, "took long");
                tracing::error!("failed");
            }
            context.span().end();
        });
        let spans = exporter.get_finished_spans().unwrap();
        let [span] = &spans[..] else {
            panic!("{spans:#?}")
        };
        assert!(matches!(span.status, Status::Error { .. }), "{span:#?}");
        let events: Vec<_> = span.events.iter().collect();
        let names: Vec<&str> = events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(names, ["took long", "failed"]);
        let attribute = |key: &str| {
            events[0]
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(attribute("level").as_deref(), Some("WARN"));
        assert_eq!(attribute("reason").as_deref(), Some("slow"));
        assert_eq!(attribute("digits").as_deref(), Some("7"));
    }
}
