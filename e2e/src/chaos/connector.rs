//! The connector under test, in-process on a runtime of its own (as `harness::Connector`), with
//! that runtime's metrics exposed for the soak (alive tasks).

use std::time::Duration;

use crds::ConnectorConfig;

use crate::harness::{eventually, metric_sum};

/// A connector run on its own multi-thread runtime; dropping the runtime is a crash.
pub struct Connector {
    runtime: Option<tokio::runtime::Runtime>,
    join: Option<tokio::task::JoinHandle<Result<(), connector::service::ServiceError>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    http: String,
    http_client: reqwest::Client,
}

impl Connector {
    /// Starts `connector::service::run(config)`.
    pub fn start(config: ConnectorConfig) -> Result<Self, String> {
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

    /// Tasks alive on the connector's runtime now (its own tasks: the suite runs on another).
    pub fn alive_tasks(&self) -> Option<usize> {
        self.runtime.as_ref().map(|r| r.metrics().num_alive_tasks())
    }

    /// A handle to the connector's runtime (for a sampler).
    pub fn runtime_handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
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

    /// Sum of a metric family's samples whose labels contain `label_filter` (NaN: no answer).
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
