//! The connector's configuration file: the contract between the controller, which renders it
//! from an `MnoConnection`, and the connector, which reads it with `--config`.
//!
//! Every key is camelCase; every key except `operatorId`, `primary` and `credentials` has a
//! default. [`ConnectorConfig::validate`] checks cross-field rules and names the offending key.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Complete configuration of one connector process (one operator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectorConfig {
    /// The platform's operator id (`[a-z0-9-]`, at most 63 characters).
    pub operator_id: String,
    /// The primary SMSC endpoint.
    pub primary: Endpoint,
    /// The backup SMSC endpoint, used after the primary fails (see `failover`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Endpoint>,
    /// How the session binds.
    #[serde(default)]
    pub bind: BindConfig,
    /// Session timers and window.
    #[serde(default)]
    pub session: SessionConfig,
    /// Failover to the backup and failback to the primary.
    #[serde(default)]
    pub failover: FailoverConfig,
    /// Throughput limit shared by every replica (Redis sliding window).
    #[serde(default)]
    pub throttle: ThrottleConfig,
    /// Retries of submits that failed with a retryable status.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Which encodings the operator accepts and how long messages are split.
    #[serde(default)]
    pub encoding: EncodingConfig,
    /// Delivery receipt handling.
    #[serde(default)]
    pub receipts: ReceiptConfig,
    /// Where SMPP credentials come from.
    pub credentials: CredentialsSource,
    /// NATS JetStream.
    #[serde(default)]
    pub nats: NatsConfig,
    /// Redis (TPS window).
    #[serde(default)]
    pub redis: RedisConfig,
    /// PostgreSQL (correlations).
    #[serde(default)]
    pub postgres: PostgresConfig,
    /// HTTP endpoints (`/health`, `/ready`, `/metrics`, `/status`).
    #[serde(default)]
    pub http: HttpConfig,
    /// Writing the session status into the MnoConnection (only inside Kubernetes).
    #[serde(default)]
    pub status_writer: StatusWriterConfig,
    /// Active/standby replicas: the lease that makes one replica active.
    #[serde(default)]
    pub lease: LeaseConfig,
    /// Logging.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Distributed tracing (OpenTelemetry OTLP); off unless an endpoint is set.
    #[serde(default)]
    pub tracing: TracingConfig,
}

/// One SMSC endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    /// Host name or IP address of the SMSC.
    pub host: String,
    /// TCP port (SMPP usually 2775, TLS often 3550).
    pub port: u16,
    /// TLS settings; plain TCP when absent or disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Local source address to connect from (for SMSCs that allow-list one IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
}

impl Endpoint {
    /// `host:port`, as reported in health events.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// TLS for one endpoint (rustls).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// Use TLS.
    #[serde(default)]
    pub enabled: bool,
    /// PEM file of the CA that signs the SMSC's certificate; the system roots when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// PEM client certificate (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// PEM private key of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// Name to verify the SMSC's certificate against; the host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// Bind mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BindMode {
    /// bind_transceiver, falling back to bind_transmitter + bind_receiver when refused.
    #[default]
    Auto,
    /// bind_transceiver only.
    Transceiver,
    /// bind_transmitter + bind_receiver on two connections.
    TransmitterReceiver,
}

/// Bind parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindConfig {
    /// `auto`, `transceiver` or `transmitterReceiver`.
    #[serde(default)]
    pub mode: BindMode,
    /// Extra command_status values of a bind_transceiver_resp that trigger the fallback to
    /// transmitter + receiver (generic_nack, ESME_RINVCMDID and ESME_RINVBNDSTS always do).
    #[serde(default)]
    pub fallback_statuses: Vec<u32>,
    /// system_type sent in binds when the credentials do not carry one.
    #[serde(default)]
    pub system_type: String,
    /// address_range sent in binds (receiver and transceiver).
    #[serde(default)]
    pub address_range: String,
}

