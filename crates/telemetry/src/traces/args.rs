//! The tracing flags ([`TracingArgs`]), read from the command line or the standard
//! OpenTelemetry environment variables, and what they mean: an export endpoint, a sampler.

use opentelemetry_sdk::trace::Sampler;

use super::headers::{self, ExportHeaders};

/// OTLP trace export: off unless an endpoint is given. Flags fall back to the standard
/// `OTEL_*` variables, so an OpenTelemetry-aware deployment configures it as usual.
#[derive(Debug, Clone, clap::Args)]
pub struct TracingArgs {
    /// OTLP/HTTP base URL of a collector, e.g. `http://127.0.0.1:4318`; `/v1/traces` is
    /// appended. Without an endpoint no spans are made or sent.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = http_url)]
    pub otel_endpoint: Option<String>,

    /// Full URL traces are posted to, used as is (wins over `--otel-endpoint`).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value_parser = http_url)]
    pub otel_traces_endpoint: Option<String>,

    /// Extra HTTP headers on every export, `key=value` pairs separated by commas, values
    /// percent-encoded (e.g. a collector's API key).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_HEADERS", value_parser = headers::parse)]
    pub otel_headers: Option<ExportHeaders>,

    /// Headers for trace exports, used instead of `--otel-headers`.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_HEADERS", value_parser = headers::parse)]
    pub otel_traces_headers: Option<ExportHeaders>,

    /// OTLP transport; only `http/protobuf` is supported.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_PROTOCOL", default_value = "http/protobuf",
          value_parser = ["http/protobuf"])]
    pub otel_protocol: String,

    /// Which traces are kept: the sampler names of the OpenTelemetry specification.
    #[arg(long, env = "OTEL_TRACES_SAMPLER", value_enum,
          default_value_t = SamplerName::ParentbasedTraceidratio)]
    pub otel_traces_sampler: SamplerName,

    /// The ratio of traces kept by the `*traceidratio` samplers, in [0, 1] (default 1).
    #[arg(long, env = "OTEL_TRACES_SAMPLER_ARG", value_parser = ratio)]
    pub otel_traces_sampler_arg: Option<f64>,

    /// `service.name` of the exported spans (default: the service's own name).
    #[arg(long, env = "OTEL_SERVICE_NAME")]
    pub otel_service_name: Option<String>,

    /// Turns tracing off whatever else is set (`OTEL_SDK_DISABLED=true`).
    #[arg(long, env = "OTEL_SDK_DISABLED")]
    pub otel_sdk_disabled: bool,

    /// Finished spans waiting for export; more are dropped and counted in
    /// `mathapi_trace_spans_dropped_total`.
    #[arg(long, env = "OTEL_BSP_MAX_QUEUE_SIZE", default_value_t = 2048,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub otel_queue_size: u32,

    /// Milliseconds one export may take before it is abandoned (a collector that never
    /// answers cannot hold the exporter).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TIMEOUT", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub otel_export_timeout_ms: u64,
}

/// The samplers of the OpenTelemetry specification (`OTEL_TRACES_SAMPLER`) this SDK has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[clap(rename_all = "snake_case")]
pub enum SamplerName {
    /// Every trace.
    AlwaysOn,
    /// No trace.
    AlwaysOff,
    /// A ratio of traces, chosen by trace id.
    Traceidratio,
    /// The caller's decision; every trace started here.
    ParentbasedAlwaysOn,
    /// The caller's decision; no trace started here.
    ParentbasedAlwaysOff,
    /// The caller's decision; a ratio of the traces started here.
    ParentbasedTraceidratio,
}

impl TracingArgs {
    /// Where spans are posted, if tracing is on: the traces URL as given, or the base URL
    /// with `/v1/traces`, as the OTLP exporter specification says.
    pub fn traces_url(&self) -> Option<String> {
        if self.otel_sdk_disabled {
            return None;
        }
        if let Some(url) = &self.otel_traces_endpoint {
            return Some(url.clone());
        }
        let base = self.otel_endpoint.as_deref()?;
        Some(format!("{}/v1/traces", base.trim_end_matches('/')))
    }

    /// The headers added to each export: the traces' own, or else the general ones.
    pub fn export_headers(&self) -> ExportHeaders {
        let headers = self
            .otel_traces_headers
            .as_ref()
            .or(self.otel_headers.as_ref());
        headers.cloned().unwrap_or_default()
    }

    /// The sampler the flags name (ratio 1 when none is given).
    pub fn sampler(&self) -> Sampler {
        let ratio = self.otel_traces_sampler_arg.unwrap_or(1.0);
        let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
        match self.otel_traces_sampler {
            SamplerName::AlwaysOn => Sampler::AlwaysOn,
            SamplerName::AlwaysOff => Sampler::AlwaysOff,
            SamplerName::Traceidratio => Sampler::TraceIdRatioBased(ratio),
            SamplerName::ParentbasedAlwaysOn => parent_based(Sampler::AlwaysOn),
            SamplerName::ParentbasedAlwaysOff => parent_based(Sampler::AlwaysOff),
            SamplerName::ParentbasedTraceidratio => parent_based(Sampler::TraceIdRatioBased(ratio)),
        }
    }
}

