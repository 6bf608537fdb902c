//! A connector's session status in each bind state, as the connector writes it: the primary
//! bound; failed over to the backup; both refused.

use crds::status::{ActiveEndpoint, BindState, EndpointState, EndpointStatus};
use crds::SessionStatus;

/// The session part of the status in `state`.
pub fn session(state: BindState) -> SessionStatus {
    let (active, primary_state, backup_state) = match state {
        BindState::Bound => (
            ActiveEndpoint::Primary,
            EndpointState::Bound,
            EndpointState::Idle,
        ),
        BindState::Failback => (
            ActiveEndpoint::Backup,
            EndpointState::Failed,
            EndpointState::Bound,
        ),
        BindState::Unbound => (
            ActiveEndpoint::None,
            EndpointState::Failed,
            EndpointState::Failed,
        ),
    };
    let error =
        |s: EndpointState| (s == EndpointState::Failed).then(|| "connection refused".to_string());
    SessionStatus {
        bind_state: state,
        active_endpoint: active,
        primary: EndpointStatus {
            address: "smsc1:2775".into(),
            state: primary_state,
            last_error: error(primary_state),
            consecutive_failures: u32::from(primary_state == EndpointState::Failed) * 3,
            bound_since: None,
        },
        backup: Some(EndpointStatus {
            address: "smsc2:2775".into(),
            state: backup_state,
            last_error: error(backup_state),
            consecutive_failures: 0,
            bound_since: None,
        }),
        last_failover_time: None,
        last_failback_time: None,
        connector_pod: Some("mtn-gh-connector-abc".into()),
        connector_ready: state != BindState::Unbound,
        slow_down: None,
        reconnects_last_hour: 0,
        submits_last_minute: 0,
    }
}
