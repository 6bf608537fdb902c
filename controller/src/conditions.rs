//! Status derivation: from what the controller observed (spec problems, suspension, the
//! Deployment's rollout, the session the connector reports) to the four summary conditions,
//! and `StandbyReady` with two replicas.

use crds::status::{condition_types as ct, BindState, EndpointStatus};
use crds::SessionStatus;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::spec_check::Stall;

/// What the controller can do about the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Someone must fix something first.
    Stalled(Stall),
    /// `spec.suspend` is true: the connector is scaled to zero.
    Suspended,
    /// The connector runs.
    Active,
}

/// Whether the Deployment runs the current pod template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// Not yet created, not yet observed, or the new pod not yet created.
    Pending,
    /// The Deployment controller has rolled the current template out.
    Complete,
}

impl Rollout {
    /// The rollout state of a Deployment as read from the API (`None`: not found).
    pub fn of(deployment: Option<&Deployment>) -> Self {
        let Some(d) = deployment else {
            return Rollout::Pending;
        };
        let Some(status) = &d.status else {
            return Rollout::Pending;
        };
        let observed = match (status.observed_generation, d.metadata.generation) {
            (Some(seen), Some(wanted)) => seen >= wanted,
            _ => false,
        };
        let wanted = d.spec.replicas.unwrap_or(1);
        let updated = status.updated_replicas.unwrap_or(0);
        if observed && updated >= wanted {
            Rollout::Complete
        } else {
            Rollout::Pending
        }
    }
}

/// One condition as the controller wants it, before times and generations are added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredCondition {
    /// `Ready`, `Degraded`, `Reconciling` or `Stalled`.
    pub type_: &'static str,
    /// True or False.
    pub status: bool,
    /// CamelCase reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

fn cond(
    type_: &'static str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
) -> DesiredCondition {
    DesiredCondition {
        type_,
        status,
        reason: reason.into(),
        message: message.into(),
    }
}

fn endpoint_text(name: &str, e: &EndpointStatus) -> String {
    match &e.last_error {
        Some(err) => format!("{name} {}: {err}", e.address),
        None => format!("{name} {}: {:?}", e.address, e.state).to_lowercase(),
    }
}

fn unbound_message(s: &SessionStatus) -> String {
    let mut parts = vec![endpoint_text("primary", &s.primary)];
    if let Some(b) = &s.backup {
        parts.push(endpoint_text("backup", b));
    }
    format!("not bound: {}", parts.join("; "))
}

/// The four conditions, in the order Ready, Degraded, Reconciling, Stalled.
pub fn derive(
    phase: &Phase,
    rollout: Rollout,
    session: Option<&SessionStatus>,
) -> Vec<DesiredCondition> {
    let not_stalled = cond(ct::STALLED, false, "NotStalled", "");
    let not_degraded = cond(ct::DEGRADED, false, "NotDegraded", "");
    let reconciled = cond(ct::RECONCILING, false, "Reconciled", "");
    match phase {
        Phase::Stalled(stall) => vec![
            cond(ct::READY, false, stall.reason, &stall.message),
            not_degraded,
            reconciled,
            cond(ct::STALLED, true, stall.reason, &stall.message),
        ],
        Phase::Suspended => vec![
            cond(
                ct::READY,
                false,
                "Suspended",
                "suspended: the connector is scaled to zero",
            ),
            not_degraded,
            reconciled,
            not_stalled,
        ],
        Phase::Active if rollout == Rollout::Pending => {
            let msg = "rolling out the connector";
            vec![
                cond(ct::READY, false, "RolloutInProgress", msg),
                not_degraded,
                cond(ct::RECONCILING, true, "RolloutInProgress", msg),
                not_stalled,
            ]
        }
        Phase::Active => match session {
            None => {
                let msg = "waiting for the connector to report its session";
                vec![
                    cond(ct::READY, false, "AwaitingSession", msg),
                    not_degraded,
                    cond(ct::RECONCILING, true, "AwaitingSession", msg),
                    not_stalled,
                ]
            }
            Some(s) => match s.bind_state {
                BindState::Bound => vec![
                    cond(
                        ct::READY,
                        true,
                        "Bound",
                        format!("bound on primary {}", s.primary.address),
                    ),
                    not_degraded,
                    reconciled,
                    not_stalled,
                ],
                BindState::Failback => {
                    let backup = s.backup.as_ref().map(|b| b.address.as_str()).unwrap_or("?");
                    let msg = format!(
                        "bound on backup {backup}; {}",
                        endpoint_text("primary", &s.primary)
                    );
                    vec![
                        cond(ct::READY, true, "BoundOnBackup", &msg),
                        cond(ct::DEGRADED, true, "FailedOver", msg),
                        reconciled,
                        not_stalled,
                    ]
                }
                BindState::Unbound => {
                    let msg = unbound_message(s);
                    vec![
                        cond(ct::READY, false, "Unbound", &msg),
                        cond(ct::DEGRADED, true, "Unbound", msg),
                        reconciled,
                        not_stalled,
                    ]
                }
            },
        },
    }
}

