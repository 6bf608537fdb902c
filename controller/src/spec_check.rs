//! Checks of a resource that make it Stalled until someone fixes it.

use crds::{render_config, ConnectorConfig, MnoConnection};
use kube::ResourceExt;

use crate::children::CHILD_SUFFIX;

/// Why a resource cannot progress, and what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stall {
    /// CamelCase reason of the Stalled condition.
    pub reason: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Stall {
    /// An invalid spec.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            reason: "InvalidSpec",
            message: message.into(),
        }
    }
}

/// Longest resource name whose children's names stay valid DNS-1035 labels.
pub const MAX_NAME_LEN: usize = 63 - CHILD_SUFFIX.len();

/// Renders the connector configuration, or says why the spec cannot run.
pub fn check_spec(mno: &MnoConnection) -> Result<ConnectorConfig, Stall> {
    let name = mno.name_any();
    let dns1035 = name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !dns1035 {
        return Err(Stall::invalid(format!(
            "metadata.name {name:?} must be a DNS-1035 label of at most {MAX_NAME_LEN} characters \
             (it names the connector's Service): recreate the resource with a shorter name"
        )));
    }
    let backup_tls = mno.spec.backup.as_ref().and_then(|b| b.tls.as_ref());
    let client_cert_without_secret = mno
        .spec
        .primary
        .tls
        .iter()
        .chain(backup_tls)
        .any(|t| t.enabled && t.client_certificate && t.secret_name.is_none());
    if client_cert_without_secret {
        return Err(Stall::invalid(
            "tls.clientCertificate needs tls.secretName (a Secret with tls.crt and tls.key)",
        ));
    }
    render_config(mno).map_err(|e| Stall::invalid(e.to_string()))
}