impl Default for BindConfig {
    fn default() -> Self {
        Self {
            mode: BindMode::Auto,
            fallback_statuses: Vec::new(),
            system_type: String::new(),
            address_range: String::new(),
        }
    }
}

/// Session window and timers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionConfig {
    /// Maximum outstanding requests per session (1 to 1024); with several binds, per bind.
    #[serde(default = "defaults::window")]
    pub window: u32,
    /// Sessions (binds) kept to the active endpoint at once, 1 to 16 (the CRD's `spec.binds`).
    #[serde(default = "defaults::binds")]
    pub binds: u32,
    /// Time to wait for a response to a request, in milliseconds.
    #[serde(default = "defaults::response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// enquire_link after this many seconds without traffic.
    #[serde(default = "defaults::enquire_link_interval_seconds")]
    pub enquire_link_interval_seconds: u64,
    /// No enquire_link_resp within this many seconds: the session is dead.
    #[serde(default = "defaults::enquire_link_timeout_seconds")]
    pub enquire_link_timeout_seconds: u64,
    /// Nothing read for this many seconds: the connection is half-open and is closed.
    #[serde(default = "defaults::read_idle_timeout_seconds")]
    pub read_idle_timeout_seconds: u64,
    /// Time to wait for a bind response, in seconds.
    #[serde(default = "defaults::bind_timeout_seconds")]
    pub bind_timeout_seconds: u64,
    /// First reconnect delay in seconds (doubles on each failure).
    #[serde(default = "defaults::reconnect_initial_seconds")]
    pub reconnect_initial_seconds: u64,
    /// Largest reconnect delay in seconds.
    #[serde(default = "defaults::reconnect_max_seconds")]
    pub reconnect_max_seconds: u64,
    /// Delay between binds after the SMSC refused the credentials, in seconds.
    #[serde(default = "defaults::credentials_backoff_seconds")]
    pub credentials_backoff_seconds: u64,
    /// Largest PDU accepted from the SMSC, in bytes.
    #[serde(default = "defaults::max_pdu_bytes")]
    pub max_pdu_bytes: u32,
    /// On shutdown, how long to wait for outstanding responses before unbinding, in seconds.
    #[serde(default = "defaults::drain_timeout_seconds")]
    pub drain_timeout_seconds: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            window: defaults::window(),
            binds: defaults::binds(),
            response_timeout_ms: defaults::response_timeout_ms(),
            enquire_link_interval_seconds: defaults::enquire_link_interval_seconds(),
            enquire_link_timeout_seconds: defaults::enquire_link_timeout_seconds(),
            read_idle_timeout_seconds: defaults::read_idle_timeout_seconds(),
            bind_timeout_seconds: defaults::bind_timeout_seconds(),
            reconnect_initial_seconds: defaults::reconnect_initial_seconds(),
            reconnect_max_seconds: defaults::reconnect_max_seconds(),
            credentials_backoff_seconds: defaults::credentials_backoff_seconds(),
            max_pdu_bytes: defaults::max_pdu_bytes(),
            drain_timeout_seconds: defaults::drain_timeout_seconds(),
        }
    }
}

/// Failover and failback policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailoverConfig {
    /// Bind to the backup after this many consecutive primary failures.
    #[serde(default = "defaults::failover_after_failures")]
    pub after_failures: u32,
    /// ... or after this many seconds without a bind on the primary.
    #[serde(default = "defaults::failover_after_seconds")]
    pub after_seconds: u64,
    /// While on the backup, probe the primary every this many seconds.
    #[serde(default = "defaults::probe_interval_seconds")]
    pub probe_interval_seconds: u64,
    /// The primary must stay bound this long before traffic fails back to it.
    #[serde(default = "defaults::failback_hold_seconds")]
    pub failback_hold_seconds: u64,
    /// After a failback, keep a bind on the backup this many seconds, sending nothing, to take
    /// the receipts it still holds for messages it accepted; 0: unbind at once.
    #[serde(default = "defaults::receipt_linger_seconds")]
    pub receipt_linger_seconds: u64,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            after_failures: defaults::failover_after_failures(),
            after_seconds: defaults::failover_after_seconds(),
            probe_interval_seconds: defaults::probe_interval_seconds(),
            failback_hold_seconds: defaults::failback_hold_seconds(),
            receipt_linger_seconds: defaults::receipt_linger_seconds(),
        }
    }
}

