//! State shared by every reconcile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crds::MnoConnection;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::Client;

use crate::image_policy::ImagePolicy;
use crate::metrics::Metrics;
use crate::network_policy;

/// Clock used for condition transition times (replaceable in tests).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Everything a reconcile needs.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Image of connectors that do not name one.
    pub default_image: String,
    /// The images connectors may run.
    pub image_policy: ImagePolicy,
    /// Settings of the connectors' NetworkPolicies; none created when absent.
    pub network_policy: Option<network_policy::Settings>,
    /// Every watched MnoConnection (the controller's reflector), to find duplicates; no
    /// duplicate check without it.
    pub peers: Option<Store<MnoConnection>>,
    /// Publishes events on MnoConnections.
    pub recorder: Recorder,
    /// At most one event per object and reason per minute.
    pub events: crate::events::EventGate,
    /// Controller metrics.
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per object (`namespace/name`), for the retry backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Now.
    pub clock: Clock,
}

/// First retry delay after a failed reconcile.
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Largest retry delay after failed reconciles.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

impl Context {
    /// A context publishing events as `reporter`, using the wall clock.
    pub fn new(
        client: Client,
        default_image: &str,
        reporter: Reporter,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self::with_clock(
            client,
            default_image,
            reporter,
            metrics,
            Arc::new(Timestamp::now),
        )
    }

    /// A context with its own clock.
    pub fn with_clock(
        client: Client,
        default_image: &str,
        reporter: Reporter,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Self {
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            events: crate::events::EventGate::default(),
            client,
            default_image: default_image.to_string(),
            image_policy: ImagePolicy::or_default_image::<&str>(&[], default_image)
                .unwrap_or_else(|_| ImagePolicy::deny_all()),
            peers: None,
            network_policy: None,
            metrics,
            failures: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// The context with another image allow-list (the default image's repository otherwise).
    pub fn with_image_policy(mut self, policy: ImagePolicy) -> Self {
        self.image_policy = policy;
        self
    }

    /// The context creating a NetworkPolicy for each connector.
    pub fn with_network_policy(mut self, settings: network_policy::Settings) -> Self {
        self.network_policy = Some(settings);
        self
    }

    /// The context with the store of every watched MnoConnection.
    pub fn with_peers(mut self, store: Store<MnoConnection>) -> Self {
        self.peers = Some(store);
        self
    }

    /// Records a failure of `key` and returns the delay before its retry (doubling, capped).
    pub fn next_backoff(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        BACKOFF_INITIAL.saturating_mul(factor).min(BACKOFF_MAX)
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn reset_backoff(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(key);
    }
}
