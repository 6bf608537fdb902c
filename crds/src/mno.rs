//! The `MnoConnection` custom resource (`smpp.ghasi.io/v1alpha1`): one SMPP connection to one
//! mobile network operator, run by one connector pod.
//!
//! The spec reuses the connector's configuration sections of [`crate::config`] wherever a
//! section means the same in both places, so that the schema defaults and the connector's
//! defaults cannot drift apart.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements, Toleration};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{
    BindConfig, EncodingConfig, FailoverConfig, NatsConfig, PostgresConfig, ReceiptConfig,
    RedisConfig, RetryConfig, SessionConfig, ThrottleConfig, TracingConfig,
};
use crate::status::MnoConnectionStatus;

/// The annotation of a manual switch (`kubectl mno failover`): `backup` keeps the connector on
/// the backup endpoint until it is removed (`kubectl mno failback`), when the usual failback
/// (probe and hold time) brings it back to the primary.
pub const ENDPOINT_ANNOTATION: &str = "smpp.ghasi.io/endpoint";

/// Desired state of the connection to one mobile network operator.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "smpp.ghasi.io",
    version = "v1alpha1",
    kind = "MnoConnection",
    plural = "mnoconnections",
    shortname = "mno",
    category = "sms",
    namespaced,
    cel,
    status = "MnoConnectionStatus",
    derive = "PartialEq",
    doc = "An SMPP connection to one mobile network operator, run by one connector pod.",
    printcolumn = r#"{"name":"Operator", "type":"string", "jsonPath":".spec.operatorId", "description":"The platform's operator id"}"#,
    printcolumn = r#"{"name":"Ready", "type":"string", "jsonPath":".status.conditions[?(@.type==\"Ready\")].status", "description":"Whether the connector is bound"}"#,
    printcolumn = r#"{"name":"State", "type":"string", "jsonPath":".status.session.bindState", "description":"BOUND, FAILBACK or UNBOUND"}"#,
    printcolumn = r#"{"name":"Binds", "type":"string", "jsonPath":".status.bindsReady", "description":"Binds up / binds configured, for example 3/4"}"#,
    printcolumn = r#"{"name":"Endpoint", "type":"string", "jsonPath":".status.session.activeEndpoint", "description":"The endpoint in use"}"#,
    printcolumn = r#"{"name":"TPS", "type":"integer", "jsonPath":".spec.throttle.tps", "description":"Submits per second allowed"}"#,
    printcolumn = r#"{"name":"Age", "type":"date", "jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Primary", "type":"string", "jsonPath":".spec.primary.host", "priority":1, "description":"Primary SMSC host"}"#,
    printcolumn = r#"{"name":"Backup", "type":"string", "jsonPath":".spec.backup.host", "priority":1, "description":"Backup SMSC host"}"#,
    printcolumn = r#"{"name":"Active", "type":"string", "jsonPath":".status.activePod", "priority":1, "description":"The connector pod that holds the lease and binds"}"#,
    printcolumn = r#"{"name":"Message", "type":"string", "jsonPath":".status.conditions[?(@.type==\"Ready\")].message", "priority":1, "description":"The Ready condition's message"}"#
)]
#[x_kube(
    validation = Rule::new("!has(self.backup) || self.backup.host != self.primary.host || self.backup.port != self.primary.port").message("backup must differ from primary (host or port)").field_path(".backup"),
    validation = Rule::new("!has(self.session) || !has(self.session.window) || (self.session.window >= 1 && self.session.window <= 1024)").message("session.window must be between 1 and 1024").field_path(".session.window"),
    validation = Rule::new("!has(self.throttle) || !has(self.throttle.tps) || (self.throttle.tps >= 0 && self.throttle.tps <= 100000)").message("throttle.tps must be between 0 (no limit) and 100000").field_path(".throttle.tps"),
    validation = Rule::new("!has(self.session) || !has(self.session.reconnectMaxSeconds) || !has(self.session.reconnectInitialSeconds) || self.session.reconnectMaxSeconds >= self.session.reconnectInitialSeconds").message("session.reconnectMaxSeconds must be at least reconnectInitialSeconds").field_path(".session.reconnectMaxSeconds"),
    validation = Rule::new("!has(self.credentials) || (has(self.credentials.secretRef) ? !has(self.credentials.operatorManagement) : true)").message("credentials: set either operatorManagement or secretRef, not both").field_path(".credentials"),
    validation = Rule::new("!has(self.tracing) || !has(self.tracing.samplingRatio) || (self.tracing.samplingRatio >= 0.0 && self.tracing.samplingRatio <= 1.0)").message("tracing.samplingRatio must be between 0 and 1").field_path(".tracing.samplingRatio")
)]
#[serde(rename_all = "camelCase")]
pub struct MnoConnectionSpec {
    /// The platform's operator id (lowercase letters, digits and '-', at most 63). Immutable:
    /// it names the dispatch subject, the Redis keys and the correlation rows.
    #[x_kube(validation = Rule::new("self == oldSelf").message("operatorId is immutable"))]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
    )]
    pub operator_id: String,
    /// The primary SMSC endpoint.
    pub primary: EndpointSpec,
    /// The backup SMSC endpoint, used after the primary fails (see `failover`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<EndpointSpec>,
    /// Bind mode (`auto`, `transceiver`, `transmitterReceiver`) and bind parameters.
    #[serde(default)]
    pub bind: BindConfig,
    /// Binds (SMPP sessions) kept to the active endpoint at once, 1 to 16; rendered into the
    /// connector's `session.binds`. Each bind has its own window of `session.window`.
    #[serde(default = "crate::config::defaults::binds")]
    #[schemars(range(min = 1, max = 16))]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 16").message("binds must be between 1 and 16"))]
    pub binds: u32,
    /// Connector pods: 1 (the default), or 2 for an active and a standby replica that share a
    /// Lease (only the lease holder binds; the standby takes over when it expires or is
    /// released).
    #[serde(default = "defaults::replicas")]
    #[schemars(range(min = 1, max = 2))]
    #[x_kube(validation = Rule::new("self == 1 || self == 2").message("replicas must be 1 or 2"))]
    pub replicas: u32,
    /// Window and timers: enquire_link, response timeout, reconnect backoff. (The number of
    /// binds is `spec.binds`.)
    #[serde(default)]
    #[schemars(transform = defaults::without_session_binds)]
    pub session: SessionConfig,
    /// Throughput limit (TPS) shared by every replica of this operator's connector.
    #[serde(default)]
    pub throttle: ThrottleConfig,
    /// Failover to the backup and failback to the primary.
    #[serde(default)]
    pub failover: FailoverConfig,
    /// Retries of submits that failed with a retryable command_status.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Encoding policy: accepted data_codings, split method, concatenation reference size.
    #[serde(default)]
    pub encoding: EncodingConfig,
    /// Delivery receipts: the receipt id form and how long early receipts wait.
    #[serde(default)]
    pub receipts: ReceiptConfig,
    /// Where the SMPP credentials come from: operator-management-service (the default) or a
    /// Secret.
    #[serde(default)]
    pub credentials: CredentialsSpec,
    /// NATS JetStream of the platform.
    #[serde(default)]
    pub nats: NatsConfig,
    /// Redis of the platform (TPS window).
    #[serde(default)]
    pub redis: RedisConfig,
    /// PostgreSQL of the platform (correlations). Put a password in `connector.env`
    /// (from a Secret), never in this URL.
    #[serde(default)]
    pub postgres: PostgresConfig,
    /// The connector pod: image, resources, scheduling, extra environment, log settings.
    #[serde(default)]
    pub connector: ConnectorPodSpec,
    /// Distributed tracing of every message (OpenTelemetry OTLP/HTTP); off unless an
    /// endpoint is set.
    #[serde(default)]
    pub tracing: TracingConfig,
    /// Scale the connector to zero (unbinds from the SMSC) while keeping the resource.
    #[serde(default)]
    pub suspend: bool,
}