/// Throughput limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Submits per second allowed by the operator, over all replicas; 0 means no limit.
    #[serde(default = "defaults::tps")]
    pub tps: u32,
    /// Permits taken from Redis per round trip.
    #[serde(default = "defaults::permit_batch")]
    pub permit_batch: u32,
    /// Submits per second allowed on any one bind, next to the operator-wide `tps`; 0 means
    /// no per-bind cap.
    #[serde(default)]
    pub per_bind_tps: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            tps: defaults::tps(),
            permit_batch: defaults::permit_batch(),
            per_bind_tps: 0,
        }
    }
}

/// Retry policy for retryable submit errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per segment, the first included, for retryable statuses other than
    /// ESME_RTHROTTLED / ESME_RMSGQFUL (those are resent within the validity, or without one
    /// for at most maxAttempts × maxDelayMs).
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// First retry delay in milliseconds (doubles per attempt).
    #[serde(default = "defaults::retry_initial_ms")]
    pub initial_delay_ms: u64,
    /// Largest retry delay in milliseconds.
    #[serde(default = "defaults::retry_max_ms")]
    pub max_delay_ms: u64,
    /// Longest pause after ESME_RMSGQFUL, in milliseconds: the first is 100 ms, then one
    /// probe submit; each refused probe doubles the pause up to this, each accepted submit
    /// halves it.
    #[serde(default = "defaults::queue_full_pause_ms")]
    pub queue_full_pause_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: defaults::max_attempts(),
            initial_delay_ms: defaults::retry_initial_ms(),
            max_delay_ms: defaults::retry_max_ms(),
            queue_full_pause_ms: defaults::queue_full_pause_ms(),
        }
    }
}

/// A data_coding family the operator accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Charset {
    /// GSM 03.38 default alphabet (data_coding 0x00).
    Gsm7,
    /// ISO-8859-1 (data_coding 0x03).
    Latin1,
    /// UCS-2 / UTF-16BE (data_coding 0x08).
    Ucs2,
}

/// A national language shift table of 3GPP TS 23.038.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NationalLanguage {
    /// Turkish (1).
    Turkish,
    /// Spanish (2).
    Spanish,
    /// Portuguese (3).
    Portuguese,
}

/// How long messages are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SplitMethod {
    /// Concatenation UDH in short_message (esm_class UDHI).
    #[default]
    Udh,
    /// sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs.
    Sar,
    /// One submit_sm carrying the whole text in the message_payload TLV.
    Payload,
}

/// Encoding policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncodingConfig {
    /// The data_codings the operator accepts for text.
    #[serde(default = "defaults::charsets")]
    pub accepted: Vec<Charset>,
    /// National language shift tables the operator's handsets may use (UDH IE 0x24 / 0x25).
    #[serde(default)]
    pub national_languages: Vec<NationalLanguage>,
    /// How long messages are split.
    #[serde(default)]
    pub split: SplitMethod,
    /// Size of the concatenation reference in bits: 8 (IEI 0x00) or 16 (IEI 0x08).
    #[serde(default = "defaults::reference_bits")]
    pub reference_bits: u8,
    /// Send GSM-7 packed (7 bits per character) instead of one septet per octet.
    #[serde(default)]
    pub gsm7_packed: bool,
}

