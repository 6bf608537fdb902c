//! SMPP credentials (contract §4): from operator-management-service's internal API, or from a
//! file of the same JSON shape. Kept in memory only; passwords are redacted in `Debug` and never
//! logged.
//!
//! API answers: 200 → credentials, checked against the schema's limits (and, as SMPP needs,
//! ASCII without NUL); 401/403 → [`CredentialsError::Unauthorized`]; 404 →
//! [`CredentialsError::UnknownOperator`] (both retried slowly); 5xx, timeouts and transport
//! errors → retried with exponential backoff. [`CredentialsStore::refresh`] fetches again, for
//! a bind refused with ESME_RINVPASWD / ESME_RINVSYSID (rotation).

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crds::config::CredentialsSource;
use serde::Deserialize;

use crate::pipeline::events::EndpointRole;

/// A secret string: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, to put into a bind PDU.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What one bind needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindCredentials {
    /// system_id (1 to 15 characters).
    pub system_id: String,
    /// password (at most 8 characters).
    pub password: Secret,
    /// system_type, when the service gives one (at most 12 characters).
    pub system_type: Option<String>,
}

/// Credentials of the primary endpoint, and of the backup when it uses others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// For the primary endpoint (and the backup when `backup` is absent).
    pub primary: BindCredentials,
    /// For the backup endpoint.
    pub backup: Option<BindCredentials>,
}

impl Credentials {
    /// The credentials to bind to `endpoint` with.
    pub fn for_endpoint(&self, endpoint: EndpointRole) -> &BindCredentials {
        match (endpoint, &self.backup) {
            (EndpointRole::Backup, Some(b)) => b,
            _ => &self.primary,
        }
    }

    /// Parses and checks a body of `credentials-response.schema.json`.
    pub fn from_json(body: &[u8]) -> Result<Self, CredentialsError> {
        let wire = parse_wire(body)?;
        Ok(Self {
            primary: wire.main.check("")?,
            backup: wire.backup.map(|b| b.check("backup.")).transpose()?,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBind {
    system_id: String,
    password: String,
    #[serde(default)]
    system_type: Option<String>,
}

#[derive(Deserialize)]
struct WireCredentials {
    #[serde(flatten)]
    main: WireBind,
    #[serde(default)]
    backup: Option<WireBind>,
}

/// Parses a body into [`WireCredentials`]. serde's data errors quote the offending value (a
/// numeric password, say), so shapes are checked first and reported by field name only.
fn parse_wire(body: &[u8]) -> Result<WireCredentials, CredentialsError> {
    // Syntax errors name a line and column, never a value.
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| CredentialsError::Invalid(format!("not JSON: {e}")))?;
    if let Some(problem) = shape_problem(&value, "") {
        return Err(CredentialsError::Invalid(problem));
    }
    match value.get("backup") {
        None | Some(serde_json::Value::Null) => {}
        Some(backup) => {
            if let Some(problem) = shape_problem(backup, "backup.") {
                return Err(CredentialsError::Invalid(problem));
            }
        }
    }
    serde_json::from_value(value).map_err(|_| {
        CredentialsError::Invalid("not the shape of credentials-response.schema.json".into())
    })
}

/// The first field of one bind object that is missing or not a string, by name.
fn shape_problem(value: &serde_json::Value, path: &str) -> Option<String> {
    let Some(object) = value.as_object() else {
        let what = if path.is_empty() {
            "the body"
        } else {
            "backup"
        };
        return Some(format!("{what} must be a JSON object"));
    };
    for (field, required) in [
        ("systemId", true),
        ("password", true),
        ("systemType", false),
    ] {
        match object.get(field) {
            None if required => return Some(format!("{path}{field} is missing")),
            None | Some(serde_json::Value::String(_)) => {}
            Some(serde_json::Value::Null) if !required => {}
            Some(_) => return Some(format!("{path}{field} must be a string")),
        }
    }
    None
}

fn check_field(
    path: &str,
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), CredentialsError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(CredentialsError::Invalid(format!(
            "{path}{field} must have {min} to {max} characters, has {n}"
        )));
    }
    if !value.bytes().all(|b| b.is_ascii() && b != 0) {
        return Err(CredentialsError::Invalid(format!(
            "{path}{field} must be ASCII without NUL (SMPP C-Octet String)"
        )));
    }
    Ok(())
}

impl WireBind {
    fn check(self, path: &str) -> Result<BindCredentials, CredentialsError> {
        check_field(path, "systemId", &self.system_id, 1, 15)?;
        check_field(path, "password", &self.password, 0, 8)?;
        if let Some(t) = &self.system_type {
            check_field(path, "systemType", t, 0, 12)?;
        }
        Ok(BindCredentials {
            system_id: self.system_id,
            password: Secret(self.password),
            system_type: self.system_type.filter(|t| !t.is_empty()),
        })
    }
}

/// Why credentials could not be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// 401 / 403: our token is refused.
    #[error("operator-management-service refused our token (HTTP {0})")]
    Unauthorized(u16),
    /// 404: the service does not know the operator.
    #[error("operator-management-service does not know this operator (HTTP 404)")]
    UnknownOperator,
    /// 5xx.
    #[error("operator-management-service failed (HTTP {0})")]
    Server(u16),
    /// Another unexpected status.
    #[error("unexpected HTTP status {0} from operator-management-service")]
    UnexpectedStatus(u16),
    /// No answer in time.
    #[error("operator-management-service did not answer in time")]
    Timeout,
    /// Connection failed.
    #[error("cannot reach operator-management-service: {0}")]
    Transport(String),
    /// The body breaks the contract.
    #[error("invalid credentials: {0}")]
    Invalid(String),
    /// The bearer token file cannot be read.
    #[error("cannot read the token file {path}: {message}")]
    TokenFile {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The credentials file cannot be read.
    #[error("cannot read the credentials file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

impl CredentialsError {
    /// Whether the failure is transient (retried with backoff) rather than one that needs a
    /// person (retried slowly).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Server(_) | Self::Timeout | Self::Transport(_))
    }
}

/// Delays between attempts.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// First delay after a transient failure (doubles up to `max`).
    pub initial: Duration,
    /// Largest delay after transient failures.
    pub max: Duration,
    /// Delay after a failure that needs a person (401/403/404, invalid body, missing file).
    pub slow: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            slow: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The delay after failure number `attempt` (1-based) of kind `error`.
    pub fn delay(&self, attempt: u32, error: &CredentialsError) -> Duration {
        if error.is_transient() {
            let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
            self.initial.saturating_mul(factor).min(self.max)
        } else {
            self.slow
        }
    }
}

