//! [`SimConfig`]: everything a simulator instance is started with (YAML or code).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::delay::Delay;
use super::faults::{Faults, Status, StatusParseError};
use super::message_id::{IdForm, IdStart};
use super::outcome::OutcomeMix;

/// An ESME account the simulator accepts binds from.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The system_id the ESME binds with.
    pub system_id: String,
    /// Its password.
    pub password: String,
}

impl Account {
    /// An account.
    pub fn new(system_id: impl Into<String>, password: impl Into<String>) -> Self {
        Account {
            system_id: system_id.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How receipts carry their result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptFormat {
    /// Only the standard text in short_message.
    Text,
    /// Only the TLVs receipted_message_id, message_state and network_error_code.
    Tlv,
    /// Both.
    #[default]
    Both,
}

impl std::str::FromStr for ReceiptFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "text" => Ok(ReceiptFormat::Text),
            "tlv" => Ok(ReceiptFormat::Tlv),
            "both" => Ok(ReceiptFormat::Both),
            other => Err(format!(
                "invalid receipt format `{other}`: expected text, tlv or both"
            )),
        }
    }
}

/// How the message id is written in the receipt text's `id:` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptTextId {
    /// As in the submit_sm_resp.
    #[default]
    Same,
    /// In decimal, whatever the response's form (as some SMSCs do with hex ids).
    Decimal,
}

impl std::str::FromStr for ReceiptTextId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "same" => Ok(ReceiptTextId::Same),
            "decimal" => Ok(ReceiptTextId::Decimal),
            other => Err(format!(
                "invalid receipt text id `{other}`: expected same or decimal"
            )),
        }
    }
}

/// Delivery receipts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptConfig {
    /// Whether receipts are sent at all (for messages whose registered_delivery asks).
    pub enabled: bool,
    /// Time from the submit to the receipt.
    pub delay: Delay,
    /// Shares of the outcomes.
    pub mix: OutcomeMix,
    /// Text, TLVs or both.
    pub format: ReceiptFormat,
    /// Form of the id in the receipt text.
    pub text_id: ReceiptTextId,
    /// Wait before sending again a receipt (or MO) whose deliver_sm_resp was an error.
    pub redelivery_delay: Delay,
    /// Attempts per receipt (or MO) before it is abandoned.
    pub max_attempts: u32,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        ReceiptConfig {
            enabled: true,
            delay: Delay::from_millis(100),
            mix: OutcomeMix::default(),
            format: ReceiptFormat::default(),
            text_id: ReceiptTextId::default(),
            redelivery_delay: Delay::from_millis(1000),
            max_attempts: 10,
        }
    }
}

/// At most `max` concurrent binds per system_id, as operators grant in their contracts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindLimit {
    /// Binds allowed at once per system_id.
    pub max: u32,
    /// The status of the bind response over the limit (ESME_RBINDFAIL by default; some
    /// SMSCs answer ESME_RALYBND).
    #[serde(default = "BindLimit::default_status")]
    pub status: Status,
}

impl BindLimit {
    fn default_status() -> Status {
        Status(connector::protocol::codec::CommandStatus::ESME_RBINDFAIL)
    }
}

impl std::str::FromStr for BindLimit {
    type Err = String;

    /// `MAX` or `MAX:STATUS`, e.g. `2` or `2:ESME_RALYBND`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (max, status) = match s.split_once(':') {
            Some((m, st)) => (m, Some(st)),
            None => (s, None),
        };
        let max = max
            .trim()
            .parse()
            .map_err(|_| format!("invalid bind limit `{s}`: expected MAX or MAX:STATUS"))?;
        let status = match status {
            Some(st) => st.parse().map_err(|e: StatusParseError| e.to_string())?,
            None => BindLimit::default_status(),
        };
        Ok(BindLimit { max, status })
    }
}