impl Default for EncodingConfig {
    fn default() -> Self {
        Self {
            accepted: defaults::charsets(),
            national_languages: Vec::new(),
            split: SplitMethod::Udh,
            reference_bits: defaults::reference_bits(),
            gsm7_packed: false,
        }
    }
}

/// How the operator writes message ids in receipts compared to submit_sm_resp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReceiptIdForm {
    /// Decide from what is seen.
    #[default]
    Auto,
    /// The same string in both (compared without letter case and leading zeros).
    AsIs,
    /// submit_sm_resp id is hex, the receipt's is decimal.
    HexToDecimal,
    /// submit_sm_resp id is decimal, the receipt's is hex.
    DecimalToHex,
}

/// Whose message ids a receipt can name when the operator has a backup endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReceiptIdScope {
    /// Each endpoint numbers its own messages (two SMSC systems): a receipt names only a
    /// message submitted to the endpoint it arrives from, and each endpoint's id form is learnt
    /// on its own.
    #[default]
    Endpoint,
    /// Primary and backup are nodes of one SMSC system with one id space: a receipt from either
    /// names a message submitted to either.
    Shared,
}

/// Receipt handling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptConfig {
    /// How receipt ids compare to submit_sm_resp ids.
    #[serde(default)]
    pub id_form: ReceiptIdForm,
    /// Whether primary and backup share one message id space.
    #[serde(default)]
    pub id_scope: ReceiptIdScope,
    /// How long a receipt that matches no submit yet is kept and retried, in seconds.
    #[serde(default = "defaults::correlation_wait_seconds")]
    pub correlation_wait_seconds: u64,
    /// Publish an ACCEPTED event when the operator accepts a submit.
    #[serde(default)]
    pub publish_accepted: bool,
    /// How many receipts that match no submit yet are kept at most; past it, such receipts
    /// are published uncorrelated at once.
    #[serde(default = "defaults::max_pending")]
    pub max_pending: u64,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        Self {
            id_form: ReceiptIdForm::Auto,
            id_scope: ReceiptIdScope::Endpoint,
            correlation_wait_seconds: defaults::correlation_wait_seconds(),
            publish_accepted: false,
            max_pending: defaults::max_pending(),
        }
    }
}

/// Where SMPP credentials come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "source", deny_unknown_fields)]
pub enum CredentialsSource {
    /// operator-management-service's internal API.
    #[serde(rename_all = "camelCase")]
    OperatorManagement {
        /// Base URL, for example `http://operator-management-service:8080`.
        base_url: String,
        /// File holding the bearer token (the projected service account token in Kubernetes).
        #[serde(default = "defaults::token_file")]
        token_file: String,
        /// Request timeout in milliseconds.
        #[serde(default = "defaults::credentials_timeout_ms")]
        timeout_ms: u64,
    },
    /// A JSON file in the credentials API's response format (a mounted Secret, or local runs).
    #[serde(rename_all = "camelCase")]
    File {
        /// Path of the file.
        path: String,
    },
}

/// NATS JetStream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL.
    #[serde(default = "defaults::nats_url")]
    pub url: String,
    /// Dispatch stream (created if missing: subjects `smpp.operator.>`, file storage, work queue).
    #[serde(default = "defaults::dispatch_stream")]
    pub dispatch_stream: String,
    /// Durable consumer name; `smpp-connector-{operatorId}` when empty.
    #[serde(default)]
    pub durable: String,
    /// Subject of delivery and submit events.
    #[serde(default = "defaults::dlr_subject")]
    pub dlr_subject: String,
    /// Subject of session health events.
    #[serde(default = "defaults::health_subject")]
    pub health_subject: String,
    /// Largest number of unacknowledged dispatch commands.
    #[serde(default = "defaults::max_ack_pending")]
    pub max_ack_pending: i64,
    /// Redelivery delay of an unacknowledged command, in seconds.
    #[serde(default = "defaults::ack_wait_seconds")]
    pub ack_wait_seconds: u64,
}

