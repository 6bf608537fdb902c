//! SMPP credentials and the provider the engine asks for them before every bind.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::session::state::EndpointRole;

/// What a bind needs to identify the ESME. The password is redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmppCredentials {
    /// system_id (at most 15 characters).
    pub system_id: String,
    /// password (at most 8 characters).
    pub password: String,
    /// system_type; the configured `bind.systemType` when `None`.
    pub system_type: Option<String>,
}

impl fmt::Debug for SmppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmppCredentials")
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .finish()
    }
}

/// Credentials could not be obtained.
#[derive(Clone, Debug, thiserror::Error)]
#[error("credentials unavailable: {0}")]
pub struct CredentialsError(pub String);

/// Where the engine gets credentials. Implemented by `connector::pipeline::credentials`; tests use
/// [`StaticCredentials`].
pub trait CredentialsProvider: Send + Sync + 'static {
    /// The credentials for binding to `endpoint`.
    fn credentials(
        &self,
        endpoint: EndpointRole,
    ) -> BoxFuture<'_, Result<SmppCredentials, CredentialsError>>;

    /// The SMSC refused the credentials of `endpoint`: fetch them again before the next
    /// bind (the engine then waits the slower credentials backoff).
    fn refresh(&self, endpoint: EndpointRole) -> BoxFuture<'_, Result<(), CredentialsError>>;
}

/// Fixed credentials, the same for both endpoints unless a backup set is given.
#[derive(Clone, Debug)]
pub struct StaticCredentials {
    primary: SmppCredentials,
    backup: Option<SmppCredentials>,
}

impl StaticCredentials {
    /// The same credentials for every endpoint.
    pub fn new(credentials: SmppCredentials) -> Arc<Self> {
        Arc::new(Self {
            primary: credentials,
            backup: None,
        })
    }

    /// Separate credentials for the backup endpoint.
    pub fn with_backup(primary: SmppCredentials, backup: SmppCredentials) -> Arc<Self> {
        Arc::new(Self {
            primary,
            backup: Some(backup),
        })
    }
}

impl CredentialsProvider for StaticCredentials {
    fn credentials(
        &self,
        endpoint: EndpointRole,
    ) -> BoxFuture<'_, Result<SmppCredentials, CredentialsError>> {
        let c = match (endpoint, &self.backup) {
            (EndpointRole::Backup, Some(b)) => b.clone(),
            _ => self.primary.clone(),
        };
        Box::pin(async move { Ok(c) })
    }

    fn refresh(&self, _endpoint: EndpointRole) -> BoxFuture<'_, Result<(), CredentialsError>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password() {
        let c = SmppCredentials {
            system_id: "esme".into(),
            password: "s3cret".into(),
            system_type: None,
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("esme"));
        assert!(!shown.contains("s3cret"));
    }
}
