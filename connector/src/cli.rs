//! The command line of `smpp-connector --config FILE`: one operator's SMPP connector (see
//! [`crate::service`]). The binary is [`main`]; the e2e suite runs the same function as a
//! process of its own.
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
    /// Run the database migrations (`postgres.url`) and exit: for a Job when the connectors run
    /// with `postgres.migrate: false`.
    #[arg(long, conflicts_with = "check_config")]
    migrate: bool,
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

async fn migrate_only(c: &crds::config::PostgresConfig) -> Result<(), String> {
    let pool = crate::store::connect(c).await.map_err(|e| e.to_string())?;
    let done = crate::store::migrate(&pool)
        .await
        .map_err(|e| e.to_string());
    pool.close().await;
    done
}

/// Parses the arguments, loads the configuration and runs the service until SIGTERM / SIGINT.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let config = match crate::settings::load(&args.config, std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smpp-connector: {e}");
            return ExitCode::from(crate::settings::EXIT_CODE as u8);
        }
    };
    if let Err(e) = crate::logging::filter(&config.logging.level) {
        eprintln!("smpp-connector: configuration key {e}");
        return ExitCode::from(crate::settings::EXIT_CODE as u8);
    }
    if args.check_config {
        println!("configuration OK: operator {}", config.operator_id);
        return ExitCode::SUCCESS;
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (telemetry, tracer) = match crate::telemetry::export(&config.tracing, &env) {
        None => (None, None),
        Some(export) => match crate::telemetry::Telemetry::start(&export) {
            Ok((t, tracer)) => (Some(t), Some(tracer)),
            Err(e) => {
                eprintln!("smpp-connector: {e}");
                return ExitCode::from(crate::settings::EXIT_CODE as u8);
            }
        },
    };
    if let Err(e) = crate::logging::init(&config.logging, tracer) {
        eprintln!("smpp-connector: {e}");
        return ExitCode::from(crate::settings::EXIT_CODE as u8);
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
    if args.migrate {
        return match runtime.block_on(migrate_only(&config.postgres)) {
            Ok(()) => {
                tracing::info!("migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("smpp-connector: migrations: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let code = match runtime.block_on(crate::service::run(config, terminated())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("smpp-connector: {e}");
            ExitCode::FAILURE
        }
    };
    drop(runtime);
    if let Some(t) = telemetry {
        t.shutdown();
    }
    code
}