impl NatsConfig {
    /// The durable consumer name of `operator_id`: `durable`, or `smpp-connector-{operatorId}`.
    pub fn durable_name(&self, operator_id: &str) -> String {
        if self.durable.is_empty() {
            format!("smpp-connector-{operator_id}")
        } else {
            self.durable.clone()
        }
    }
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: defaults::nats_url(),
            dispatch_stream: defaults::dispatch_stream(),
            durable: String::new(),
            dlr_subject: defaults::dlr_subject(),
            health_subject: defaults::health_subject(),
            max_ack_pending: defaults::max_ack_pending(),
            ack_wait_seconds: defaults::ack_wait_seconds(),
        }
    }
}

/// Redis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisConfig {
    /// Redis URL.
    #[serde(default = "defaults::redis_url")]
    pub url: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: defaults::redis_url(),
        }
    }
}

/// PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresConfig {
    /// Connection URL.
    #[serde(default = "defaults::postgres_url")]
    pub url: String,
    /// Pool size.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u32,
    /// Rows per group commit.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: u32,
    /// Longest wait for a partial batch to fill before it is committed, in milliseconds. With
    /// 0 a batch holds what queued while the previous commit ran: no added latency when quiet,
    /// full batches under load.
    #[serde(default = "defaults::batch_delay_ms")]
    pub batch_delay_ms: u64,
    /// Run the migrations at start.
    #[serde(default = "defaults::yes")]
    pub migrate: bool,
    /// Days a correlation row is kept; older rows of this operator are deleted hourly, in
    /// small batches. 0 keeps them forever (retention managed outside the connector).
    #[serde(default = "defaults::retention_days")]
    pub retention_days: u32,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: defaults::postgres_url(),
            max_connections: defaults::max_connections(),
            batch_size: defaults::batch_size(),
            batch_delay_ms: defaults::batch_delay_ms(),
            migrate: true,
            retention_days: defaults::retention_days(),
        }
    }
}

/// HTTP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address of `/health`, `/ready`, `/metrics` and `/status`.
    #[serde(default = "defaults::http_address")]
    pub address: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            address: defaults::http_address(),
        }
    }
}

/// The connector's own status writes into its MnoConnection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusWriterConfig {
    /// Write the session status (off outside Kubernetes).
    #[serde(default)]
    pub enabled: bool,
    /// Namespace of the MnoConnection.
    #[serde(default)]
    pub namespace: String,
    /// Name of the MnoConnection.
    #[serde(default)]
    pub name: String,
}

/// Where the active replica's lease is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LeaseBackend {
    /// No lease: this replica is always active (one replica per operator).
    #[default]
    None,
    /// A `coordination.k8s.io/v1` Lease (inside Kubernetes).
    Kubernetes,
    /// PostgreSQL (the connector's own database), for use without Kubernetes.
    Postgres,
}

/// The active/standby lease: only its holder binds and pulls dispatch commands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaseConfig {
    /// Where the lease is kept.
    #[serde(default)]
    pub backend: LeaseBackend,
    /// Name of the lease; empty: `smpp-connector-{operatorId}`.
    #[serde(default)]
    pub name: String,
    /// Namespace of the Kubernetes Lease; empty: the `POD_NAMESPACE` environment variable.
    #[serde(default)]
    pub namespace: String,
    /// This replica's identity; empty: the `POD_NAME` environment variable, else host and pid.
    #[serde(default)]
    pub identity: String,
    /// A lease not renewed for this many seconds may be taken by another replica.
    #[serde(default = "defaults::lease_duration_seconds")]
    pub duration_seconds: u64,
    /// The holder renews every this many seconds.
    #[serde(default = "defaults::lease_renew_seconds")]
    pub renew_seconds: u64,
    /// A standby tries to take the lease every this many seconds.
    #[serde(default = "defaults::lease_retry_seconds")]
    pub retry_seconds: u64,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            backend: LeaseBackend::None,
            name: String::new(),
            namespace: String::new(),
            identity: String::new(),
            duration_seconds: defaults::lease_duration_seconds(),
            renew_seconds: defaults::lease_renew_seconds(),
            retry_seconds: defaults::lease_retry_seconds(),
        }
    }
}