/// One SMSC endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSpec {
    /// Host name or IP address of the SMSC.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// TCP port (SMPP usually 2775, TLS often 3550).
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// TLS settings; plain TCP when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<EndpointTlsSpec>,
    /// Local source address to connect from (for SMSCs that allow-list one IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
    /// Addresses of the SMSC (CIDRs) that the connector's NetworkPolicy allows, when the
    /// controller creates NetworkPolicies: required when `host` is a name, since a
    /// NetworkPolicy matches addresses only. An IP `host` is allowed without it.
    #[serde(default, rename = "egressCIDRs", skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 16),
        inner(regex(pattern = r"^[0-9a-fA-F:.]+/[0-9]{1,3}$"))
    )]
    pub egress_cidrs: Vec<String>,
}

/// TLS of one endpoint. Certificates come from a Secret mounted into the connector pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointTlsSpec {
    /// Use TLS.
    #[serde(default = "crate::config::defaults::yes")]
    pub enabled: bool,
    /// Secret (same namespace) holding `ca.crt` (the SMSC's CA) and, for mutual TLS,
    /// `tls.crt` and `tls.key`. The system roots and no client certificate when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Whether the Secret holds a client certificate (`tls.crt` + `tls.key`) for mutual TLS.
    #[serde(default)]
    pub client_certificate: bool,
    /// Name to verify the SMSC's certificate against; the host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// Where the SMPP credentials come from. With neither field set, operator-management-service
