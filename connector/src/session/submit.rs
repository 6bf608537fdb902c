//! What a submit returns: the outcome, the typed errors, late responses, and the job that
//! carries a submit through the engine.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::counters::Counters;
use super::gate::Permit;
use super::status_class::StatusClass;
use crate::protocol::codec::{CommandStatus, Pdu};
use crate::session::state::EndpointRole;

/// A submit_sm the SMSC accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitOutcome {
    /// `ESME_ROK`.
    pub status: CommandStatus,
    /// The SMSC's message id from submit_sm_resp.
    pub message_id: String,
    /// Sequence number of the accepted attempt.
    pub sequence: u32,
    /// Attempts made (more than one after throttling).
    pub attempts: u32,
    /// From the first send to the accepting response.
    pub latency: Duration,
    /// The endpoint that accepted it.
    pub endpoint: EndpointRole,
    /// The bind of the pool (0-based) that carried the accepted attempt.
    pub bind: u32,
}

/// Why a submit did not succeed. [`SubmitError::is_retryable`] tells whether the same
/// message may be sent again later.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// No session is bound: try again once bound.
    #[error("no bound session")]
    NotBound,
    /// The engine is stopping and takes no new submits.
    #[error("the session is shutting down")]
    ShuttingDown,
    /// The connection was lost before the response. `maybe_accepted`: the request had been
    /// written, so the SMSC may have accepted it (a resend may duplicate it).
    #[error("connection lost before the response (maybe accepted: {maybe_accepted})")]
    Disconnected {
        /// The request may have reached the SMSC.
        maybe_accepted: bool,
    },
    /// No response within the response timeout. A later response is still reported as a
    /// [`LateResponse`] with this sequence number.
    #[error("no response within the timeout (sequence {sequence})")]
    ResponseTimeout {
        /// The request's sequence number.
        sequence: u32,
    },
    /// The SMSC answered with an error status.
    #[error("refused with {status} ({class:?}) after {attempts} attempt(s)")]
    Rejected {
        /// The command_status.
        status: CommandStatus,
        /// Its class.
        class: StatusClass,
        /// Attempts made.
        attempts: u32,
    },
    /// The submit_sm cannot be encoded (a field is too long).
    #[error("cannot encode the submit_sm: {0}")]
    Encode(String),
    /// The message's validity ended before the SMSC accepted it: not sent again.
    #[error("validity ended before the SMSC accepted the submit (after {attempts} attempt(s), last status {last_status:?})")]
    Expired {
        /// Attempts made.
        attempts: u32,
        /// The last refusal's command_status, if one was answered.
        last_status: Option<CommandStatus>,
    },
}

impl SubmitError {
    /// Whether sending the same message again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SubmitError::NotBound
            | SubmitError::ShuttingDown
            | SubmitError::Disconnected { .. }
            | SubmitError::ResponseTimeout { .. } => true,
            SubmitError::Rejected { class, .. } => class.is_retryable(),
            SubmitError::Encode(_) | SubmitError::Expired { .. } => false,
        }
    }

    /// The SMSC's command_status, if it answered.
    pub fn status(&self) -> Option<CommandStatus> {
        match self {
            SubmitError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A response that arrived after its request had timed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateResponse {
    /// The request's sequence number.
    pub sequence: u32,
    /// The response's command_status.
    pub status: CommandStatus,
    /// The message id (empty unless accepted).
    pub message_id: String,
    /// From the send to this response.
    pub latency: Duration,
}

/// One place in the window, held from `submit` until the request is answered.
#[derive(Debug)]
pub(crate) struct WindowPermit {
    _permit: OwnedSemaphorePermit,
    counters: Arc<Counters>,
}

impl WindowPermit {
    pub(crate) fn new(permit: OwnedSemaphorePermit, counters: Arc<Counters>) -> Self {
        counters.window_acquired();
        Self {
            _permit: permit,
            counters,
        }
    }
}

impl Drop for WindowPermit {
    fn drop(&mut self) {
        self.counters.window_released();
    }
}

/// A submit travelling through the engine.
#[derive(Debug)]
pub(crate) struct SubmitJob {
    /// The submit_sm PDU; its sequence number is set at each send.
    pub pdu: Pdu,
    pub attempts: u32,
    /// Attempts answered `ESME_RTHROTTLED` or `ESME_RMSGQFUL` (not counted against
    /// `retry.maxAttempts`).
    pub throttled: u32,
    /// The last refusal's status.
    pub last_status: Option<CommandStatus>,
    pub first_sent: Option<Instant>,
    /// Not sent at or after this instant (the message's validity end); the submit's
    /// relative validity_period is rewritten to the time left at each send.
    pub expires: Option<Instant>,
    /// The gate permit for the next write ([`Permit::Needed`] once written).
    pub gate: Permit,
    reply: Option<oneshot::Sender<Result<SubmitOutcome, SubmitError>>>,
    permit: Option<WindowPermit>,
}

impl SubmitJob {
    pub(crate) fn new(
        pdu: Pdu,
        expires: Option<Instant>,
        gate: Permit,
        reply: oneshot::Sender<Result<SubmitOutcome, SubmitError>>,
        permit: WindowPermit,
    ) -> Self {
        Self {
            pdu,
            attempts: 0,
            throttled: 0,
            last_status: None,
            first_sent: None,
            expires,
            gate,
            reply: Some(reply),
            permit: Some(permit),
        }
    }

    /// Finishes as expired.
    pub(crate) fn expire(self) {
        let (attempts, last_status) = (self.attempts, self.last_status);
        self.finish(Err(SubmitError::Expired {
            attempts,
            last_status,
        }));
    }

    /// Whether the job may not be sent at `now`.
    pub(crate) fn expired_at(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }

    /// Frees the window place, then answers the caller (who may have given up waiting).
    pub(crate) fn finish(mut self, result: Result<SubmitOutcome, SubmitError>) {
        drop(self.permit.take());
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(result);
        }
    }
}