/// Distributed tracing: spans of every command and receipt exported with OTLP over HTTP.
/// The standard `OTEL_*` environment variables apply as well (an `OTEL_EXPORTER_OTLP_ENDPOINT`
/// switches tracing on; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` off).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TracingConfig {
    /// OTLP/HTTP endpoint of the collector, for example `http://otel-collector:4318`
    /// (`/v1/traces` is appended); empty: off (unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set).
    #[serde(default)]
    pub endpoint: String,
    /// The share of new traces sampled, 0 to 1; a command whose `traceparent` says sampled
    /// is always traced.
    #[serde(default = "defaults::sampling_ratio")]
    pub sampling_ratio: f64,
    /// `protobuf` or `json` (OTLP/HTTP encodings).
    #[serde(default)]
    pub protocol: OtlpProtocol,
}

impl Default for TracingConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            sampling_ratio: defaults::sampling_ratio(),
            protocol: OtlpProtocol::default(),
        }
    }
}

/// OTLP over HTTP: binary protobuf (the default of collectors) or JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OtlpProtocol {
    /// `application/x-protobuf`.
    #[default]
    Protobuf,
    /// `application/json`.
    Json,
}

/// Log output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, text otherwise.
    #[default]
    Auto,
    /// JSON lines.
    Json,
    /// Readable text.
    Text,
}

/// Logging.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoggingConfig {
    /// `auto`, `json` or `text`.
    #[serde(default)]
    pub format: LogFormat,
    /// tracing filter, for example `info` or `connector=debug,info`.
    #[serde(default = "defaults::log_level")]
    pub level: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: defaults::log_level(),
        }
    }
}

/// One problem found in a configuration: the key (dotted path) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the key, for example `session.window`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Whether `id` is a valid operator id (DNS label: `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`).
pub fn is_valid_operator_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

