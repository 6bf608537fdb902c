//! Distributed tracing: an OpenTelemetry tracer provider exporting with OTLP over HTTP, and the
//! `tracing` layer that turns the connector's trace spans (target
//! [`crate::session::TRACE_TARGET`]) into OpenTelemetry spans. Off unless `tracing.endpoint`
//! or `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; when off, no
//! layer is interested in the trace spans and they cost one disabled callsite check each.

use crds::config::{OtlpProtocol, TracingConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;

/// The service name of the spans, unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE_NAME: &str = "smpp-connector";

/// Where spans go, after the configuration and the environment were read.
#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    /// The traces URL (`…/v1/traces`); `None`: the `OTEL_*` variables decide.
    pub endpoint: Option<String>,
    /// The encoding.
    pub protocol: Option<Protocol>,
    /// The share of new traces sampled.
    pub ratio: f64,
}

/// Whether tracing is on for `config` and the environment `env` (key, value pairs).
pub fn export(config: &TracingConfig, env: &[(String, String)]) -> Option<Export> {
    let var = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
    {
        return None;
    }
    let protocol = Some(match config.protocol {
        OtlpProtocol::Protobuf => Protocol::HttpBinary,
        OtlpProtocol::Json => Protocol::HttpJson,
    });
    if !config.endpoint.trim().is_empty() {
        let base = config.endpoint.trim().trim_end_matches('/');
        return Some(Export {
            endpoint: Some(format!("{base}/v1/traces")),
            protocol,
            ratio: config.sampling_ratio,
        });
    }
    let from_env = var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
    from_env.then(|| Export {
        endpoint: None,
        // The protocol variables then apply, as the user expects.
        protocol: (var("OTEL_EXPORTER_OTLP_PROTOCOL").is_none()
            && var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").is_none())
        .then_some(protocol)
        .flatten(),
        ratio: config.sampling_ratio,
    })
}

/// The running tracer provider; [`Telemetry::shutdown`] flushes the spans not yet exported.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Builds the exporter and the provider (batching on a thread of its own) and installs
    /// the W3C trace-context propagator.
    pub fn start(export: &Export) -> Result<(Self, opentelemetry_sdk::trace::Tracer), String> {
        let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http();
        if let Some(endpoint) = &export.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        if let Some(protocol) = export.protocol {
            builder = builder.with_protocol(protocol);
        }
        let exporter = builder
            .build()
            .map_err(|e| format!("tracing: cannot build the OTLP exporter: {e}"))?;
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(export.ratio)));
        let resource = Resource::builder()
            .with_service_name(service_name())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sampler)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let tracer = provider.tracer(SERVICE_NAME);
        Ok((Self { provider }, tracer))
    }

    /// Exports what is left and stops the exporter.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("smpp-connector: tracing: the last spans were not exported: {e}");
        }
    }
}

fn service_name() -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| SERVICE_NAME.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::env;

    #[test]
    fn off_by_default_on_by_the_config_or_the_standard_variables() {
        let off = TracingConfig::default();
        assert_eq!(export(&off, &[]), None);
        let on = TracingConfig {
            endpoint: "http://collector:4318/".into(),
            ..TracingConfig::default()
        };
        let e = export(&on, &[]).expect("on");
        assert_eq!(
            e.endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(e.protocol, Some(Protocol::HttpBinary));
        assert_eq!(e.ratio, 0.1);
        let by_env = export(
            &off,
            &env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]),
        )
        .expect("on by the environment");
        assert_eq!(
            by_env.endpoint, None,
            "the exporter reads the variable itself"
        );
        let protocol_by_env = export(
            &off,
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ]),
        )
        .expect("on");
        assert_eq!(
            protocol_by_env.protocol, None,
            "OTEL_EXPORTER_OTLP_PROTOCOL applies"
        );
        assert_eq!(
            export(&on, &env(&[("OTEL_SDK_DISABLED", "true")])),
            None,
            "OTEL_SDK_DISABLED wins"
        );
        assert_eq!(export(&on, &env(&[("OTEL_TRACES_EXPORTER", "none")])), None);
    }
}
