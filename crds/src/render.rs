//! From an `MnoConnection` to the connector's configuration file: a pure function shared by the
//! controller (which writes it into a ConfigMap) and tests.

use kube::ResourceExt;

use crate::config::{
    defaults, ConnectorConfig, CredentialsSource, Endpoint, HttpConfig, LeaseBackend, LeaseConfig,
    LogFormat, LoggingConfig, SessionConfig, StatusWriterConfig, TlsConfig,
};
use crate::mno::{EndpointSpec, MnoConnection};

/// Where the connector pod finds its files; the controller mounts them there.
pub mod paths {
    /// Directory of the ConfigMap volume.
    pub const CONFIG_DIR: &str = "/etc/smpp-connector/config";
    /// Key of the configuration file in the ConfigMap.
    pub const CONFIG_KEY: &str = "config.yaml";
    /// Full path of the configuration file.
    pub const CONFIG_FILE: &str = "/etc/smpp-connector/config/config.yaml";
    /// Directory where a credentials Secret is mounted.
    pub const CREDENTIALS_DIR: &str = "/etc/smpp-connector/credentials";
    /// Directory under which the TLS Secret of an endpoint is mounted (`{dir}/{endpoint}`).
    pub const TLS_DIR: &str = "/etc/smpp-connector/tls";
    /// Port of the connector's HTTP server (`/health`, `/ready`, `/metrics`).
    pub const HTTP_PORT: u16 = 8080;
}

/// Which endpoint: the primary or the backup SMSC (of a TLS mount here; the connector's
/// session, its events and credentials use the same type, spelt `primary` / `backup`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EndpointRole {
    /// The primary endpoint.
    Primary,
    /// The backup endpoint.
    Backup,
}

impl EndpointRole {
    /// `primary` or `backup`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointRole::Primary => "primary",
            EndpointRole::Backup => "backup",
        }
    }

    /// The endpoint a spelling of [`EndpointRole::as_str`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "primary" => Some(EndpointRole::Primary),
            "backup" => Some(EndpointRole::Backup),
            _ => None,
        }
    }

    /// Directory where this endpoint's TLS Secret is mounted.
    pub fn tls_dir(self) -> String {
        format!("{}/{}", paths::TLS_DIR, self.as_str())
    }
}

/// Why a resource cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// The resource has no namespace (it is namespaced).
    #[error("the MnoConnection has no namespace")]
    MissingNamespace,
    /// The rendered configuration breaks a rule of the connector.
    #[error("invalid spec: {0}")]
    Invalid(String),
}

/// Renders the connector configuration of `mno` and checks it with
/// [`ConnectorConfig::validate`].
pub fn render_config(mno: &MnoConnection) -> Result<ConnectorConfig, RenderError> {
    let namespace = mno.namespace().ok_or(RenderError::MissingNamespace)?;
    let spec = &mno.spec;
    let credentials = match (
        &spec.credentials.secret_ref,
        &spec.credentials.operator_management,
    ) {
        (Some(secret), _) => CredentialsSource::File {
            path: format!("{}/{}", paths::CREDENTIALS_DIR, secret.key),
        },
        (None, Some(om)) => CredentialsSource::OperatorManagement {
            base_url: om.base_url.clone(),
            token_file: defaults::token_file(),
            timeout_ms: om.timeout_ms,
        },
        (None, None) => {
            let om = crate::mno::OperatorManagementSpec::default();
            CredentialsSource::OperatorManagement {
                base_url: om.base_url,
                token_file: defaults::token_file(),
                timeout_ms: om.timeout_ms,
            }
        }
    };
    let lease = lease(mno, &namespace);
    let config = ConnectorConfig {
        operator_id: spec.operator_id.clone(),
        primary: endpoint(&spec.primary, EndpointRole::Primary),
        backup: spec
            .backup
            .as_ref()
            .map(|b| endpoint(b, EndpointRole::Backup)),
        bind: spec.bind.clone(),
        session: SessionConfig {
            binds: spec.binds,
            ..spec.session.clone()
        },
        failover: spec.failover.clone(),
        throttle: spec.throttle.clone(),
        retry: spec.retry.clone(),
        encoding: spec.encoding.clone(),
        receipts: spec.receipts.clone(),
        credentials,
        nats: spec.nats.clone(),
        redis: spec.redis.clone(),
        postgres: spec.postgres.clone(),
        http: HttpConfig {
            address: format!("0.0.0.0:{}", paths::HTTP_PORT),
        },
        status_writer: StatusWriterConfig {
            enabled: true,
            namespace,
            name: mno.name_any(),
        },
        lease,
        logging: LoggingConfig {
            format: LogFormat::Json,
            level: spec.connector.log_level.clone(),
        },
        tracing: spec.tracing.clone(),
    };
    let problems = config.validate();
    if problems.is_empty() {
        Ok(config)
    } else {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Err(RenderError::Invalid(text.join("; ")))
    }
}

/// Name of the Lease that the two replicas of `mno` share: `{name}-connector`, like the
/// other children (the controller grants the connector exactly this Lease).
pub fn lease_name(mno: &MnoConnection) -> String {
    format!("{}-connector", mno.name_any())
}

/// A Kubernetes Lease in the resource's namespace, each pod identified by its `POD_NAME`,
/// whatever `spec.replicas` says: with one replica too, so that a change to two replicas finds
/// the running pod holding the Lease (the new pods come up standby) and a pod being replaced
/// never binds beside its successor.
fn lease(mno: &MnoConnection, namespace: &str) -> LeaseConfig {
    LeaseConfig {
        backend: LeaseBackend::Kubernetes,
        name: lease_name(mno),
        namespace: namespace.to_string(),
        ..LeaseConfig::default()
    }
}

fn endpoint(spec: &EndpointSpec, role: EndpointRole) -> Endpoint {
    let tls = spec.tls.as_ref().filter(|t| t.enabled).map(|t| {
        let dir = role.tls_dir();
        let (cert_file, key_file) = if t.secret_name.is_some() && t.client_certificate {
            (
                Some(format!("{dir}/tls.crt")),
                Some(format!("{dir}/tls.key")),
            )
        } else {
            (None, None)
        };
        TlsConfig {
            enabled: true,
            ca_file: t.secret_name.as_ref().map(|_| format!("{dir}/ca.crt")),
            cert_file,
            key_file,
            server_name: t.server_name.clone(),
        }
    });
    Endpoint {
        host: spec.host.clone(),
        port: spec.port,
        tls,
        local_address: spec.local_address.clone(),
    }
}
