//! `kubectl mno`: the kubectl plugin of smpp-connector. `status` gathers, per MnoConnection,
//! the resource's status and its connector's own `/status` (through the API server's service
//! proxy) into one [`MnoView`], printed aligned ([`render`]) or as JSON / YAML; `suspend` and
//! `resume` patch `spec.suspend`; `failover` and `failback` set and remove the annotation the
//! connector follows.

pub mod render;

use crds::report::StatusReport;
use crds::status::MnoConnectionStatus;
use crds::MnoConnection;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde::{Deserialize, Serialize};

use crate::children::child_name;

/// Field manager of the plugin's patches.
pub const FIELD_MANAGER: &str = "kubectl-mno";

/// What `kubectl mno status` shows of one MnoConnection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MnoView {
    /// The resource's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The platform's operator id.
    pub operator_id: String,
    /// `host:port` of the primary endpoint.
    pub primary: String,
    /// `host:port` of the backup endpoint, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Binds configured (`spec.binds`), replicas (`spec.replicas`).
    pub binds: u32,
    /// Replicas configured.
    pub replicas: u32,
    /// `spec.suspend`.
    pub suspended: bool,
    /// The resource's status.
    pub status: MnoConnectionStatus,
    /// The active connector's `/status`, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<StatusReport>,
    /// Why the connector's `/status` could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_error: Option<String>,
}

/// A failure of the plugin, printed to the user.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The API server refused or failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// No MnoConnection of that name.
    #[error("no MnoConnection {name} in namespace {namespace}")]
    NotFound {
        /// Name asked for.
        name: String,
        /// Namespace searched.
        namespace: String,
    },
    /// Output could not be encoded.
    #[error("output: {0}")]
    Output(String),
}

fn address(e: &crds::mno::EndpointSpec) -> String {
    format!("{}:{}", e.host, e.port)
}

/// The view of `mno` with its connector's report (or why there is none).
pub fn view(mno: &MnoConnection, connector: Result<StatusReport, String>) -> MnoView {
    let (connector, connector_error) = match connector {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    MnoView {
        name: mno.name_any(),
        namespace: mno.namespace().unwrap_or_default(),
        operator_id: mno.spec.operator_id.clone(),
        primary: address(&mno.spec.primary),
        backup: mno.spec.backup.as_ref().map(address),
        binds: mno.spec.binds,
        replicas: mno.spec.replicas,
        suspended: mno.spec.suspend,
        status: mno.status.clone().unwrap_or_default(),
        connector,
        connector_error,
    }
}

/// The connector's `/status` through the service proxy of its Service.
pub async fn connector_status(
    client: &Client,
    mno: &MnoConnection,
) -> Result<StatusReport, String> {
    let namespace = mno.namespace().unwrap_or_default();
    let path = format!(
        "/api/v1/namespaces/{namespace}/services/{}:http/proxy/status",
        child_name(mno)
    );
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = client
        .request_text(request)
        .await
        .map_err(|e| format!("connector /status: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("connector /status: {e}"))
}

/// The views of `name` (or of every MnoConnection of `api`), sorted by namespace and name.
pub async fn gather(
    client: &Client,
    api: &Api<MnoConnection>,
    name: Option<&str>,
    namespace: &str,
) -> Result<Vec<MnoView>, PluginError> {
    let mut items = match name {
        Some(n) => match api.get_opt(n).await? {
            Some(m) => vec![m],
            None => {
                return Err(PluginError::NotFound {
                    name: n.into(),
                    namespace: namespace.into(),
                })
            }
        },
        None => api.list(&ListParams::default()).await?.items,
    };
    items.sort_by_key(|m| (m.namespace(), m.name_any()));
    let mut views = Vec::with_capacity(items.len());
    for mno in &items {
        let report = if mno.spec.suspend {
            Err("suspended".to_string())
        } else {
            connector_status(client, mno).await
        };
        views.push(view(mno, report));
    }
    Ok(views)
}

/// Sets (`Some("backup")`: a manual failover) or removes (`None`: failback with the usual hold
/// time) the annotation [`crds::mno::ENDPOINT_ANNOTATION`] of `name`, which its connector reads.
pub async fn set_endpoint(
    api: &Api<MnoConnection>,
    name: &str,
    value: Option<&str>,
) -> Result<(), PluginError> {
    let patch = serde_json::json!({
        "metadata": {"annotations": {crds::mno::ENDPOINT_ANNOTATION: value}}
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    Ok(())
}

/// Sets `spec.suspend` of `name` (suspend: true, resume: false).
pub async fn set_suspended(
    api: &Api<MnoConnection>,
    name: &str,
    suspend: bool,
) -> Result<(), PluginError> {
    let patch = serde_json::json!({"spec": {"suspend": suspend}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    Ok(())
}
