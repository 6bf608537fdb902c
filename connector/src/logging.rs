//! Logging with `tracing`: JSON lines in containers (stdout not a terminal), readable text on a
//! terminal, or as `logging.format` forces; `logging.level` is an `EnvFilter` directive. The
//! trace spans (target [`TRACE_TARGET`]) never reach the log; they go to the OpenTelemetry
//! layer when tracing is on ([`crate::telemetry`]).

use std::io::IsTerminal;

use crds::config::{LogFormat, LoggingConfig};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::session::TRACE_TARGET;

/// Whether to log JSON for `format` when stdout is (`true`) or is not a terminal.
pub fn use_json(format: LogFormat, stdout_is_terminal: bool) -> bool {
    match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !stdout_is_terminal,
    }
}

/// The filter of `logging.level`, or a message naming the key.
pub fn filter(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(level)
        .map_err(|e| format!("logging.level: {level:?} is not a valid filter: {e}"))
}

/// Installs the global subscriber: the log, and the OpenTelemetry layer when `tracer` is
/// given. Fails when `logging.level` is not a valid filter (a configuration error) or a
/// subscriber is already installed.
pub fn init(
    config: &LoggingConfig,
    tracer: Option<opentelemetry_sdk::trace::Tracer>,
) -> Result<(), String> {
    let directive = format!("{TRACE_TARGET}=off")
        .parse()
        .map_err(|e| format!("trace filter: {e}"))?;
    let filter = filter(&config.level)?.add_directive(directive);
    let log: Box<dyn Layer<Registry> + Send + Sync> =
        if use_json(config.format, std::io::stdout().is_terminal()) {
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_filter(filter)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer().with_filter(filter).boxed()
        };
    let traces = tracer.map(|t| {
        tracing_opentelemetry::layer()
            .with_tracer(t)
            .with_filter(Targets::new().with_target(TRACE_TARGET, LevelFilter::TRACE))
    });
    tracing_subscriber::registry()
        .with(log)
        .with(traces)
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_choice() {
        assert!(use_json(LogFormat::Auto, false));
        assert!(!use_json(LogFormat::Auto, true));
        assert!(use_json(LogFormat::Json, true));
        assert!(!use_json(LogFormat::Text, false));
    }

    #[test]
    fn level_filters() {
        assert!(filter("info").is_ok());
        assert!(filter("connector=debug,info").is_ok());
        let e = filter("connector=loud").unwrap_err();
        assert!(e.starts_with("logging.level:"), "{e}");
    }
}
