//! `smsc-sim`: runs one SMSC simulator per listen address until SIGINT/SIGTERM, then
//! prints the statistics of each.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use e2e::sim::cli::Args;
use e2e::sim::{SimHandle, Simulator};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let stats_every = args.stats_every_secs;
    let control = args.control;
    let configs = match args.into_configs() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smsc-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let mut sims: Vec<Arc<SimHandle>> = Vec::new();
    for config in configs {
        match Simulator::start(config).await {
            Ok(sim) => {
                tracing::info!(addr = %sim.addr(), "smsc-sim listening");
                sims.push(Arc::new(sim));
            }
            Err(e) => {
                eprintln!("smsc-sim: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let control = match control {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!(%addr, "control API listening");
                let app = e2e::sim::control::router(sims.clone());
                Some(tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!(error = %e, "control API failed");
                    }
                }))
            }
            Err(e) => {
                eprintln!("smsc-sim: cannot listen on {addr} for the control API: {e}");
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let mut ticker = (stats_every > 0).then(|| {
        tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(stats_every),
            Duration::from_secs(stats_every),
        )
    });
    loop {
        tokio::select! {
            _ = shutdown_signal() => break,
            _ = async {
                match ticker.as_mut() {
                    Some(t) => { t.tick().await; }
                    None => std::future::pending().await,
                }
            } => {
                for sim in &sims {
                    println!("[{}]\n{}", sim.addr(), sim.stats());
                }
            }
        }
    }
    if let Some(control) = control {
        control.abort();
        let _ = control.await;
    }
    for sim in sims {
        println!("[{}]\n{}", sim.addr(), sim.stats());
        if let Ok(sim) = Arc::try_unwrap(sim) {
            sim.shutdown().await;
        }
    }
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
