//! Leader election on a `coordination.k8s.io/v1` Lease ([`crds::lease`]), so that only one of
//! several controller replicas reconciles.

pub use crds::lease::{decide, Decision, Held, LeaseLock};

/// Waits until the Lease is ours.
pub async fn acquire(lock: &LeaseLock) {
    let retry = lock.duration() / 3;
    loop {
        match lock.try_hold().await {
            Ok(Held::Acquired | Held::Renewed) => return,
            Ok(Held::No) => {}
            Err(e) => tracing::warn!(error = %e, "lease: cannot read or write the Lease"),
        }
        tokio::time::sleep(retry).await;
    }
}

/// Renews the Lease; returns when it was lost, or when renewals failed for two thirds of its
/// duration (before another replica may take it).
pub async fn hold(lock: &LeaseLock) {
    let period = lock.duration() / 3;
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(period).await;
        match lock.try_hold().await {
            Ok(Held::Acquired | Held::Renewed) => last_renewal = tokio::time::Instant::now(),
            Ok(Held::No) => return,
            Err(e) => tracing::warn!(error = %e, "lease: renewal failed"),
        }
        if last_renewal.elapsed() >= lock.duration() * 2 / 3 {
            return;
        }
    }
}
