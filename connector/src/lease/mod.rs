//! Active/standby replicas: only the holder of the operator's lease binds and pulls dispatch
//! commands. [`spawn`] runs one candidate; its [`Lease::watch_term`] names the current term
//! of activity (`Some(n)`, a new `n` each time the lease is taken) or says standby (`None`).
//!
//! Fencing: a holder that finds the lease taken, or cannot renew it for long enough that
//! another replica may take it, ends its term at once (the service stops pulling and unbinds)
//! and becomes a standby. A replica that took the lease early (the PostgreSQL backend sees the
//! holder's connection gone before the expiry) waits a fence delay before it starts, long
//! enough for a holder that is still alive to notice and unbind.

mod kubernetes;
mod postgres;

use std::time::Duration;

use crds::config::{LeaseBackend, LeaseConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use kubernetes::KubeLease;
pub use postgres::PgLease;

/// How long a holder that lost its lease takes at most to stop pulling and unbind.
pub const STOP_BUDGET: Duration = Duration::from_secs(2);

/// The outcome of one acquire-or-renew round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// Taken; start after `fence` (zero when the previous holder released it or let it expire).
    Acquired {
        /// Wait this long before binding.
        fence: Duration,
    },
    /// Held and renewed.
    Renewed,
    /// Another replica holds it.
    HeldByOther,
}

/// A lease round failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The Kubernetes API.
    #[error("Kubernetes: {0}")]
    Kubernetes(#[from] kube::Error),
    /// PostgreSQL.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    /// The configuration cannot be used.
    #[error("{0}")]
    Config(String),
}

/// Where the lease is kept.
pub enum Backend {
    /// A `coordination.k8s.io/v1` Lease.
    Kubernetes(KubeLease),
    /// A row of `smpp.leases`, renewed on a dedicated connection.
    Postgres(PgLease),
}

impl Backend {
    /// One round, bounded by `timeout`.
    async fn round(&mut self, timeout: Duration) -> Result<Round, LeaseError> {
        let round = async {
            match self {
                Backend::Kubernetes(l) => l.round().await,
                Backend::Postgres(l) => l.round().await,
            }
        };
        match tokio::time::timeout(timeout, round).await {
            Ok(r) => r,
            Err(_) => {
                if let Backend::Postgres(l) = self {
                    l.forget_connection();
                }
                Err(LeaseError::TimedOut(timeout))
            }
        }
    }

    /// Gives the lease up.
    async fn release(&mut self) -> Result<(), LeaseError> {
        match self {
            Backend::Kubernetes(l) => l.release().await,
            Backend::Postgres(l) => l.release().await,
        }
    }

    /// How long renewals may fail before the holder must end its term. PostgreSQL: not at
    /// all (a failed round drops the connection, which lets the standby take over
    /// early). Kubernetes: two thirds of the lease duration.
    fn error_tolerance(&self, duration: Duration) -> Duration {
        match self {
            Backend::Kubernetes(_) => duration * 2 / 3,
            Backend::Postgres(_) => Duration::ZERO,
        }
    }
}

/// The lease settings after defaults: name, identity and timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Lease name.
    pub name: String,
    /// Kubernetes namespace (unused by PostgreSQL).
    pub namespace: String,
    /// This replica.
    pub identity: String,
    /// Validity of one renewal.
    pub duration: Duration,
    /// Renewal period of the holder.
    pub renew: Duration,
    /// Retry period of a standby.
    pub retry: Duration,
}

impl LeaseSettings {
    /// From the configuration: an empty name is `smpp-connector-{operatorId}`, an empty
    /// namespace `POD_NAMESPACE`, an empty identity `POD_NAME`, else the host name and pid.
    pub fn resolve(c: &LeaseConfig, operator_id: &str) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let or = |v: &str, fallback: String| {
            if v.is_empty() {
                fallback
            } else {
                v.to_string()
            }
        };
        Self {
            name: or(&c.name, format!("smpp-connector-{operator_id}")),
            namespace: or(&c.namespace, env("POD_NAMESPACE").unwrap_or_default()),
            identity: or(
                &c.identity,
                env("POD_NAME").unwrap_or_else(|| {
                    let host = env("HOSTNAME").unwrap_or_else(|| "connector".into());
                    format!("{host}-{}", std::process::id())
                }),
            ),
            duration: Duration::from_secs(c.duration_seconds),
            renew: Duration::from_secs(c.renew_seconds),
            retry: Duration::from_secs(c.retry_seconds),
        }
    }

    /// The wait after an early takeover: one renewal period of the old holder plus its
    /// [`STOP_BUDGET`].
    pub fn fence_delay(&self) -> Duration {
        self.renew + STOP_BUDGET
    }
}