/// The configuration of one simulator instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// The simulator's own system_id, sent in bind responses.
    pub smsc_system_id: String,
    /// Accepted accounts; empty accepts any system_id and password.
    pub accounts: Vec<Account>,
    /// Form of message ids.
    pub message_id: IdForm,
    /// First counter value of hex/decimal ids (default 1); `random`: a random start, distinct
    /// per instance.
    pub id_start: IdStart,
    /// Seconds between the simulator's own enquire_link on a bound session; 0: never.
    pub enquire_link_secs: u64,
    /// Accepted submit_sm + data_sm per second across all sessions (fixed one-second
    /// windows); above it, ESME_RTHROTTLED. Absent: no limit.
    pub tps_limit: Option<u32>,
    /// Concurrent binds allowed per system_id (a TX + RX pair counts as two); a bind over
    /// it is refused. Absent: no limit.
    pub bind_limit: Option<BindLimit>,
    /// Keep every received submit for inspection through the handle (costs memory).
    pub capture_submits: bool,
    /// At most this many captured submits are kept (older ones are dropped).
    pub capture_limit: usize,
    /// Remember the last this many message ids for query_sm, cancel_sm and replace_sm; 0: they
    /// always fail.
    pub query_store_limit: usize,
    /// Write every PDU as a JSON line to this file (`-`: standard output).
    pub pdu_log: Option<PathBuf>,
    /// Largest PDU accepted.
    pub max_pdu_len: u32,
    /// Delivery receipts.
    pub receipts: ReceiptConfig,
    /// Faults in force at start.
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            smsc_system_id: "smsc-sim".to_owned(),
            accounts: Vec::new(),
            message_id: IdForm::default(),
            id_start: IdStart::default(),
            enquire_link_secs: 30,
            tps_limit: None,
            bind_limit: None,
            capture_submits: true,
            capture_limit: 200_000,
            query_store_limit: 100_000,
            pdu_log: None,
            max_pdu_len: connector::protocol::codec::DEFAULT_MAX_PDU_LEN,
            receipts: ReceiptConfig::default(),
            faults: Faults::default(),
        }
    }
}

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the key and position).
        source: serde_yaml::Error,
    },
}

impl SimConfig {
    /// A configuration with one account and the defaults otherwise.
    pub fn with_account(system_id: &str, password: &str) -> Self {
        SimConfig {
            accounts: vec![Account::new(system_id, password)],
            ..SimConfig::default()
        }
    }

    /// A configuration for throughput and memory measurements: one account, no submit
    /// capture, no query store, no enquire_link timer.
    pub fn for_benchmark(system_id: &str, password: &str) -> Self {
        SimConfig {
            capture_submits: false,
            query_store_limit: 0,
            enquire_link_secs: 0,
            ..SimConfig::with_account(system_id, password)
        }
    }

    /// Parses YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    /// Reads a YAML file.
    pub fn from_yaml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The enquire_link interval, if enabled.
    pub fn enquire_link_interval(&self) -> Option<Duration> {
        (self.enquire_link_secs > 0).then(|| Duration::from_secs(self.enquire_link_secs))
    }

    /// Checks a bind's credentials: `Ok` or the status to refuse it with.
    pub fn check_credentials(
        &self,
        system_id: &[u8],
        password: &[u8],
    ) -> Result<(), connector::protocol::codec::CommandStatus> {
        use connector::protocol::codec::CommandStatus;
        if self.accounts.is_empty() {
            return Ok(());
        }
        let mut known = false;
        for account in &self.accounts {
            if account.system_id.as_bytes() == system_id {
                known = true;
                if account.password.as_bytes() == password {
                    return Ok(());
                }
            }
        }
        Err(if known {
            CommandStatus::ESME_RINVPASWD
        } else {
            CommandStatus::ESME_RINVSYSID
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector::protocol::codec::CommandStatus;

    #[test]
    fn credentials_are_checked() {
        let c = SimConfig::with_account("alice", "secret");
        assert_eq!(c.check_credentials(b"alice", b"secret"), Ok(()));
        assert_eq!(
            c.check_credentials(b"alice", b"wrong"),
            Err(CommandStatus::ESME_RINVPASWD)
        );
        assert_eq!(
            c.check_credentials(b"bob", b"secret"),
            Err(CommandStatus::ESME_RINVSYSID)
        );
        assert_eq!(SimConfig::default().check_credentials(b"x", b"y"), Ok(()));
    }

    #[test]
    fn debug_redacts_passwords() {
        let c = SimConfig::with_account("alice", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = SimConfig::from_yaml("listn: 127.0.0.1:1").unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
    }
}