impl ConnectorConfig {
    /// Parses a YAML document (no validation beyond the types).
    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    /// Checks the rules that the types cannot express; an empty list means valid.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        let mut bad = |key: &str, message: String| {
            p.push(ConfigProblem {
                key: key.to_string(),
                message,
            })
        };
        if !is_valid_operator_id(&self.operator_id) {
            bad(
                "operatorId",
                format!(
                    "{:?} is not a valid operator id (lowercase letters, digits and '-', at most 63)",
                    self.operator_id
                ),
            );
        }
        for (key, ep) in [
            ("primary", Some(&self.primary)),
            ("backup", self.backup.as_ref()),
        ] {
            let Some(ep) = ep else { continue };
            if ep.host.trim().is_empty() {
                bad(&format!("{key}.host"), "must not be empty".into());
            }
            if ep.port == 0 {
                bad(&format!("{key}.port"), "must be between 1 and 65535".into());
            }
            if let Some(tls) = &ep.tls {
                if tls.cert_file.is_some() != tls.key_file.is_some() {
                    bad(
                        &format!("{key}.tls"),
                        "certFile and keyFile must be given together".into(),
                    );
                }
            }
        }
        if let Some(b) = &self.backup {
            if b.host == self.primary.host && b.port == self.primary.port {
                bad("backup", "must differ from primary".into());
            }
        }
        let s = &self.session;
        if !(1..=1024).contains(&s.window) {
            bad(
                "session.window",
                format!("{} is out of range 1..=1024", s.window),
            );
        }
        if !(1..=16).contains(&s.binds) {
            bad(
                "session.binds",
                format!("{} is out of range 1..=16", s.binds),
            );
        }
        let t = self.tracing.sampling_ratio;
        if !(0.0..=1.0).contains(&t) {
            bad(
                "tracing.samplingRatio",
                format!("{t} is out of range 0..=1"),
            );
        }
        let l = &self.lease;
        if l.renew_seconds == 0 {
            bad("lease.renewSeconds", "must be positive".into());
        }
        if l.retry_seconds == 0 {
            bad("lease.retrySeconds", "must be positive".into());
        }
        let min_duration = (3 * l.renew_seconds).max(6);
        if l.duration_seconds < min_duration {
            bad(
                "lease.durationSeconds",
                format!(
                    "{} is too short: at least 6 and 3 x renewSeconds ({min_duration}), so that \
                     a holder that cannot renew has unbound before the lease expires",
                    l.duration_seconds
                ),
            );
        }
        if s.response_timeout_ms == 0 {
            bad("session.responseTimeoutMs", "must be positive".into());
        }
        if s.enquire_link_interval_seconds == 0 {
            bad(
                "session.enquireLinkIntervalSeconds",
                "must be positive".into(),
            );
        }
        if s.enquire_link_timeout_seconds == 0 {
            bad(
                "session.enquireLinkTimeoutSeconds",
                "must be positive".into(),
            );
        }
        if s.reconnect_initial_seconds == 0 {
            bad("session.reconnectInitialSeconds", "must be positive".into());
        }
        if s.reconnect_max_seconds < s.reconnect_initial_seconds {
            bad(
                "session.reconnectMaxSeconds",
                "must be at least reconnectInitialSeconds".into(),
            );
        }
        if !(64..=16 * 1024 * 1024).contains(&s.max_pdu_bytes) {
            bad(
                "session.maxPduBytes",
                format!("{} is out of range 64..=16777216", s.max_pdu_bytes),
            );
        }
        if self.failover.after_failures == 0 {
            bad("failover.afterFailures", "must be at least 1".into());
        }
        if self.throttle.tps > 100_000 {
            bad(
                "throttle.tps",
                format!("{} is out of range 0..=100000", self.throttle.tps),
            );
        }
        if self.throttle.permit_batch == 0 {
            bad("throttle.permitBatch", "must be at least 1".into());
        }
        if self.retry.max_attempts == 0 {
            bad("retry.maxAttempts", "must be at least 1".into());
        }
        if self.encoding.accepted.is_empty() {
            bad("encoding.accepted", "must name at least one charset".into());
        }
        if !self.encoding.accepted.contains(&Charset::Ucs2)
            && !self.encoding.accepted.contains(&Charset::Gsm7)
        {
            bad(
                "encoding.accepted",
                "must contain gsm7 or ucs2 so that text can be sent".into(),
            );
        }
        if self.encoding.reference_bits != 8 && self.encoding.reference_bits != 16 {
            bad(
                "encoding.referenceBits",
                format!("{} must be 8 or 16", self.encoding.reference_bits),
            );
        }
        match &self.credentials {
            CredentialsSource::OperatorManagement {
                base_url,
                token_file,
                ..
            } => {
                if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                    bad(
                        "credentials.baseUrl",
                        format!("{base_url:?} is not an http(s) URL"),
                    );
                }
                if token_file.is_empty() {
                    bad("credentials.tokenFile", "must not be empty".into());
                }
            }
            CredentialsSource::File { path } => {
                if path.is_empty() {
                    bad("credentials.path", "must not be empty".into());
                }
            }
        }
        if self.postgres.batch_size == 0 {
            bad("postgres.batchSize", "must be at least 1".into());
        }
        if self.http.address.parse::<std::net::SocketAddr>().is_err() {
            bad(
                "http.address",
                format!("{:?} is not an ip:port address", self.http.address),
            );
        }
        if self.status_writer.enabled
            && (self.status_writer.namespace.is_empty() || self.status_writer.name.is_empty())
        {
            bad(
                "statusWriter",
                "namespace and name are required when enabled".into(),
            );
        }
        p
    }

    /// The durable consumer name.
    pub fn durable_name(&self) -> String {
        self.nats.durable_name(&self.operator_id)
    }

    /// The dispatch subject of this operator.
    pub fn dispatch_subject(&self) -> String {
        format!("smpp.operator.{}", self.operator_id)
    }
}