/// with its defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSpec {
    /// operator-management-service's internal API, authenticated with a projected service
    /// account token (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_management: Option<OperatorManagementSpec>,
    /// A Secret (same namespace) whose key holds the credentials JSON in the credentials API's
    /// response format. Takes the place of operator-management-service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

impl Default for CredentialsSpec {
    fn default() -> Self {
        Self {
            operator_management: Some(OperatorManagementSpec::default()),
            secret_ref: None,
        }
    }
}

/// operator-management-service's credentials API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorManagementSpec {
    /// Base URL of operator-management-service.
    #[serde(default = "defaults::operator_management_url")]
    pub base_url: String,
    /// Audience of the projected service account token sent as the bearer token.
    #[serde(default = "defaults::token_audience")]
    pub audience: String,
    /// Request timeout in milliseconds.
    #[serde(default = "crate::config::defaults::credentials_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for OperatorManagementSpec {
    fn default() -> Self {
        Self {
            base_url: defaults::operator_management_url(),
            audience: defaults::token_audience(),
            timeout_ms: crate::config::defaults::credentials_timeout_ms(),
        }
    }
}

/// A key of a Secret in the resource's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret holding the credentials JSON.
    #[serde(default = "defaults::credentials_key")]
    pub key: String,
}

/// The connector pod.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorPodSpec {
    /// Container image; the controller's default connector image when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Image pull policy (`Always`, `IfNotPresent`, `Never`); Kubernetes' default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// CPU and memory requests and limits; 100m CPU / 64Mi requested and 128Mi limit when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Node selector of the pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Extra environment variables of the connector container (for example configuration
    /// overrides taken from Secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Log filter of the connector (tracing syntax, for example `info` or `connector=debug`).
    #[serde(default = "crate::config::defaults::log_level")]
    pub log_level: String,
}

impl Default for ConnectorPodSpec {
    fn default() -> Self {
        Self {
            image: None,
            image_pull_policy: None,
            resources: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            env: Vec::new(),
            log_level: crate::config::defaults::log_level(),
        }
    }
}

/// Defaults of the fields that exist only in the resource.
pub mod defaults {
    /// One connector pod (no standby).
    pub fn replicas() -> u32 {
        1
    }

    /// Drops `binds` from the schema of `spec.session` (properties and default): the resource
    /// spells it `spec.binds`, and the API server prunes a `session.binds` sent anyway.
    pub fn without_session_binds(schema: &mut schemars::Schema) {
        if let Some(props) = schema
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
        {
            props.remove("binds");
        }
        if let Some(default) = schema
            .get_mut("default")
            .and_then(serde_json::Value::as_object_mut)
        {
            default.remove("binds");
        }
    }

    /// operator-management-service's in-cluster URL.
    pub fn operator_management_url() -> String {
        "http://operator-management-service:8080".into()
    }
    /// Audience of the projected token for operator-management-service.
    pub fn token_audience() -> String {
        "operator-management-service".into()
    }
    /// Key of the credentials JSON in a credentials Secret.
    pub fn credentials_key() -> String {
        "credentials.json".into()
    }
}
