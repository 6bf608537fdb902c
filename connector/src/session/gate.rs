//! The send gate: what a submit must get, besides its place in the window, before the engine
//! hands it to the link. The operator's TPS budget (Redis, in the pipeline) implements it, so
//! that the window place and the rate permit are taken together, in one place.

use futures::future::BoxFuture;

/// A permit source consulted once per submit, right after its window place is taken.
pub trait SubmitGate: std::fmt::Debug + Send + Sync + 'static {
    /// Resolves when one submit may be sent now. Dropping the future gives nothing back and
    /// takes nothing.
    fn permit(&self) -> BoxFuture<'_, ()>;
}

/// No limit beyond the window (and the pacer's slow-down after throttling answers).
#[derive(Debug, Default, Clone, Copy)]
pub struct Ungated;

impl SubmitGate for Ungated {
    fn permit(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}
