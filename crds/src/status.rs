//! Status of an `MnoConnection`.
//!
//! Two writers share it by server-side apply, each with its own field manager: the controller
//! (`mno-controller`) owns `observedGeneration` and `conditions`; the connector pod
//! (`smpp-connector`) owns `session`, `binds`, `bindsReady` and `activePod` (see
//! [`ConnectorStatus`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::BindMode;
use crate::render::EndpointRole;

/// Condition types of an `MnoConnection` (kstatus conventions).
pub mod condition_types {
    /// The connector is bound to an SMSC and traffic flows.
    pub const READY: &str = "Ready";
    /// Working with reduced redundancy (on the backup) or not bound at all.
    pub const DEGRADED: &str = "Degraded";
    /// The controller or the connector is still making progress toward the spec.
    pub const RECONCILING: &str = "Reconciling";
    /// Progress is impossible until someone fixes something (the message says what).
    pub const STALLED: &str = "Stalled";
    /// With `spec.replicas: 2`: whether both connector pods are ready, so that the standby can
    /// take over from the active one.
    pub const STANDBY_READY: &str = "StandbyReady";
}

/// Observed state of an `MnoConnection`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MnoConnectionStatus {
    /// The generation of the spec that the controller last acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Summary conditions `Ready`, `Degraded`, `Reconciling` and `Stalled`, each carrying the
    /// generation it was computed for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The SMPP session as the connector pod reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionStatus>,
    /// Each bind of the active connector's pool, as that pod reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binds: Vec<BindStatus>,
    /// Binds up / binds configured, for example `3/4` (the `BINDS` column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binds_ready: Option<String>,
    /// The connector pod that is active: it holds the lease, binds and writes this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_pod: Option<String>,
}

/// The part of the status the connector pod writes (field manager `smpp-connector`), as sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatus {
    /// `status.session`.
    pub session: SessionStatus,
    /// `status.binds`.
    pub binds: Vec<BindStatus>,
    /// `status.bindsReady`.
    pub binds_ready: String,
    /// `status.activePod`.
    pub active_pod: String,
}

/// State of one bind of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BindSlotStatus {
    /// Connecting and binding.
    Binding,
    /// Bound.
    Bound,
    /// Lost or failed; retried after its backoff.
    Unbound,
    /// The SMSC refused the bind (bind limit, credentials, ...); retried after its backoff.
    Refused,
}

/// One bind of the active connector's pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindStatus {
    /// 0-based index of the bind in the pool.
    pub index: u32,
    /// The connector pod keeping it.
    pub pod: String,
    /// `primary` or `backup`: the endpoint it binds to.
    pub endpoint: EndpointRole,
    /// `binding`, `bound`, `unbound` or `refused`.
    pub state: BindSlotStatus,
    /// `transceiver` or `transmitterReceiver`, while bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<BindMode>,
    /// Since when it is in this state.
    pub since: Time,
    /// Submits outstanding on it at its last state change.
    #[serde(default)]
    pub window_in_use: u32,
    /// Its last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// State of the session as the platform sees it (the `operator.health` states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum BindState {
    /// Bound on the primary endpoint.
    #[serde(rename = "BOUND")]
    Bound,
    /// Bound, but on the backup endpoint.
    #[serde(rename = "FAILBACK")]
    Failback,
    /// No usable session.
    #[serde(rename = "UNBOUND")]
    Unbound,
}

/// Which endpoint carries traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActiveEndpoint {
    /// The primary endpoint.
    Primary,
    /// The backup endpoint.
    Backup,
    /// Neither (unbound).
    None,
}

/// State of the connection to one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EndpointState {
    /// Bound.
    Bound,
    /// Connecting or binding.
    Connecting,
    /// The last attempt failed; waiting to retry.
    Failed,
    /// Not in use (the other endpoint carries traffic, or suspended).
    Idle,
}

/// The connection to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStatus {
    /// `host:port` of the endpoint.
    pub address: String,
    /// `bound`, `connecting`, `failed` or `idle`.
    pub state: EndpointState,
    /// Last error seen on this endpoint (connect, bind or session error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Consecutive failed connect or bind attempts.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Since when the session on this endpoint is bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_since: Option<Time>,
}

/// The session part of the status, written by the connector pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionStatus {
    /// `BOUND`, `FAILBACK` or `UNBOUND`.
    pub bind_state: BindState,
    /// `primary`, `backup` or `none`.
    pub active_endpoint: ActiveEndpoint,
    /// The primary endpoint's connection.
    pub primary: EndpointStatus,
    /// The backup endpoint's connection, when a backup is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<EndpointStatus>,
    /// When traffic last moved to the backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover_time: Option<Time>,
    /// When traffic last moved back to the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failback_time: Option<Time>,
    /// Name of the connector pod that wrote this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_pod: Option<String>,
    /// Whether that connector reports itself ready (bound and its dependencies reachable).
    #[serde(default)]
    pub connector_ready: bool,
    /// The session's slow-down after throttling answers of the SMSC; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_down: Option<SlowDownStatus>,
    /// Times the session was bound again after UNBOUND in the last hour (refreshed once a
    /// minute).
    #[serde(default)]
    pub reconnects_last_hour: u32,
    /// Submits answered in the last minute (refreshed once a minute; per second: / 60).
    #[serde(default)]
    pub submits_last_minute: u64,
}

/// What slows the session down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SlowDownState {
    /// The send rate is lowered after ESME_RTHROTTLED.
    Throttled,
    /// Sending is paused and probed after ESME_RMSGQFUL.
    QueueFull,
    /// Both.
    ThrottledQueueFull,
}

/// A slow-down of the session after throttling answers of the SMSC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlowDownStatus {
    /// `throttled`, `queueFull` or `throttledQueueFull`.
    pub state: SlowDownState,
    /// Since when the session is slowed down.
    pub since: Time,
}

impl MnoConnectionStatus {
    /// The condition of the given type, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}
