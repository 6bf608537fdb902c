//! The send gate: what every submit_sm written must get, besides its place in the window.
//! The operator's TPS budget (Redis, in the pipeline) implements it. A first send takes its
//! permit in [`SessionHandle::submit`](super::SessionHandle::submit), right after its window
//! place; a permit that went stale before the link could write (a paused or slowed link) and
//! every resend (after `ESME_RTHROTTLED`, `ESME_RMSGQFUL` or a temporary error) take a new
//! one in the link. So the SMSC never receives more submit_sm than the gate granted.

use futures::future::BoxFuture;
use tokio::time::Instant;

/// A permit source: one permit per submit_sm written.
pub trait SubmitGate: std::fmt::Debug + Send + Sync + 'static {
    /// Resolves with a permit for one submit_sm. Dropping the future gives nothing back and
    /// takes nothing.
    fn permit(&self) -> BoxFuture<'_, Permit>;
}

/// What a submit holds of the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// None: one must be taken before the next write.
    Needed,
    /// Usable for a write before this instant (the gate's bound on a permit's age).
    Until(Instant),
    /// Usable at any time.
    Open,
}

impl Permit {
    /// Whether a submit_sm may be written at `now` with this permit.
    pub fn usable(self, now: Instant) -> bool {
        match self {
            Permit::Needed => false,
            Permit::Until(t) => now < t,
            Permit::Open => true,
        }
    }
}

/// No limit beyond the window (and the pacer's slow-down after throttling answers).
#[derive(Debug, Default, Clone, Copy)]
pub struct Ungated;

impl SubmitGate for Ungated {
    fn permit(&self) -> BoxFuture<'_, Permit> {
        Box::pin(std::future::ready(Permit::Open))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_permit_is_usable_only_before_its_end() {
        let now = Instant::now();
        assert!(!Permit::Needed.usable(now));
        assert!(Permit::Open.usable(now));
        assert!(Permit::Until(now + Duration::from_millis(1)).usable(now));
        assert!(!Permit::Until(now).usable(now));
    }
}
