//! The session's state machine as seen from outside, and the events of its changes.

use std::time::Duration;

use crate::protocol::codec::CommandStatus;

/// The session's state as the platform sees it: the crds type of `status.session.bindState`,
/// whose spelling (`BOUND`, `FAILBACK`, `UNBOUND`) is also `operator.health`'s `state`.
pub use crds::status::BindState as HealthState;

/// Which endpoint a session uses (`primary` or `backup`): the crds type.
pub use crds::render::EndpointRole;

/// How the session binds: the configured choice (`auto` tries a transceiver first) and, for a
/// bound session, the mode in use (`transceiver` or `transmitterReceiver`, never `auto`): the
/// crds type.
pub use crds::config::BindMode;

/// Where the session is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Connecting and binding to `endpoint`.
    Connecting {
        /// The endpoint tried.
        endpoint: EndpointRole,
        /// Its `host:port`.
        address: String,
    },
    /// Bound and carrying traffic.
    Bound {
        /// The endpoint bound to.
        endpoint: EndpointRole,
        /// Its `host:port`.
        address: String,
        /// Transceiver or transmitter + receiver.
        mode: BindMode,
    },
    /// Not bound; the next attempt is in `retry_in`.
    Unbound {
        /// Why.
        cause: UnboundCause,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// Draining outstanding requests before unbinding.
    Stopping,
    /// Stopped for good.
    Stopped,
}

/// Why the session is unbound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnboundCause {
    /// The SMSC refused the credentials (`ESME_RINVPASWD` / `ESME_RINVSYSID`); they are
    /// fetched again and binds are retried at the slower credentials pace.
    CredentialsRefused {
        /// The bind's command_status.
        status: CommandStatus,
    },
    /// The credentials provider failed.
    CredentialsUnavailable(String),
    /// The SMSC refused the bind for another reason.
    BindRefused {
        /// The bind's command_status.
        status: CommandStatus,
    },
    /// Connection, TLS, timeout or protocol failure, or a lost session.
    Network(String),
}

impl SessionState {
    /// Whether submits can be sent.
    pub fn is_bound(&self) -> bool {
        matches!(self, SessionState::Bound { .. })
    }
}

/// One state change, in the shape of an `operator.health` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEvent {
    /// BOUND (primary), FAILBACK (backup) or UNBOUND.
    pub state: HealthState,
    /// The endpoint in use; `None` when unbound.
    pub endpoint: Option<EndpointRole>,
    /// Its `host:port`.
    pub address: Option<String>,
    /// The bind mode; `None` when unbound.
    pub bind_mode: Option<BindMode>,
    /// Why the state changed.
    pub reason: String,
}

impl SessionEvent {
    /// Bound on `endpoint`.
    pub fn bound(endpoint: EndpointRole, address: String, mode: BindMode, reason: String) -> Self {
        Self {
            state: match endpoint {
                EndpointRole::Primary => HealthState::Bound,
                EndpointRole::Backup => HealthState::Failback,
            },
            endpoint: Some(endpoint),
            address: Some(address),
            bind_mode: Some(mode),
            reason,
        }
    }

    /// Not bound.
    pub fn unbound(reason: String) -> Self {
        Self {
            state: HealthState::Unbound,
            endpoint: None,
            address: None,
            bind_mode: None,
            reason,
        }
    }
}

/// Where one bind of the pool is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindSlotState {
    /// Connecting and binding.
    Binding,
    /// Bound.
    Bound,
    /// Lost or failed; retried after its backoff.
    Unbound,
    /// The SMSC refused the bind (bind limit, credentials, ...); retried after its backoff.
    Refused,
}

/// One bind of the pool ([`super::SessionHandle::binds`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindInfo {
    /// 0-based index of the bind in the pool.
    pub index: u32,
    /// The endpoint it binds to.
    pub endpoint: EndpointRole,
    /// Its state.
    pub state: BindSlotState,
    /// The bind mode in use, while bound.
    pub mode: Option<BindMode>,
    /// Since when it is in this state.
    pub since: std::time::SystemTime,
    /// Submits outstanding on it.
    pub window_in_use: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
}
