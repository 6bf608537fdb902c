//! The `coordination.k8s.io/v1` Lease shared by the controller's leader election and the
//! connector's active/standby replicas: who may hold it, and one acquire-or-renew round.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::Api;

/// What a candidate may do with the Lease it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or its holder stopped renewing: take it.
    Acquire,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it.
    Wait,
}

/// Decides from the Lease (`None`: it does not exist) at `now`.
pub fn decide(lease: Option<&Lease>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = lease.and_then(|l| l.spec.as_ref()) else {
        return Decision::Acquire;
    };
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => Decision::Renew,
        None | Some("") => Decision::Acquire,
        Some(_) => {
            let duration =
                SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
            let expired = spec
                .renew_time
                .as_ref()
                .map(|t| t.0 + duration < now)
                .unwrap_or(true);
            if expired {
                Decision::Acquire
            } else {
                Decision::Wait
            }
        }
    }
}

/// The result of one [`LeaseLock::try_hold`] round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// We took it (it was free, released or expired).
    Acquired,
    /// We held it and renewed it.
    Renewed,
    /// Someone else holds it.
    No,
}

/// A candidate for one Lease.
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl LeaseLock {
    /// A candidate `identity` for the Lease `name` of `api`, held for `duration` per renewal.
    pub fn new(api: Api<Lease>, name: &str, identity: &str, duration: Duration) -> Self {
        Self {
            api,
            name: name.to_string(),
            identity: identity.to_string(),
            duration,
        }
    }

    /// How long one renewal holds the Lease.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// One round: acquires or renews the Lease when allowed.
    pub async fn try_hold(&self) -> Result<Held, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let decision = decide(current.as_ref(), &self.identity, now);
        if decision == Decision::Wait {
            return Ok(Held::No);
        }
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let mut lease = current.clone().unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                ..ObjectMeta::default()
            },
            spec: None,
        });
        let mut spec = lease.spec.take().unwrap_or_else(LeaseSpec::default);
        if decision == Decision::Acquire {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions =
                Some(spec.lease_transitions.unwrap_or(0) + i32::from(current.is_some()));
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(MicroTime(now));
        lease.spec = Some(spec);
        match self.write(current.is_some(), &lease).await? {
            false => Ok(Held::No),
            true if decision == Decision::Acquire => Ok(Held::Acquired),
            true => Ok(Held::Renewed),
        }
    }

    /// Gives the Lease up if we hold it (holder cleared), so that another candidate takes it
    /// at its next round instead of waiting for the expiry.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        self.write(true, &lease).await.map(|_| ())
    }

    /// Creates or replaces; `Ok(false)` when someone else wrote it meanwhile.
    async fn write(&self, exists: bool, lease: &Lease) -> Result<bool, kube::Error> {
        let written = if exists {
            // The resourceVersion read makes this fail if someone else wrote meanwhile.
            self.api
                .replace(&self.name, &PostParams::default(), lease)
                .await
        } else {
            self.api.create(&PostParams::default(), lease).await
        };
        match written {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