/// Ready connector pods of a Deployment as read from the API (`None`: not found).
pub fn ready_pods(deployment: Option<&Deployment>) -> i32 {
    deployment
        .and_then(|d| d.status.as_ref())
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// With two replicas (`standby`), `StandbyReady`: True while both pods are ready, False
/// (`StandbyMissing`) otherwise, so that a takeover is known to be possible or not. Only for an
/// active resource whose rollout is complete (a rollout or a stall says more); `None` otherwise
/// or with one replica.
pub fn standby(
    standby: bool,
    phase: &Phase,
    rollout: Rollout,
    ready: i32,
) -> Option<DesiredCondition> {
    if !standby || *phase != Phase::Active || rollout != Rollout::Complete {
        return None;
    }
    Some(if ready >= 2 {
        cond(
            ct::STANDBY_READY,
            true,
            "StandbyRunning",
            format!("{ready}/2 connector pods ready"),
        )
    } else {
        cond(
            ct::STANDBY_READY,
            false,
            "StandbyMissing",
            format!("{ready}/2 connector pods ready: no standby to take over"),
        )
    })
}

/// The conditions to write: `desired` with `generation`, keeping each existing
/// `lastTransitionTime` whose status did not change and taking `now` for the others.
pub fn merge(
    existing: &[Condition],
    desired: &[DesiredCondition],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    desired
        .iter()
        .map(|d| {
            let status = if d.status { "True" } else { "False" };
            let since = existing
                .iter()
                .find(|c| c.type_ == d.type_ && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            Condition {
                type_: d.type_.to_string(),
                status: status.to_string(),
                reason: d.reason.clone(),
                message: d.message.clone(),
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect()
}

/// A change of the session worth an event, seen by comparing conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Traffic moved to the backup.
    FailedOver(String),
    /// Traffic moved back to the primary.
    FailedBack(String),
    /// The connector lost every session.
    Unbound(String),
    /// Bound again after being unbound.
    Bound(String),
    /// The resource became Stalled.
    Stalled {
        /// Reason of the Stalled condition.
        reason: String,
        /// Its message.
        message: String,
    },
}

fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn is(c: Option<&Condition>, status: &str, reason: &str) -> bool {
    c.is_some_and(|c| c.status == status && c.reason == reason)
}

/// The transitions between the old and the new conditions.
pub fn transitions(old: &[Condition], new: &[Condition]) -> Vec<Transition> {
    let mut out = Vec::new();
    let old_degraded = find(old, ct::DEGRADED);
    let new_degraded = find(new, ct::DEGRADED);
    let message = |c: Option<&Condition>| c.map(|c| c.message.clone()).unwrap_or_default();
    if is(new_degraded, "True", "FailedOver") && !is(old_degraded, "True", "FailedOver") {
        out.push(Transition::FailedOver(message(new_degraded)));
    }
    let new_ready = find(new, ct::READY);
    if is(old_degraded, "True", "FailedOver") && is(new_ready, "True", "Bound") {
        out.push(Transition::FailedBack(message(new_ready)));
    }
    if is(new_degraded, "True", "Unbound") && !is(old_degraded, "True", "Unbound") {
        out.push(Transition::Unbound(message(new_degraded)));
    }
    if is(old_degraded, "True", "Unbound") && is(new_ready, "True", "Bound") {
        out.push(Transition::Bound(message(new_ready)));
    }
    let new_stalled = find(new, ct::STALLED);
    if let Some(s) = new_stalled.filter(|c| c.status == "True") {
        let old_stalled = find(old, ct::STALLED);
        if !is(old_stalled, "True", &s.reason)
            || old_stalled.map(|c| &c.message) != Some(&s.message)
        {
            out.push(Transition::Stalled {
                reason: s.reason.clone(),
                message: s.message.clone(),
            });
        }
    }
    out
}