/// Builds the configured backend; `Ok(None)` for `backend: none` (always active).
pub async fn backend(
    config: &crds::ConnectorConfig,
    settings: &LeaseSettings,
) -> Result<Option<Backend>, LeaseError> {
    Ok(match config.lease.backend {
        LeaseBackend::None => None,
        LeaseBackend::Kubernetes => {
            Some(Backend::Kubernetes(KubeLease::in_cluster(settings).await?))
        }
        LeaseBackend::Postgres => {
            Some(Backend::Postgres(PgLease::new(&config.postgres, settings)?))
        }
    })
}

/// A running candidate for the lease.
pub struct Lease {
    term: watch::Receiver<Option<u64>>,
    release: CancellationToken,
    task: JoinHandle<()>,
}

/// Starts a candidate: it tries to take the lease every `retry`, renews it every `renew` while
/// it holds it, and gives it up on [`Lease::release`].
pub fn spawn(backend: Backend, settings: LeaseSettings) -> Lease {
    let (tx, term) = watch::channel(None);
    let release = CancellationToken::new();
    let task = tokio::spawn(candidate(backend, settings, tx, release.clone()));
    Lease {
        term,
        release,
        task,
    }
}

impl Lease {
    /// The current term: `Some(n)` while this replica is active, `None` while standby.
    pub fn watch_term(&self) -> watch::Receiver<Option<u64>> {
        self.term.clone()
    }

    /// Gives the lease up (call it after the active part stopped) and ends the candidate.
    pub async fn release(self) {
        self.release.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "lease: the candidate task ended abnormally");
        }
    }
}

async fn candidate(
    mut backend: Backend,
    s: LeaseSettings,
    term: watch::Sender<Option<u64>>,
    release: CancellationToken,
) {
    let round_timeout = s.renew.max(Duration::from_secs(1));
    let tolerance = backend.error_tolerance(s.duration);
    let mut terms = 0u64;
    let mut active = false;
    let mut last_renewal = tokio::time::Instant::now();
    let mut wait = Duration::ZERO;
    let end_term = |reason: &str| {
        tracing::warn!(lease = %s.name, identity = %s.identity, reason, "lease: standby now");
        term.send_replace(None);
    };
    loop {
        tokio::select! {
            () = release.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
        wait = if active { s.renew } else { s.retry };
        match backend.round(round_timeout).await {
            Ok(Round::Acquired { fence }) if !fence.is_zero() => {
                tracing::info!(lease = %s.name, identity = %s.identity, ?fence,
                    "lease: taken from a holder that is gone; waiting for it to be fenced");
                active = false;
                wait = fence;
            }
            Ok(Round::Acquired { .. } | Round::Renewed) => {
                last_renewal = tokio::time::Instant::now();
                if !active {
                    active = true;
                    terms += 1;
                    tracing::info!(lease = %s.name, identity = %s.identity, term = terms,
                        "lease: active");
                    term.send_replace(Some(terms));
                    wait = s.renew;
                }
            }
            Ok(Round::HeldByOther) => {
                if active {
                    active = false;
                    end_term("another replica holds the lease");
                }
            }
            Err(e) => {
                tracing::warn!(lease = %s.name, error = %e, "lease: round failed");
                if active && last_renewal.elapsed() >= tolerance {
                    active = false;
                    end_term("the lease could not be renewed");
                }
                if !active {
                    wait = s.retry;
                }
            }
        }
    }
    term.send_replace(None);
    match backend.release().await {
        Ok(()) => tracing::info!(lease = %s.name, identity = %s.identity, "lease: released"),
        Err(e) => tracing::warn!(lease = %s.name, error = %e, "lease: release failed"),
    }
}

#[cfg(test)]
mod tests;
