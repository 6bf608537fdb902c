//! Status of an `MnoConnection`.
//!
//! Two writers share it by server-side apply, each with its own field manager: the controller
//! (`mno-controller`) owns `observedGeneration` and `conditions`; the connector pod
//! (`smpp-connector`) owns `session`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
