//! Logging with `tracing`: JSON lines in containers (stdout not a terminal), readable text on a
//! terminal, or as `logging.format` forces; `logging.level` is an `EnvFilter` directive.

use std::io::IsTerminal;

use crds::config::{LogFormat, LoggingConfig};
use tracing_subscriber::EnvFilter;

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

/// Installs the global subscriber. Fails when `logging.level` is not a valid filter (a
/// configuration error) or a subscriber is already installed.
pub fn init(config: &LoggingConfig) -> Result<(), String> {
    let filter = filter(&config.level)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if use_json(config.format, std::io::stdout().is_terminal()) {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| format!("cannot install the log subscriber: {e}"))
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
