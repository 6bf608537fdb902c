//! Writes the connector's part of its own `MnoConnection` status (`status.session`,
//! `status.binds`, `status.bindsReady`, `status.activePod`: a [`ConnectorStatus`]) by
//! server-side apply under the field manager [`FIELD_MANAGER`], only when it changed.
//!
//! The controller owns the rest of the status (observedGeneration, conditions) under its own
//! field manager, so neither writer overwrites the other. Enabled by
//! [`StatusWriterConfig::enabled`] (the controller turns it on inside Kubernetes).

use std::time::Duration;

use crds::config::StatusWriterConfig;
use crds::{ConnectorStatus, MnoConnection};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde_json::json;
use tokio::sync::watch;

/// Field manager of the connector's status writes.
pub const FIELD_MANAGER: &str = "smpp-connector";
/// First delay before retrying a failed write.
const RETRY_INITIAL: Duration = Duration::from_secs(1);
/// Largest delay between retries of a failed write.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Why the status could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StatusWriteError {
    /// No in-cluster (or kubeconfig) client could be built.
    #[error("no Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    /// The API server refused or failed the patch.
    #[error("patching the status of {namespace}/{name}: {source}")]
    Patch {
        /// Namespace of the MnoConnection.
        namespace: String,
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Writer of the connector's part of the status of one MnoConnection.
pub struct StatusWriter {
    api: Api<MnoConnection>,
    namespace: String,
    name: String,
    last_written: Option<ConnectorStatus>,
}

impl StatusWriter {
    /// A writer using `client`; `None` when the configuration disables it.
    pub fn new(client: Client, config: &StatusWriterConfig) -> Option<Self> {
        if !config.enabled {
            return None;
        }
        Some(Self {
            api: Api::namespaced(client, &config.namespace),
            namespace: config.namespace.clone(),
            name: config.name.clone(),
            last_written: None,
        })
    }

    /// A writer with the in-cluster client; `Ok(None)` when disabled (no client is built).
    pub async fn from_config(
        config: &StatusWriterConfig,
    ) -> Result<Option<Self>, StatusWriteError> {
        if !config.enabled {
            return Ok(None);
        }
        let client = Client::try_default()
            .await
            .map_err(StatusWriteError::Client)?;
        Ok(Self::new(client, config))
    }

    /// Writes `status` unless it equals what was last written; `Ok(true)` when written.
    pub async fn write(&mut self, status: &ConnectorStatus) -> Result<bool, StatusWriteError> {
        if self.last_written.as_ref() == Some(status) {
            return Ok(false);
        }
        let patch = json!({
            "apiVersion": MnoConnection::api_version(&()),
            "kind": MnoConnection::kind(&()),
            "status": status,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.api
            .patch_status(&self.name, &params, &Patch::Apply(&patch))
            .await
            .map_err(|source| StatusWriteError::Patch {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                source,
            })?;
        self.last_written = Some(status.clone());
        Ok(true)
    }

    /// Writes every new status published on `states` until the sender is dropped, retrying
    /// failed writes with backoff (a newer status replaces the one being retried).
    pub async fn run(mut self, mut states: watch::Receiver<Option<ConnectorStatus>>) {
        let mut delay = RETRY_INITIAL;
        loop {
            let current = states.borrow_and_update().clone();
            if let Some(status) = current {
                match self.write(&status).await {
                    Ok(_) => delay = RETRY_INITIAL,
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?delay, "cannot write the session status");
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            changed = states.changed() => if changed.is_err() { return },
                        }
                        delay = (delay * 2).min(RETRY_MAX);
                        continue;
                    }
                }
            }
            if states.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::render::EndpointRole;
    use crds::status::{
        ActiveEndpoint, BindSlotStatus, BindState, BindStatus, EndpointState, EndpointStatus,
    };
    use crds::SessionStatus;
    use http::{Method, Request, Response};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::client::Body;
    use serde_json::Value;
    use tower_test::mock::Handle;

    fn config(enabled: bool) -> StatusWriterConfig {
        StatusWriterConfig {
            enabled,
            namespace: "sms".into(),
            name: "mtn-gh".into(),
        }
    }

    fn session(state: BindState) -> ConnectorStatus {
        let up = state == BindState::Bound;
        let bind = |index: u32, bound: bool| BindStatus {
            index,
            pod: "mtn-gh-connector-1".into(),
            endpoint: EndpointRole::Primary,
            state: if bound {
                BindSlotStatus::Bound
            } else {
                BindSlotStatus::Refused
            },
            mode: None,
            since: Time(k8s_openapi::jiff::Timestamp::from_second(1_764_000_000).expect("time")),
            window_in_use: 0,
            last_error: None,
        };
        ConnectorStatus {
            session: session_part(state),
            binds: vec![bind(0, up), bind(1, false)],
            binds_ready: if up { "1/2" } else { "0/2" }.into(),
            active_pod: "mtn-gh-connector-1".into(),
        }
    }

    fn session_part(state: BindState) -> SessionStatus {
        SessionStatus {
            bind_state: state,
            active_endpoint: if state == BindState::Bound {
                ActiveEndpoint::Primary
            } else {
                ActiveEndpoint::None
            },
            primary: EndpointStatus {
                address: "smsc1:2775".into(),
                state: if state == BindState::Bound {
                    EndpointState::Bound
                } else {
                    EndpointState::Failed
                },
                last_error: None,
                consecutive_failures: 0,
                bound_since: None,
            },
            backup: None,
            last_failover_time: None,
            last_failback_time: None,
            connector_pod: Some("mtn-gh-connector-1".into()),
            connector_ready: state == BindState::Bound,
            slow_down: None,
            reconnects_last_hour: 0,
            submits_last_minute: 0,
        }
    }

    type MockHandle = Handle<Request<Body>, Response<Body>>;

    fn writer() -> (StatusWriter, MockHandle) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        let writer = StatusWriter::new(client, &config(true)).expect("enabled");
        (writer, handle)
    }

    /// Answers the next request with `code` and returns what it was.
    async fn answer(handle: &mut MockHandle, code: u16) -> (Method, String, Value) {
        let (request, send) = handle.next_request().await.expect("a request");
        let method = request.method().clone();
        let uri = request.uri().to_string();
        let bytes = request.into_body().collect_bytes().await.expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("JSON body");
        let reply = if code == 200 {
            json!({"apiVersion": "smpp.ghasi.io/v1alpha1", "kind": "MnoConnection",
                   "metadata": {"name": "mtn-gh", "namespace": "sms"},
                   "spec": {"operatorId": "mtn-gh", "primary": {"host": "smsc1", "port": 2775}},
                   "status": body["status"].clone()})
        } else {
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": "Conflict", "message": "injected"})
        };
        let response = Response::builder()
            .status(code)
            .body(Body::from(serde_json::to_vec(&reply).expect("reply")))
            .expect("response");
        send.send_response(response);
        (method, uri, body)
    }

    #[tokio::test]
    async fn disabled_writer_is_none() {
        let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        assert!(StatusWriter::new(client, &config(false)).is_none());
        let from_config = StatusWriter::from_config(&config(false)).await;
        assert!(
            matches!(from_config, Ok(None)),
            "no client is built when disabled"
        );
    }

    #[tokio::test]
    async fn writes_the_session_by_server_side_apply_only_when_it_changes() {
        let (mut writer, mut handle) = writer();
        let server = tokio::spawn(async move {
            let first = answer(&mut handle, 200).await;
            let second = answer(&mut handle, 200).await;
            (first, second, handle)
        });
        assert!(writer
            .write(&session(BindState::Bound))
            .await
            .expect("written"));
        assert!(
            !writer
                .write(&session(BindState::Bound))
                .await
                .expect("same state"),
            "no write when unchanged"
        );
        assert!(writer
            .write(&session(BindState::Unbound))
            .await
            .expect("written"));
        let ((method, uri, body), (_, _, second), _handle) = server.await.expect("server");
        assert_eq!(method, Method::PATCH);
        assert!(
            uri.starts_with(
                "/apis/smpp.ghasi.io/v1alpha1/namespaces/sms/mnoconnections/mtn-gh/status?"
            ),
            "{uri}"
        );
        assert!(uri.contains("fieldManager=smpp-connector"), "{uri}");
        assert!(uri.contains("force=true"), "{uri}");
        assert_eq!(body["kind"], "MnoConnection");
        assert_eq!(body["status"]["session"]["bindState"], "BOUND");
        assert_eq!(body["status"]["session"]["activeEndpoint"], "primary");
        let mut keys: Vec<&String> = body["status"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(
            keys,
            ["activePod", "binds", "bindsReady", "session"],
            "only the connector's part"
        );
        assert_eq!(body["status"]["bindsReady"], "1/2");
        assert_eq!(body["status"]["activePod"], "mtn-gh-connector-1");
        assert_eq!(body["status"]["binds"][0]["state"], "bound");
        assert_eq!(body["status"]["binds"][1]["state"], "refused");
        assert_eq!(body["status"]["binds"][0]["endpoint"], "primary");
        assert_eq!(body["status"]["binds"][0]["pod"], "mtn-gh-connector-1");
        assert_eq!(second["status"]["session"]["bindState"], "UNBOUND");
        assert_eq!(second["status"]["bindsReady"], "0/2");
    }

    #[tokio::test]
    async fn a_failed_write_is_not_remembered() {
        let (mut writer, mut handle) = writer();
        let server = tokio::spawn(async move {
            answer(&mut handle, 500).await;
            answer(&mut handle, 200).await;
        });
        let err = writer
            .write(&session(BindState::Bound))
            .await
            .expect_err("500");
        assert!(err.to_string().contains("sms/mtn-gh"), "{err}");
        assert!(writer
            .write(&session(BindState::Bound))
            .await
            .expect("retried"));
        server.await.expect("server");
    }

    #[tokio::test(start_paused = true)]
    async fn run_writes_each_new_state_and_retries_failures() {
        let (writer, mut handle) = writer();
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(writer.run(rx));
        tx.send_replace(Some(session(BindState::Bound)));
        let (_, _, body) = answer(&mut handle, 500).await;
        assert_eq!(body["status"]["session"]["bindState"], "BOUND");
        let (_, _, body) = answer(&mut handle, 200).await;
        assert_eq!(
            body["status"]["session"]["bindState"], "BOUND",
            "retried after the backoff"
        );
        tx.send_replace(Some(session(BindState::Unbound)));
        let (_, _, body) = answer(&mut handle, 200).await;
        assert_eq!(body["status"]["session"]["bindState"], "UNBOUND");
        drop(tx);
        task.await.expect("run ends when the sender is dropped");
    }
}