enum Source {
    Api {
        client: reqwest::Client,
        url: String,
        token_file: PathBuf,
    },
    File {
        path: PathBuf,
    },
}

/// Fetches credentials from the configured source and keeps the last good ones in memory.
pub struct CredentialsStore {
    source: Source,
    policy: RetryPolicy,
    current: Mutex<Option<Arc<Credentials>>>,
    last_error: Mutex<Option<CredentialsError>>,
}

impl CredentialsStore {
    /// The store of the configuration's operator and `credentials` section, retried at the
    /// `session.credentialsBackoffSeconds` pace once the fast retries are spent.
    pub fn from_config(c: &crds::ConnectorConfig) -> Result<Self, CredentialsError> {
        Self::new(
            &c.operator_id,
            &c.credentials,
            RetryPolicy {
                slow: Duration::from_secs(c.session.credentials_backoff_seconds.max(1)),
                ..RetryPolicy::default()
            },
        )
    }

    /// A store for `operator_id` from the configuration's `credentials` section.
    pub fn new(
        operator_id: &str,
        source: &CredentialsSource,
        policy: RetryPolicy,
    ) -> Result<Self, CredentialsError> {
        let source = match source {
            CredentialsSource::OperatorManagement {
                base_url,
                token_file,
                timeout_ms,
            } => Source::Api {
                client: reqwest::Client::builder()
                    .timeout(Duration::from_millis((*timeout_ms).max(1)))
                    .build()
                    .map_err(|e| CredentialsError::Transport(e.to_string()))?,
                url: format!(
                    "{}/internal/v1/operators/{operator_id}/smpp-credentials",
                    base_url.trim_end_matches('/')
                ),
                token_file: PathBuf::from(token_file),
            },
            CredentialsSource::File { path } => Source::File {
                path: PathBuf::from(path),
            },
        };
        Ok(Self {
            source,
            policy,
            current: Mutex::new(None),
            last_error: Mutex::new(None),
        })
    }

