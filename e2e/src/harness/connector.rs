//! A connector run in-process, and its HTTP endpoints.

use std::time::Duration;

use crds::ConnectorConfig;

use super::env::eventually;

/// A connector run in-process on a runtime of its own.
pub struct Connector {
    runtime: Option<tokio::runtime::Runtime>,
    join: Option<tokio::task::JoinHandle<Result<(), connector::service::ServiceError>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    http: String,
    http_client: reqwest::Client,
}

impl Connector {
    /// Starts `connector::service::run(config)`; panics when no runtime can be built.
    pub fn start(config: ConnectorConfig) -> Self {
        match Self::try_start(config) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts `connector::service::run(config)`, or says why no runtime could be built.
    pub fn try_start(config: ConnectorConfig) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("connector-under-test")
            .enable_all()
            .build()
            .map_err(|e| format!("connector runtime: {e}"))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let http = format!("http://{}", config.http.address);
        let join = runtime.spawn(connector::service::run(config, async move {
            let _ = rx.await;
        }));
        Ok(Self {
            runtime: Some(runtime),
            join: Some(join),
            stop: Some(tx),
            http,
            http_client: reqwest::Client::new(),
        })
    }

    /// Tasks alive on the connector's runtime now (its own tasks: the caller runs on another).
    pub fn alive_tasks(&self) -> Option<usize> {
        self.runtime.as_ref().map(|r| r.metrics().num_alive_tasks())
    }

    /// A handle to the connector's runtime (for a sampler).
    pub fn runtime_handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// Starts it and waits until `/ready` answers 200; panics with what `run` returned if it
    /// does not within `timeout`.
    pub async fn start_ready(config: ConnectorConfig, timeout: Duration) -> Self {
        let connector = Self::start(config);
        if !connector.wait_ready(timeout).await {
            panic!("connector not ready: {:?}", connector.stop().await);
        }
        connector
    }

    /// Base URL of its HTTP endpoints.
    pub fn http(&self) -> &str {
        &self.http
    }

    /// Whether `run` already returned (an error at start, for example).
    pub fn finished(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }

    /// Waits until `/ready` answers 200.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let url = format!("{}/ready", self.http);
        eventually(timeout, || async {
            match self.http_client.get(&url).send().await {
                Ok(r) if r.status().is_success() => Some(()),
                _ => None,
            }
        })
        .await
        .is_some()
    }

    /// GET a path of its HTTP server: status and body.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = self
            .http_client
            .get(format!("{}{path}", self.http))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// Sum of the samples of a metric family whose labels contain `label_filter` (all when
    /// empty).
    pub async fn metric(&self, name: &str, label_filter: &str) -> f64 {
        let Some((_, body)) = self.get("/metrics").await else {
            return f64::NAN;
        };
        metric_sum(&body, name, label_filter)
    }

    /// Graceful stop (the SIGTERM path); returns what `run` returned.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let r = match self.join.take() {
            Some(j) => match tokio::time::timeout(Duration::from_secs(20), j).await {
                Ok(Ok(r)) => r.map_err(|e| e.to_string()),
                Ok(Err(e)) => Err(format!("connector task: {e}")),
                Err(_) => Err("connector did not stop within 20 s".into()),
            },
            None => Ok(()),
        };
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        r
    }

    /// A crash: every task of the connector is dropped at once, nothing is flushed,
    /// acknowledged or unbound; its sockets close.
    pub fn crash(mut self) {
        self.stop.take();
        self.join.take();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Sum of the samples of `name` (exact family name or `name` plus `_total`/`_count`
/// suffix-free match) in Prometheus text whose label set contains `label_filter`.
pub fn metric_sum(body: &str, name: &str, label_filter: &str) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, labels) = match series.split_once('{') {
                Some((m, rest)) => (m, rest),
                None => (series, ""),
            };
            (metric == name && labels.contains(label_filter))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}
