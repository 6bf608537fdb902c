//! The controller's configuration: flags, each also read from an environment variable.

use std::net::SocketAddr;

use clap::{ArgAction, Parser, ValueEnum};

use crate::network_policy;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// JSON lines.
    Json,
    /// Readable text.
    Text,
}

/// Configuration of `mno-controller`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "mno-controller",
    version,
    about = "Runs one SMPP connector per MnoConnection"
)]
pub struct Settings {
    /// Image of the connector when an MnoConnection does not name one.
    #[arg(
        long,
        env = "CONNECTOR_IMAGE",
        default_value = "ghcr.io/ghasi/smpp-connector:0.1.0"
    )]
    pub connector_image: String,
    /// Images connectors may run, comma-separated: repositories (`ghcr.io/ghasi/smpp-connector`),
    /// paths ending in `/*` (every repository below), or `*` (any). The repository of
    /// `--connector-image` only when empty.
    #[arg(
        long,
        env = "ALLOWED_IMAGES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub allowed_images: Vec<String>,
    /// NetworkPolicy of each connector pod, as JSON (`platformPeers`, `metricsPeers`,
    /// `apiServerCIDRs`, `apiServerPort`); no NetworkPolicy when absent.
    #[arg(long, env = "CONNECTOR_NETWORK_POLICY", value_parser = network_policy::Settings::parse)]
    pub connector_network_policy: Option<network_policy::Settings>,
    /// Listen address of `/health`, `/ready` and `/metrics`.
    #[arg(long, env = "HTTP_ADDRESS", default_value = "0.0.0.0:8080")]
    pub http_address: SocketAddr,
    /// Run only while holding a Lease (for more than one replica).
    #[arg(long, env = "LEADER_ELECTION", default_value_t = false, action = ArgAction::Set)]
    pub leader_election: bool,
    /// Namespace of the Lease; the pod's own namespace when empty.
    #[arg(long, env = "LEASE_NAMESPACE", default_value = "")]
    pub lease_namespace: String,
    /// Name of the Lease.
    #[arg(long, env = "LEASE_NAME", default_value = "mno-controller")]
    pub lease_name: String,
    /// Namespace to watch; all namespaces when empty.
    #[arg(long, env = "WATCH_NAMESPACE", default_value = "")]
    pub watch_namespace: String,
    /// Log format: `json` or `text`. The filter comes from `RUST_LOG` (default `info`).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
    /// Name of this pod (event reporter instance and Lease holder identity).
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,
}

impl Settings {
    /// Settings for tests and tools: the defaults, with the given connector image.
    pub fn with_image(image: &str) -> Self {
        Self {
            connector_image: image.to_string(),
            allowed_images: Vec::new(),
            connector_network_policy: None,
            http_address: SocketAddr::from(([0, 0, 0, 0], 8080)),
            leader_election: false,
            lease_namespace: String::new(),
            lease_name: "mno-controller".into(),
            watch_namespace: String::new(),
            log_format: LogFormat::Json,
            pod_name: String::new(),
        }
    }
}
