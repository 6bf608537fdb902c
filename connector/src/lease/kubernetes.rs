//! The lease as a `coordination.k8s.io/v1` Lease of the connector's namespace
//! ([`crds::lease::LeaseLock`], shared with the controller's leader election).

use crds::lease::{Held, LeaseLock};
use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};

use super::{LeaseError, LeaseSettings, Round};

/// A candidate for the Kubernetes Lease.
pub struct KubeLease {
    lock: LeaseLock,
}

impl KubeLease {
    /// A candidate using `client`.
    pub fn new(client: Client, s: &LeaseSettings) -> Self {
        Self {
            lock: LeaseLock::new(
                Api::<Lease>::namespaced(client, &s.namespace),
                &s.name,
                &s.identity,
                s.duration,
            ),
        }
    }

    /// A candidate using the pod's service account.
    pub async fn in_cluster(s: &LeaseSettings) -> Result<Self, LeaseError> {
        if s.namespace.is_empty() {
            return Err(LeaseError::Config(
                "lease.namespace is empty and POD_NAMESPACE is not set".into(),
            ));
        }
        Ok(Self::new(Client::try_default().await?, s))
    }

    pub(super) async fn round(&mut self) -> Result<Round, LeaseError> {
        // The previous holder stopped renewing for the whole duration: it fenced itself.
        Ok(match self.lock.try_hold().await? {
            Held::Acquired => Round::Acquired {
                fence: std::time::Duration::ZERO,
            },
            Held::Renewed => Round::Renewed,
            Held::No => Round::HeldByOther,
        })
    }

    pub(super) async fn release(&mut self) -> Result<(), LeaseError> {
        Ok(self.lock.release().await?)
    }
}
