//! The JSON of the connector's `/status` endpoint, shared by the connector (which serves it)
//! and `kubectl mno status` (which reads it through the API server's service proxy).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::status::BindStatus;

/// A health transition (an `operator.health` event sent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// When.
    pub at: DateTime<Utc>,
    /// `BOUND`, `FAILBACK` or `UNBOUND`.
    pub state: String,
    /// `primary`, `backup` or `none`.
    pub endpoint: String,
    /// Why (the event's `reason`).
    pub reason: String,
}

/// A submit answered with an error status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitFailure {
    /// When the response came.
    pub at: DateTime<Utc>,
    /// The command_status, `0x00000058`.
    pub command_status: String,
    /// Its name (`ESME_RTHROTTLED`), or `vendor-specific`.
    pub name: String,
}

/// A snapshot of the activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityReport {
    /// The last transitions, newest first.
    pub transitions: Vec<Transition>,
    /// The last submit errors, newest first.
    pub last_errors: Vec<SubmitFailure>,
    /// Submits answered (any status) in the last 60 seconds.
    pub submits_last_minute: u64,
    /// Bound again after UNBOUND, in the last hour.
    pub reconnects_last_hour: u64,
}

/// The slow-down part of `/ready`'s body.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SlowDownReport {
    /// `none`, `throttled`, `queueFull` or `throttledQueueFull`.
    pub state: String,
    /// When the slow-down began (RFC 3339), while slowed down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The send rate limit in submits per second, while throttled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
    /// The rate limit relative to the rate before throttling (1 when not limited).
    pub rate_factor: f64,
    /// The current queue-full pause in milliseconds, while the queue is full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_full_pause_ms: Option<u64>,
    /// Seconds paused after queue-full answers since the start.
    pub paused_seconds_total: f64,
}

/// The `/status` body: what `kubectl mno status` shows of a connector.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// The operator.
    pub operator_id: String,
    /// The pod.
    pub pod: String,
    /// `single`, `active` or `standby`.
    pub role: String,
    /// Whether the session is bound.
    pub bound: bool,
    /// The binds of the pool (none on a standby).
    pub binds: Vec<BindStatus>,
    /// Requests outstanding over every bind.
    pub window_in_use: u64,
    /// The window over every bind (`session.window` × binds).
    pub window_size: u64,
    /// `throttle.tps` (0: no limit).
    pub tps_limit: u32,
    /// Submits answered per second over the last minute.
    pub rate_last_minute: f64,
    /// Receipts kept while they match no submit yet.
    pub receipts_pending: i64,
    /// The slow-down after throttling answers, while bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowdown: Option<SlowDownReport>,
    /// Transitions, errors, reconnects.
    #[serde(flatten)]
    pub activity: ActivityReport,
}
