//! `smpp-connector --config FILE`: one operator's SMPP connector (see `connector::service`).
//!
//! Exit codes: 0 after a graceful stop (SIGTERM / SIGINT), 2 for a bad configuration, 1 when
//! the service cannot start.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// One operator's SMPP 3.4 connector.
#[derive(Debug, Parser)]
#[command(name = "smpp-connector", version)]
struct Args {
    /// The configuration file (YAML); environment overrides apply (docs/configuration.md).
    #[arg(long, env = "SMPP_CONFIG")]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check_config: bool,
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match connector::settings::load(&args.config, std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smpp-connector: {e}");
            return ExitCode::from(connector::settings::EXIT_CODE as u8);
        }
    };
    if let Err(e) = connector::logging::filter(&config.logging.level) {
        eprintln!("smpp-connector: configuration key {e}");
        return ExitCode::from(connector::settings::EXIT_CODE as u8);
    }
    if args.check_config {
        println!("configuration OK: operator {}", config.operator_id);
        return ExitCode::SUCCESS;
    }
    if let Err(e) = connector::logging::init(&config.logging) {
        eprintln!("smpp-connector: {e}");
        return ExitCode::from(connector::settings::EXIT_CODE as u8);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("smpp-connector: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(connector::service::run(config, terminated())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("smpp-connector: {e}");
            ExitCode::FAILURE
        }
    }
}