/// A sampler ratio: a number in [0, 1].
fn ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{text:?} is not a ratio between 0 and 1")),
    }
}

/// A plain-HTTP URL (the exporter speaks no TLS: a collector runs next to the service).
fn http_url(text: &str) -> Result<String, String> {
    let uri: poem::http::Uri = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(_)) => Ok(text.to_owned()),
        _ => Err(format!("{text:?} is not an http:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use opentelemetry::Context;
    use opentelemetry::trace::{SpanKind, TraceId};
    use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        tracing: TracingArgs,
    }

    fn parse(args: &[&str]) -> Result<TracingArgs, clap::Error> {
        let all = std::iter::once("test").chain(args.iter().copied());
        Cli::try_parse_from(all).map(|cli| cli.tracing)
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path_the_traces_endpoint_is_kept() {
        let base = parse(&["--otel-endpoint", "http://127.0.0.1:4318/"]).unwrap();
        assert_eq!(
            base.traces_url().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        let both = parse(&[
            "--otel-endpoint",
            "http://a:4318",
            "--otel-traces-endpoint",
            "http://b:9/x",
        ])
        .unwrap();
        assert_eq!(both.traces_url().as_deref(), Some("http://b:9/x"));
    }

    #[test]
    fn the_traces_headers_win_over_the_general_ones() {
        let names = |args: &[&str]| -> Vec<String> {
            let headers = parse(args).unwrap().export_headers();
            headers.iter().map(|(n, _)| n.to_string()).collect()
        };
        assert!(names(&[]).is_empty());
        assert_eq!(names(&["--otel-headers", "a=1,b=2"]), ["a", "b"]);
        let both = ["--otel-headers", "a=1", "--otel-traces-headers", "c=3"];
        assert_eq!(names(&both), ["c"]);
    }

    #[test]
    fn no_endpoint_or_disabled_means_off() {
        assert_eq!(parse(&[]).unwrap().traces_url(), None);
        let disabled = parse(&["--otel-endpoint", "http://a:1", "--otel-sdk-disabled"]).unwrap();
        assert_eq!(disabled.traces_url(), None);
    }

    #[test]
    fn unsupported_settings_are_refused() {
        for bad in [
            &["--otel-protocol", "grpc"][..],
            &["--otel-traces-sampler", "jaeger_remote"],
            &["--otel-traces-sampler-arg", "1.5"],
            &["--otel-traces-sampler-arg", "-0.1"],
            &["--otel-traces-sampler-arg", "NaN"],
            &["--otel-endpoint", "https://collector:4318"],
            &["--otel-endpoint", "not a url"],
            &["--otel-headers", "api-key"],
            &["--otel-traces-headers", "k=%zz"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// The decision `sampler` makes for a new span whose parent (if any) was sampled or not.
    fn decides(sampler: &Sampler, parent_sampled: Option<bool>) -> SamplingDecision {
        use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceState};
        let trace_id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128);
        let parent = parent_sampled.map(|sampled| {
            let flags = if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            };
            Context::new().with_remote_span_context(SpanContext::new(
                trace_id,
                SpanId::from(7_u64),
                flags,
                true,
                TraceState::default(),
            ))
        });
        sampler
            .should_sample(
                parent.as_ref(),
                trace_id,
                "GET",
                &SpanKind::Server,
                &[],
                &[],
            )
            .decision
    }

    #[test]
    fn the_default_sampler_follows_the_parent_and_keeps_every_new_trace() {
        let sampler = parse(&[]).unwrap().sampler();
        assert_eq!(decides(&sampler, None), SamplingDecision::RecordAndSample);
        assert_eq!(
            decides(&sampler, Some(true)),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(decides(&sampler, Some(false)), SamplingDecision::Drop);
    }

    #[test]
    fn the_ratio_applies_to_new_traces_only() {
        let none = parse(&["--otel-traces-sampler-arg", "0"])
            .unwrap()
            .sampler();
        assert_eq!(decides(&none, None), SamplingDecision::Drop);
        assert_eq!(
            decides(&none, Some(true)),
            SamplingDecision::RecordAndSample
        );
        let plain = parse(&[
            "--otel-traces-sampler",
            "traceidratio",
            "--otel-traces-sampler-arg",
            "0",
        ])
        .unwrap()
        .sampler();
        assert_eq!(decides(&plain, Some(true)), SamplingDecision::Drop);
        let off = parse(&["--otel-traces-sampler", "always_off"])
            .unwrap()
            .sampler();
        assert_eq!(decides(&off, None), SamplingDecision::Drop);
    }
}