    /// One attempt at the source, no retry.
    pub async fn fetch_once(&self) -> Result<Credentials, CredentialsError> {
        match &self.source {
            Source::File { path } => {
                let body = tokio::fs::read(path)
                    .await
                    .map_err(|e| CredentialsError::File {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?;
                Credentials::from_json(&body)
            }
            Source::Api {
                client,
                url,
                token_file,
            } => {
                let token = tokio::fs::read_to_string(token_file).await.map_err(|e| {
                    CredentialsError::TokenFile {
                        path: token_file.display().to_string(),
                        message: e.to_string(),
                    }
                })?;
                let resp = client
                    .get(url)
                    .bearer_auth(token.trim())
                    .send()
                    .await
                    .map_err(transport_error)?;
                let status = resp.status().as_u16();
                match status {
                    200 => {
                        let body = resp.bytes().await.map_err(transport_error)?;
                        Credentials::from_json(&body)
                    }
                    401 | 403 => Err(CredentialsError::Unauthorized(status)),
                    404 => Err(CredentialsError::UnknownOperator),
                    500..=599 => Err(CredentialsError::Server(status)),
                    _ => Err(CredentialsError::UnexpectedStatus(status)),
                }
            }
        }
    }

    /// Fetches until it succeeds, waiting per the [`RetryPolicy`] between attempts, and keeps
    /// the result. Failures are logged (without secrets) and kept for [`Self::last_error`].
    pub async fn refresh(&self) -> Arc<Credentials> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.fetch_once().await {
                Ok(c) => {
                    let c = Arc::new(c);
                    if let Ok(mut cur) = self.current.lock() {
                        *cur = Some(c.clone());
                    }
                    if let Ok(mut e) = self.last_error.lock() {
                        *e = None;
                    }
                    tracing::info!(system_id = %c.primary.system_id, "SMPP credentials loaded");
                    return c;
                }
                Err(e) => {
                    let delay = self.policy.delay(attempt, &e);
                    tracing::warn!(error = %e, attempt, retry_in_ms = delay.as_millis() as u64, "cannot get SMPP credentials");
                    if let Ok(mut last) = self.last_error.lock() {
                        *last = Some(e);
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// The kept credentials, fetching them first when there are none.
    pub async fn get(&self) -> Arc<Credentials> {
        let cached = self.current.lock().ok().and_then(|c| c.clone());
        match cached {
            Some(c) => c,
            None => self.refresh().await,
        }
    }

    /// The last failure since the last success.
    pub fn last_error(&self) -> Option<CredentialsError> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}

impl CredentialsStore {
    /// The kept credentials, or one attempt to fetch them (for the session engine, which
    /// retries with its own backoff).
    pub async fn try_get(&self) -> Result<Arc<Credentials>, CredentialsError> {
        let cached = self.current.lock().ok().and_then(|c| c.clone());
        match cached {
            Some(c) => Ok(c),
            None => self.try_refresh().await,
        }
    }

    /// One attempt to fetch new credentials; kept on success, reported on failure.
    pub async fn try_refresh(&self) -> Result<Arc<Credentials>, CredentialsError> {
        match self.fetch_once().await {
            Ok(c) => {
                let c = Arc::new(c);
                if let Ok(mut cur) = self.current.lock() {
                    *cur = Some(c.clone());
                }
                if let Ok(mut e) = self.last_error.lock() {
                    *e = None;
                }
                Ok(c)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot get SMPP credentials");
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(e.clone());
                }
                Err(e)
            }
        }
    }
}

impl crate::session::CredentialsProvider for CredentialsStore {
    fn credentials(
        &self,
        endpoint: EndpointRole,
    ) -> futures::future::BoxFuture<
        '_,
        Result<crate::session::SmppCredentials, crate::session::CredentialsError>,
    > {
        Box::pin(async move {
            let c = self
                .try_get()
                .await
                .map_err(|e| crate::session::CredentialsError(e.to_string()))?;
            let b = c.for_endpoint(endpoint);
            Ok(crate::session::SmppCredentials {
                system_id: b.system_id.clone(),
                password: b.password.expose().to_string(),
                system_type: b.system_type.clone(),
            })
        })
    }

    fn refresh(
        &self,
        _endpoint: EndpointRole,
    ) -> futures::future::BoxFuture<'_, Result<(), crate::session::CredentialsError>> {
        Box::pin(async move {
            self.try_refresh()
                .await
                .map(|_| ())
                .map_err(|e| crate::session::CredentialsError(e.to_string()))
        })
    }
}

fn transport_error(e: reqwest::Error) -> CredentialsError {
    if e.is_timeout() {
        CredentialsError::Timeout
    } else {
        // Without the URL: it may carry nothing secret, but keep messages short.
        CredentialsError::Transport(e.without_url().to_string())
    }
}

#[cfg(test)]
mod tests;
