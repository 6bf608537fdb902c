//! Errors of a reconcile. Every one of them is transient: problems that need a person make the
//! resource Stalled instead of failing the reconcile.

/// A reconcile that must be retried.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API failed or refused a request.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A child could not be serialised.
    #[error("serialising {what}: {reason}")]
    Serialize {
        /// What was serialised.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The resource has no namespace or name.
    #[error("the MnoConnection has no {0}")]
    MissingMetadata(&'static str),
}

impl Error {
    /// Short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(s)) if s.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(_)) => "api",
            Error::Kube(_) => "transport",
            Error::Serialize { .. } => "serialize",
            Error::MissingMetadata(_) => "metadata",
        }
    }
}

/// Result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;
