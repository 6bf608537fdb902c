//! `kubectl mno`: status, suspend / resume and failover / failback of MnoConnections (see `controller::plugin`).
//! Installed as `kubectl-mno` on the PATH, kubectl runs it as `kubectl mno ...`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use controller::plugin::render::{render, Format};
use controller::plugin::{gather, set_endpoint, set_suspended};
use crds::MnoConnection;
use kube::{Api, Client};

/// Inspect and operate smpp-connector's MnoConnections.
#[derive(Debug, Parser)]
#[command(name = "kubectl mno", version)]
struct Args {
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// Every namespace (status only).
    #[arg(short = 'A', long, global = true)]
    all_namespaces: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Operator, endpoints, binds, window, rate, receipts pending, errors, transitions,
    /// conditions of one MnoConnection or of all.
    Status {
        /// The MnoConnection (all when absent).
        name: Option<String>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// No colours even on a terminal.
        #[arg(long)]
        no_color: bool,
    },
    /// Scale the connector to zero (it unbinds) while keeping the resource.
    Suspend {
        /// The MnoConnection.
        name: String,
    },
    /// Undo `suspend`.
    Resume {
        /// The MnoConnection.
        name: String,
    },
    /// Move the connector to the backup endpoint now and keep it there (annotation
    /// smpp.ghasi.io/endpoint=backup).
    Failover {
        /// The MnoConnection.
        name: String,
    },
    /// Undo `failover`: the connector fails back once the primary held for the hold time.
    Failback {
        /// The MnoConnection.
        name: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Output {
    Text,
    Json,
    Yaml,
}

async fn run(args: Args) -> Result<String, String> {
    let client = Client::try_default()
        .await
        .map_err(|e| format!("no Kubernetes client (kubeconfig?): {e}"))?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let api: Api<MnoConnection> = if args.all_namespaces {
        Api::all(client.clone())
    } else {
        Api::namespaced(client.clone(), &namespace)
    };
    match args.command {
        Command::Status {
            name,
            output,
            no_color,
        } => {
            let views = gather(&client, &api, name.as_deref(), &namespace)
                .await
                .map_err(|e| e.to_string())?;
            let format = match output {
                Output::Text => Format::Text {
                    colour: !no_color
                        && std::io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none(),
                },
                Output::Json => Format::Json,
                Output::Yaml => Format::Yaml,
            };
            render(&views, format)
        }
        Command::Suspend { name } => set_suspended(&api, &name, true)
            .await
            .map(|()| format!("mnoconnection {namespace}/{name} suspended\n"))
            .map_err(|e| e.to_string()),
        Command::Resume { name } => set_suspended(&api, &name, false)
            .await
            .map(|()| format!("mnoconnection {namespace}/{name} resumed\n"))
            .map_err(|e| e.to_string()),
        Command::Failover { name } => set_endpoint(&api, &name, Some("backup"))
            .await
            .map(|()| {
                format!("mnoconnection {namespace}/{name}: failover to the backup asked (the connector reads it within 5 s)\n")
            })
            .map_err(|e| e.to_string()),
        Command::Failback { name } => set_endpoint(&api, &name, None)
            .await
            .map(|()| {
                format!("mnoconnection {namespace}/{name}: failback asked (after the primary holds for failover.failbackHoldSeconds)\n")
            })
            .map_err(|e| e.to_string()),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubectl mno: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kubectl mno: {e}");
            ExitCode::FAILURE
        }
    }
}
