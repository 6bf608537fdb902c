//! The optional NetworkPolicy of a connector pod: ingress only to its HTTP port (metrics and
//! probes), egress only to DNS, its SMSC endpoints, NATS, Redis, PostgreSQL, the credentials
//! API and the Kubernetes API server (the connector writes its status).

use std::collections::BTreeSet;
use std::net::IpAddr;

use crds::config::{ConnectorConfig, CredentialsSource};
use crds::mno::EndpointSpec;
use crds::render::paths;
use crds::MnoConnection;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

use crate::children;
use crate::spec_check::Stall;
use crate::url_parts;

/// Reason of the Stalled condition of an SMSC named by host name without `egressCIDRs`.
pub const NEEDS_CIDRS: &str = "NetworkPolicyNeedsCIDRs";

/// The peers the controller's operator configures (Helm values `connector.networkPolicy`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Peers of NATS, Redis, PostgreSQL and the credentials API; any address when empty.
    #[serde(default)]
    pub platform_peers: Vec<NetworkPolicyPeer>,
    /// Peers allowed to scrape the HTTP port; any when empty.
    #[serde(default)]
    pub metrics_peers: Vec<NetworkPolicyPeer>,
    /// CIDRs of the Kubernetes API server; any address when empty.
    #[serde(default, rename = "apiServerCIDRs")]
    pub api_server_cidrs: Vec<String>,
    /// Port of the API server behind its Service (443 is always allowed too).
    #[serde(default = "default_api_server_port")]
    pub api_server_port: u16,
}

fn default_api_server_port() -> u16 {
    6443
}

impl Settings {
    /// Parses the JSON of `CONNECTOR_NETWORK_POLICY`.
    pub fn parse(json: &str) -> Result<Self, String> {
        let settings: Self = serde_json::from_str(json).map_err(|e| e.to_string())?;
        for cidr in &settings.api_server_cidrs {
            check_cidr(cidr).map_err(|why| format!("apiServerCIDRs {cidr:?}: {why}"))?;
        }
        Ok(settings)
    }
}

/// Why `cidr` is not `address/prefix`.
fn check_cidr(cidr: &str) -> Result<(), &'static str> {
    let (address, prefix) = cidr.split_once('/').ok_or("not address/prefix")?;
    let address: IpAddr = address.parse().map_err(|_| "not an IP address")?;
    let prefix: u8 = prefix.parse().map_err(|_| "not a prefix length")?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err("prefix too long");
    }
    Ok(())
}

fn tcp(ports: impl IntoIterator<Item = u16>) -> Vec<NetworkPolicyPort> {
    ports
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|p| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(p))),
            protocol: Some("TCP".into()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

fn ip_blocks<'a>(cidrs: impl IntoIterator<Item = &'a String>) -> Vec<NetworkPolicyPeer> {
    cidrs
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|cidr| NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: cidr.clone(),
                ..IPBlock::default()
            }),
            ..NetworkPolicyPeer::default()
        })
        .collect()
}

/// `None` (any peer) for an empty list.
fn peers(list: Vec<NetworkPolicyPeer>) -> Option<Vec<NetworkPolicyPeer>> {
    (!list.is_empty()).then_some(list)
}

/// The egress rule of one SMSC endpoint: its port, to its IP or its `egressCIDRs`.
fn smsc_rule(field: &str, endpoint: &EndpointSpec) -> Result<NetworkPolicyEgressRule, Stall> {
    for cidr in &endpoint.egress_cidrs {
        check_cidr(cidr)
            .map_err(|why| Stall::invalid(format!("spec.{field}.egressCIDRs {cidr:?}: {why}")))?;
    }
    let mut cidrs = endpoint.egress_cidrs.clone();
    let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => cidrs.push(format!("{ip}/32")),
        Ok(IpAddr::V6(ip)) => cidrs.push(format!("{ip}/128")),
        Err(_) if cidrs.is_empty() => {
            return Err(Stall {
                reason: NEEDS_CIDRS,
                message: format!(
                    "spec.{field}.host {:?} is a name, and the connector's NetworkPolicy can \
                     only allow addresses: list the SMSC's addresses in spec.{field}.egressCIDRs",
                    endpoint.host
                ),
            })
        }
        Err(_) => {}
    }
    Ok(NetworkPolicyEgressRule {
        ports: Some(tcp([endpoint.port])),
        to: Some(ip_blocks(&cidrs)),
    })
}

/// Ports of the servers of `url`; `default` for a server without one.
fn url_ports(url: &str, default: u16) -> Vec<u16> {
    url_parts::servers(url)
        .into_iter()
        .map(|s| s.port.unwrap_or(default))
        .collect()
}

/// Ports of NATS, Redis, PostgreSQL and the credentials API, from the rendered configuration.
pub fn platform_ports(config: &ConnectorConfig) -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> = BTreeSet::new();
    ports.extend(url_ports(&config.nats.url, 4222));
    ports.extend(url_ports(&config.redis.url, 6379));
    ports.extend(url_ports(&config.postgres.url, 5432));
    if let CredentialsSource::OperatorManagement { base_url, .. } = &config.credentials {
        let default = if url_parts::scheme(base_url).as_deref() == Some("https") {
            443
        } else {
            80
        };
        ports.extend(url_ports(base_url, default));
    }
    ports
}

/// The NetworkPolicy of the connector of `mno`, or why it cannot be written.
pub fn build(
    mno: &MnoConnection,
    config: &ConnectorConfig,
    settings: &Settings,
) -> Result<NetworkPolicy, Stall> {
    let dns = NetworkPolicyEgressRule {
        ports: Some(
            ["UDP", "TCP"]
                .map(|protocol| NetworkPolicyPort {
                    port: Some(IntOrString::Int(53)),
                    protocol: Some(protocol.into()),
                    ..NetworkPolicyPort::default()
                })
                .to_vec(),
        ),
        to: None,
    };
    let mut egress = vec![dns, smsc_rule("primary", &mno.spec.primary)?];
    if let Some(backup) = &mno.spec.backup {
        egress.push(smsc_rule("backup", backup)?);
    }
    egress.push(NetworkPolicyEgressRule {
        ports: Some(tcp(platform_ports(config))),
        to: peers(settings.platform_peers.clone()),
    });
    egress.push(NetworkPolicyEgressRule {
        ports: Some(tcp([settings.api_server_port, 443])),
        to: peers(ip_blocks(&settings.api_server_cidrs)),
    });
    let ingress = NetworkPolicyIngressRule {
        ports: Some(vec![NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(paths::HTTP_PORT))),
            protocol: Some("TCP".into()),
            ..NetworkPolicyPort::default()
        }]),
        from: peers(settings.metrics_peers.clone()),
    };
    Ok(NetworkPolicy {
        metadata: children::meta(mno),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(children::selector_labels(mno)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![ingress]),
            egress: Some(egress),
        }),
    })
}