/// Default values, shared with the MnoConnection schema.
pub mod defaults {
    pub fn window() -> u32 {
        64
    }
    pub fn binds() -> u32 {
        1
    }
    pub fn sampling_ratio() -> f64 {
        0.1
    }
    pub fn lease_duration_seconds() -> u64 {
        8
    }
    pub fn lease_renew_seconds() -> u64 {
        2
    }
    pub fn lease_retry_seconds() -> u64 {
        1
    }
    pub fn response_timeout_ms() -> u64 {
        10_000
    }
    pub fn enquire_link_interval_seconds() -> u64 {
        30
    }
    pub fn enquire_link_timeout_seconds() -> u64 {
        10
    }
    pub fn read_idle_timeout_seconds() -> u64 {
        90
    }
    pub fn bind_timeout_seconds() -> u64 {
        10
    }
    pub fn reconnect_initial_seconds() -> u64 {
        5
    }
    pub fn reconnect_max_seconds() -> u64 {
        60
    }
    pub fn credentials_backoff_seconds() -> u64 {
        300
    }
    pub fn max_pdu_bytes() -> u32 {
        65_536
    }
    pub fn drain_timeout_seconds() -> u64 {
        15
    }
    pub fn failover_after_failures() -> u32 {
        3
    }
    pub fn failover_after_seconds() -> u64 {
        120
    }
    pub fn probe_interval_seconds() -> u64 {
        30
    }
    pub fn failback_hold_seconds() -> u64 {
        60
    }
    pub fn receipt_linger_seconds() -> u64 {
        300
    }
    pub fn tps() -> u32 {
        100
    }
    pub fn permit_batch() -> u32 {
        10
    }
    pub fn max_attempts() -> u32 {
        5
    }
    pub fn retry_initial_ms() -> u64 {
        1_000
    }
    pub fn retry_max_ms() -> u64 {
        60_000
    }
    pub fn queue_full_pause_ms() -> u64 {
        1_000
    }
    pub fn charsets() -> Vec<super::Charset> {
        vec![super::Charset::Gsm7, super::Charset::Ucs2]
    }
    pub fn reference_bits() -> u8 {
        8
    }
    pub fn max_pending() -> u64 {
        100_000
    }

    pub fn correlation_wait_seconds() -> u64 {
        300
    }
    pub fn token_file() -> String {
        "/var/run/secrets/tokens/operator-management".into()
    }
    pub fn credentials_timeout_ms() -> u64 {
        5_000
    }
    pub fn nats_url() -> String {
        "nats://127.0.0.1:4222".into()
    }
    pub fn dispatch_stream() -> String {
        "SMPP_DISPATCH".into()
    }
    pub fn dlr_subject() -> String {
        "sms.dlr.inbound".into()
    }
    pub fn health_subject() -> String {
        "operator.health".into()
    }
    pub fn max_ack_pending() -> i64 {
        1_024
    }
    pub fn ack_wait_seconds() -> u64 {
        60
    }
    pub fn redis_url() -> String {
        "redis://127.0.0.1:6379".into()
    }
    pub fn postgres_url() -> String {
        "postgres://postgres@127.0.0.1:5432/postgres".into()
    }
    pub fn max_connections() -> u32 {
        8
    }
    pub fn batch_size() -> u32 {
        256
    }
    pub fn batch_delay_ms() -> u64 {
        0
    }
    pub fn retention_days() -> u32 {
        30
    }
    pub fn yes() -> bool {
        true
    }
    pub fn http_address() -> String {
        "0.0.0.0:8080".into()
    }
    pub fn log_level() -> String {
        "info".into()
    }
}
